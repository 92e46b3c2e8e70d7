package io.nowconnect.e2e;

import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.testkit.Harness.awaitReady;
import static io.nowconnect.testkit.Harness.client;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A hub that accepts smaller messages than the agent would send (NC_HUB_MAX_FRAME_BYTES=20000, NC_MAX_WS_PAYLOAD=65536,
 * so JSON DATA): with the {@code limits} capability the agent learns the hub's limit from the ack and shrinks its DATA
 * frames, so a large transfer neither closes the tunnel with 1009 nor resets any stream.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class FrameLimitTest {
    @Test
    void theAgentKeepsItsFramesWithinTheHubsLimit(Harness harness) throws Exception {
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub(0, Map.of("NC_HUB_MAX_FRAME_BYTES", "20000"), "echo");
        Map<String, String> vars = new java.util.HashMap<>(harness.agentVars(hub.port(), Map.of("echo", echo.port())));
        vars.put("NC_MAX_WS_PAYLOAD", "65536");
        Agent agent = harness.startAgent(vars);
        awaitReady(agent, Duration.ofSeconds(10));
        long connects = agent.status().connects();

        byte[] data = new byte[2 << 20];
        new Random(7).nextBytes(data);
        int port = hub.listenerPorts().get("echo");
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try (Socket s = client(port)) {
            Future<byte[]> reply = pool.submit(() -> Harness.readAll(s));
            Harness.sendAndFinish(s, data);
            assertArrayEquals(data, reply.get(30, TimeUnit.SECONDS), "2 MiB echoed intact through a 20000-byte hub limit");
        } finally {
            pool.shutdownNow();
        }
        assertEquals(connects, agent.status().connects(), "the tunnel was never closed (no 1009, no reconnect)");
    }
}
