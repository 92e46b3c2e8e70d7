package io.nowconnect.hub;

import java.net.Socket;
import java.net.http.HttpResponse;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static io.nowconnect.hub.HubProtocolTest.get;
import static io.nowconnect.hub.HubProtocolTest.random;
import static io.nowconnect.hub.HubProtocolTest.sum;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The hub's HTTP side: {@code /healthz}, {@code /readyz}, {@code /metrics}, and nothing else. */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubEndpointsTest {
    @Test
    void healthAndReadiness(Harness harness) throws Exception {
        Hub hub = harness.startHub("probe-a", "probe-b");
        assertTrue(hub.ready());
        assertEquals(200, get(hub.port(), "/healthz").statusCode());
        HttpResponse<String> ready = get(hub.port(), "/readyz");
        assertEquals(200, ready.statusCode());
        assertTrue(ready.body().contains("\"status\":\"UP\""), ready.body());
    }

    @Test
    void onlyTheDocumentedPathsAreServed(Harness harness) throws Exception {
        Hub hub = harness.startHub("paths");
        for (String path : new String[] {"/observe/health", "/observe/metrics", "/health", "/health/live",
                                         "/metrics/nope", "/openapi", "/"}) {
            assertEquals(404, get(hub.port(), path).statusCode(), path);
        }
    }

    @Test
    void metricsCountAgentsStreamsAndBytesPerConnector(Harness harness) throws Exception {
        Hub hub = harness.startHub("metered");
        String text = get(hub.port(), "/metrics").body();
        assertTrue(text.contains("nowconnect_hub_agents_connected"), text);
        assertEquals(0, sum(text, "nowconnect_hub_agents_connected"), "no agent yet");
        double streams = sum(text, "nowconnect_hub_streams_total", "connector", "metered", "result", "ok");
        double c2a = sum(text, "nowconnect_hub_bytes_total", "connector", "metered", "direction", "c2a");
        double a2c = sum(text, "nowconnect_hub_bytes_total", "connector", "metered", "direction", "a2c");

        EchoServer echo = harness.echo();
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("metered", echo.port())));
        Harness.awaitReady(agent, WAIT);
        assertEquals(1, sum(get(hub.port(), "/metrics").body(), "nowconnect_hub_agents_connected"));

        byte[] payload = random(10_000, 3);
        try (Socket client = Harness.client(hub.listenerPorts().get("metered"))) {
            client.getOutputStream().write(payload);
            assertArrayEquals(payload, HubProtocolTest.readExactly(client.getInputStream(), payload.length));
            assertEquals(1, sum(get(hub.port(), "/metrics").body(), "nowconnect_hub_streams_active",
                                "connector", "metered"));
            client.shutdownOutput();
            assertEquals(-1, client.getInputStream().read());
        }
        Harness.await(WAIT, () -> hub.tunnelStreamCounts("metered").getFirst() == 0, "stream ended");
        text = get(hub.port(), "/metrics").body();
        assertEquals(streams + 1, sum(text, "nowconnect_hub_streams_total", "connector", "metered", "result", "ok"), text);
        assertEquals(0, sum(text, "nowconnect_hub_streams_active", "connector", "metered"));
        assertEquals(c2a + payload.length, sum(text, "nowconnect_hub_bytes_total", "connector", "metered",
                                               "direction", "c2a"));
        assertEquals(a2c + payload.length, sum(text, "nowconnect_hub_bytes_total", "connector", "metered",
                                               "direction", "a2c"));
    }
}
