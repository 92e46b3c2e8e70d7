package io.nowconnect.health;

import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.helidon.common.media.type.MediaTypes;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.Metrics;
import io.helidon.metrics.providers.micrometer.MicrometerPrometheusFormatter;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.Http1ClientResponse;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.testing.junit5.ServerTest;
import io.helidon.webserver.testing.junit5.SetUpServer;

import io.nowconnect.tunnel.TunnelStatus;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code GET /metrics} served by {@link MetricsScrape} (the whole registry, scraped once) answers what Helidon's own
 * formatter answers for the same registry, and every other request (a selection, JSON, nothing acceptable) still gets
 * Helidon's answer. The agent's endpoint as configured in production, on a free loopback port.
 */
@ServerTest
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MetricsScrapeTest {
    /** A sample line: name and labels (the value is left out: gauges move between two scrapes). */
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*(\\{[^}]*})?) ", Pattern.MULTILINE);

    private final Http1Client client;

    MetricsScrapeTest(Http1Client client) {
        this.client = client;
    }

    @SetUpServer
    static void server(WebServerConfig.Builder server) {
        HttpEndpoint.configure(server, TunnelStatus.create("wss://hub.example.com/tunnel"), () -> true);
    }

    @Test
    void theWholeScrapeHasTheSeriesHelidonsFormatterGives() {
        Counter c = Metrics.globalRegistry().getOrCreate(Counter.builder("nowconnect_scrape_test_total")
                                                                 .tags(java.util.List.of(io.helidon.metrics.api.Tag
                                                                         .create("connector", "ldap"))));
        c.increment(3);
        String ours;
        try (Http1ClientResponse res = client.get("/metrics").request()) {
            assertEquals(Status.OK_200, res.status());
            assertEquals("text/plain", res.headers().contentType().map(t -> t.mediaType().text()).orElse(""));
            assertEquals("no-cache", res.headers().first(HeaderNames.CACHE_CONTROL).orElse(""));
            ours = res.as(String.class);
        }
        String helidons = MicrometerPrometheusFormatter.builder(Metrics.globalRegistry())
                .resultMediaType(MediaTypes.TEXT_PLAIN).build().format().orElseThrow().toString();
        assertTrue(ours.contains("nowconnect_scrape_test_total{connector=\"ldap\",scope=\"application\",} 3.0"), ours);
        Set<String> mine = series(ours);
        assertTrue(mine.size() > 20, "JVM and process meters are there too: " + mine);
        assertEquals(series(helidons), mine);
        assertEquals(typeLines(helidons), typeLines(ours));
    }

    @Test
    void openMetricsWhenAsked() {
        try (Http1ClientResponse res = client.get("/metrics").accept(MediaTypes.APPLICATION_OPENMETRICS_TEXT).request()) {
            assertEquals(Status.OK_200, res.status());
            assertEquals("application/openmetrics-text",
                         res.headers().contentType().map(t -> t.mediaType().text()).orElse(""));
            assertTrue(res.as(String.class).stripTrailing().endsWith("# EOF"));
        }
    }

    @Test
    void aSelectionJsonAndTheUnacceptableGoOnToHelidon() {
        Metrics.globalRegistry().getOrCreate(Counter.builder("nowconnect_scrape_test_total")
                                                     .tags(java.util.List.of(io.helidon.metrics.api.Tag
                                                             .create("connector", "ldap"))));
        try (Http1ClientResponse res = client.get("/metrics").queryParam("name", "nowconnect_scrape_test_total")
                .request()) {
            assertEquals(Status.OK_200, res.status());
            Set<String> names = new TreeSet<>();
            series(res.as(String.class)).forEach(s -> names.add(s.replaceAll("\\{.*", "")));
            assertEquals(Set.of("nowconnect_scrape_test_total"), names);
        }
        try (Http1ClientResponse res = client.get("/metrics").accept(MediaTypes.APPLICATION_JSON).request()) {
            assertEquals(Status.OK_200, res.status());
            assertTrue(res.as(String.class).trim().startsWith("{"));
        }
        try (Http1ClientResponse res = client.get("/metrics").accept(MediaTypes.create("image/png")).request()) {
            assertEquals(Status.NOT_ACCEPTABLE_406, res.status());
        }
    }

    private static Set<String> series(String text) {
        Set<String> out = new TreeSet<>();
        Matcher m = SAMPLE.matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        assertFalse(out.isEmpty(), text);
        return out;
    }

    private static Set<String> typeLines(String text) {
        Set<String> out = new TreeSet<>();
        text.lines().filter(l -> l.startsWith("# TYPE")).forEach(out::add);
        return out;
    }
}
