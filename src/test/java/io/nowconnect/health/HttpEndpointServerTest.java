package io.nowconnect.health;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.Http1ClientResponse;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.testing.junit5.ServerTest;
import io.helidon.webserver.testing.junit5.SetUpServer;

import io.nowconnect.tunnel.TunnelStatus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's HTTP endpoint ({@link HttpEndpoint}) exactly as configured in production, started by Helidon's
 * {@code @ServerTest} on a free loopback port, with the client it injects: {@code /readyz} while no tunnel is ready,
 * {@code /healthz} following the supervisor, {@code /metrics} in both formats, and nothing else served.
 */
@ServerTest
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HttpEndpointServerTest {
    private static final TunnelStatus STATUS = TunnelStatus.create("wss://hub.example.com/tunnel");
    private static final AtomicBoolean ALIVE = new AtomicBoolean(true);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Http1Client client;

    HttpEndpointServerTest(Http1Client client) {
        this.client = client;
    }

    @SetUpServer
    static void server(WebServerConfig.Builder server) {
        HttpEndpoint.configure(server, STATUS, ALIVE::get);
    }

    @Test
    void readyzIs503WithItsJsonWhileNoTunnelIsReady() throws Exception {
        try (Http1ClientResponse res = client.get("/readyz").request()) {
            assertEquals(Status.SERVICE_UNAVAILABLE_503, res.status());
            assertEquals("no-store", res.headers().first(HeaderNames.CACHE_CONTROL).orElse(""));
            JsonNode body = JSON.readTree(res.as(String.class));
            assertFalse(body.get("ready").asBoolean());
            assertEquals("wss://hub.example.com/tunnel", body.get("hub").asText());
            assertEquals(0, body.get("ready_tunnels").asInt());
            assertTrue(body.get("replicas").isArray());
        }
    }

    @Test
    void healthzFollowsTheSupervisor() throws Exception {
        try (Http1ClientResponse res = client.get("/healthz").request()) {
            assertEquals(Status.OK_200, res.status());
            assertEquals("UP", JSON.readTree(res.as(String.class)).get("status").asText());
        }
        ALIVE.set(false);
        try (Http1ClientResponse res = client.get("/healthz").request()) {
            assertEquals(Status.SERVICE_UNAVAILABLE_503, res.status());
            assertEquals("stopped", JSON.readTree(res.as(String.class)).at("/checks/0/data/supervisor").asText());
        } finally {
            ALIVE.set(true);
        }
    }

    @Test
    void metricsInPrometheusTextAndJson() throws Exception {
        try (Http1ClientResponse res = client.get("/metrics").request()) {
            assertEquals(Status.OK_200, res.status());
            assertTrue(res.headers().contentType().map(t -> t.text().startsWith("text/plain")).orElse(false),
                       res.headers().toString());
        }
        try (Http1ClientResponse res = client.get("/metrics").header(HeaderNames.ACCEPT, "application/json").request()) {
            assertEquals(Status.OK_200, res.status());
            assertTrue(JSON.readTree(res.as(String.class)).isObject());
        }
    }

    @Test
    void nothingElseIsServed() {
        for (String path : new String[] {"/", "/observe/health", "/health", "/readyz/x", "/tunnel"}) {
            try (Http1ClientResponse res = client.get(path).request()) {
                assertEquals(Status.NOT_FOUND_404, res.status(), path);
            }
        }
    }
}
