package io.nowconnect.health;

import java.util.Optional;

import io.helidon.common.media.type.MediaType;
import io.helidon.common.media.type.MediaTypes;
import io.helidon.http.HeaderValues;
import io.helidon.http.HttpMediaType;
import io.helidon.metrics.api.MeterRegistry;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.prometheus.client.exporter.common.TextFormat;

/**
 * {@code GET /metrics} without a selection: the whole Prometheus registry, scraped once.
 *
 * <p>Helidon 4.2.0's formatter first works out which meter names to ask the registry for, and searches the whole
 * registry once per meter: a scrape of the hub's few hundred meters allocated about 19 MB and took a young collection
 * of its own (measured with JFR while {@code NoisyNeighbourTest} scraped every 200 ms), and the cost grows with the
 * square of the meters. Helidon 4.3 skips that search when nothing is selected (helidon-io/helidon#10850); this route
 * does the same on 4.2.0. A request that selects ({@code ?scope=}, {@code ?name=}) or asks for JSON goes on to
 * Helidon's metrics observer, which registers after this route (its feature's weight is lower).
 *
 * <p>Same answer as Helidon's: {@code text/plain} (Prometheus 0.0.4) or {@code application/openmetrics-text} by the
 * {@code Accept} header, {@code Cache-Control: no-cache}.
 */
final class MetricsScrape implements Handler {
    private final MeterRegistry registry;

    private MetricsScrape(MeterRegistry registry) {
        this.registry = registry;
    }

    /**
     * Add the route for {@code /metrics} to a routing that also gets {@link Observe}'s feature.
     *
     * @param routing routing builder
     * @param registry the registry the observer serves
     */
    static void route(HttpRouting.Builder routing, MeterRegistry registry) {
        routing.get("/metrics", new MetricsScrape(registry));
    }

    @Override
    public void handle(ServerRequest req, ServerResponse res) {
        Optional<PrometheusMeterRegistry> prometheus = prometheus(registry);
        if (prometheus.isEmpty() || !req.query().isEmpty()) {
            res.next();
            return;
        }
        MediaType type = req.headers().bestAccepted(MediaTypes.TEXT_PLAIN, MediaTypes.APPLICATION_OPENMETRICS_TEXT,
                                                    MediaTypes.APPLICATION_JSON).orElse(null);
        String format;
        if (MediaTypes.TEXT_PLAIN.equals(type)) {
            format = TextFormat.CONTENT_TYPE_004;
        } else if (MediaTypes.APPLICATION_OPENMETRICS_TEXT.equals(type)) {
            format = TextFormat.CONTENT_TYPE_OPENMETRICS_100;
        } else {
            // JSON, or nothing acceptable (406): Helidon's answer
            res.next();
            return;
        }
        res.header(HeaderValues.CACHE_NO_CACHE);
        res.headers().contentType(HttpMediaType.create(type));
        res.send(prometheus.get().scrape(format));
    }

    /** The Prometheus registry inside Helidon's (as Helidon's formatter finds it). */
    private static Optional<PrometheusMeterRegistry> prometheus(MeterRegistry registry) {
        if (registry.unwrap(io.micrometer.core.instrument.MeterRegistry.class) instanceof CompositeMeterRegistry c) {
            return c.getRegistries().stream().filter(PrometheusMeterRegistry.class::isInstance).findFirst()
                    .map(PrometheusMeterRegistry.class::cast);
        }
        return Optional.empty();
    }
}
