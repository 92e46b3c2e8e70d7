package io.nowconnect.health;

import java.util.List;

import io.helidon.metrics.api.Metrics;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.observe.ObserveFeature;
import io.helidon.webserver.observe.metrics.MetricsObserver;

/**
 * Helidon's observe feature as the agent and the hub serve it: {@code /metrics} at the root and nothing else (no
 * discovered observers, no {@code /observe} prefix). {@code /healthz} and {@code /readyz} are {@link Probes}, so that
 * HTTP/1.0 checks get them too.
 */
public final class Observe {
    private Observe() {
    }

    /**
     * The fast path of {@code GET /metrics} ({@link MetricsScrape}): add it to the routing of the listener that gets
     * the feature.
     *
     * @param routing routing builder
     * @return the builder
     */
    public static HttpRouting.Builder scrape(HttpRouting.Builder routing) {
        MetricsScrape.route(routing, Metrics.globalRegistry());
        return routing;
    }

    /**
     * The feature on the default listener.
     *
     * @return observe feature to add to a server built with {@code featuresDiscoverServices(false)}
     */
    public static ObserveFeature metrics() {
        return metrics(io.helidon.webserver.WebServer.DEFAULT_SOCKET_NAME);
    }

    /**
     * The feature on one named listener.
     *
     * @param socket the listener's name ({@code @default}, or a name given to {@code putSocket})
     * @return observe feature to add to a server built with {@code featuresDiscoverServices(false)}
     */
    public static ObserveFeature metrics(String socket) {
        return ObserveFeature.builder()
                .observersDiscoverServices(false)
                .endpoint("/")
                .sockets(List.of(socket))
                // the registry the meters live in: without it, Helidon replaces the global registry
                .addObserver(MetricsObserver.builder().endpoint("/metrics").meterRegistry(Metrics.globalRegistry()).build())
                .build();
    }
}
