package io.nowconnect.hub;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static io.nowconnect.hub.HubProtocolTest.awaitMetric;
import static io.nowconnect.hub.HubProtocolTest.goodToken;
import static io.nowconnect.hub.HubProtocolTest.metric;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The hub's client limits at its listeners: per connector (default: half of {@code NC_HUB_MAX_CONNECTIONS} with
 * several listeners), per client address, the clients that wait for an agent ({@code NC_HUB_AGENT_WAIT_MS}) counted
 * against them, and {@code NC_HUB_REQUIRE_BIN1}.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class HubClientLimitsTest {
    private static final String STREAMS = "nowconnect_hub_streams_total";

    @Test
    void idleClientsOfOneConnectorLeaveTheOtherConnectorServed(Harness harness) throws Exception {
        // the case: 40 idle sockets on a with NC_HUB_MAX_CONNECTIONS=40 served 0 of 10 clients of b
        Hub hub = harness.startHub(0, Map.of("NC_HUB_MAX_CONNECTIONS", "40"), "a", "b");
        EchoServer echo = harness.echo();
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("a", echo.port(), "b", echo.port())));
        Harness.awaitReady(agent, WAIT);
        double before = metric(hub.port(), STREAMS, "connector", "a", "result", "max_connections_per_connector");
        List<Socket> idle = new ArrayList<>();
        try {
            for (int i = 0; i < 40; i++) {
                idle.add(Harness.client(hub.listenerPorts().get("a")));
            }
            // the default per-connector limit with two listeners: half of NC_HUB_MAX_CONNECTIONS
            awaitMetric(hub.port(), before + 20, STREAMS, "connector", "a", "result", "max_connections_per_connector");
            Harness.await(WAIT, () -> hub.tunnelStreamCounts("a").getFirst() == 20, "20 streams of a");
            int served = 0;
            for (int i = 0; i < 10; i++) {
                try (Socket c = Harness.client(hub.listenerPorts().get("b"))) {
                    served += echoes(c, "b" + i) ? 1 : 0;
                }
            }
            assertEquals(10, served, "clients of b served while a's clients hold their share");
            assertEquals(before + 20, metric(hub.port(), STREAMS, "connector", "a", "result",
                                             "max_connections_per_connector"));
        } finally {
            for (Socket s : idle) {
                s.close();
            }
        }
        Harness.await(WAIT, () -> gauge(hub, "nowconnect_hub_client_connections") == 0, "every connection given back");
    }

    @Test
    void perClientLimitRefusesTheEleventhSocketOfOneAddressOnly(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_MAX_CONNECTIONS_PER_CLIENT", "10"), "svc");
        EchoServer echo = harness.echo();
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("svc", echo.port())));
        Harness.awaitReady(agent, WAIT);
        int port = hub.listenerPorts().get("svc");
        double before = metric(hub.port(), STREAMS, "connector", "svc", "result", "max_connections_per_client");
        List<Socket> ten = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                Socket c = Harness.client(port);
                ten.add(c);
                assertTrue(echoes(c, "one" + i), "socket " + (i + 1) + " of 127.0.0.1 served");
            }
            try (Socket eleventh = Harness.client(port)) {
                assertTrue(!echoes(eleventh, "x"), "the 11th socket of 127.0.0.1 is refused");
            }
            awaitMetric(hub.port(), before + 1, STREAMS, "connector", "svc", "result", "max_connections_per_client");
            try (Socket other = from("127.0.0.2", port)) {
                assertTrue(echoes(other, "other"), "127.0.0.2 is served meanwhile");
            }
            // 127.0.0.2's entry goes once its stream has ended (the hub sees the close a moment later)
            Harness.await(WAIT, () -> gauge(hub, "nowconnect_hub_client_addresses") == 1.0, "one address holds connections");
            // one socket of 127.0.0.1 ends: the address may open one again
            ten.removeFirst().close();
            Harness.await(WAIT, () -> gauge(hub, "nowconnect_hub_client_connections") == 9, "slot given back");
            try (Socket again = Harness.client(port)) {
                assertTrue(echoes(again, "again"), "room again for 127.0.0.1");
            }
        } finally {
            for (Socket s : ten) {
                s.close();
            }
        }
        // bounded bookkeeping: an address's entry goes when its last connection ends
        Harness.await(WAIT, () -> gauge(hub, "nowconnect_hub_client_addresses") == 0
                && gauge(hub, "nowconnect_hub_client_connections") == 0, "no address left in the per-client map");
    }

    @Test
    void aClientWaitsForTheAgentAndIsServedWhenItArrives(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_AGENT_WAIT_MS", "20000"), "late");
        EchoServer echo = harness.echo();
        try (Socket client = Harness.client(hub.listenerPorts().get("late"))) {
            client.getOutputStream().write("early".getBytes(StandardCharsets.US_ASCII));
            Harness.await(WAIT, () -> gauge(hub, "nowconnect_hub_client_connections") == 1, "the client waits");
            long start = System.nanoTime();
            Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("late", echo.port())));
            client.setSoTimeout((int) WAIT.toMillis());
            assertEquals("early", new String(HubProtocolTest.readExactly(client.getInputStream(), 5),
                                             StandardCharsets.US_ASCII), "served once the agent arrived");
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(agent.status().snapshot().ready());
            System.out.println("[agent wait] served " + ms + " ms after the agent started");
        }
    }

    @Test
    void aWaitingClientIsClosedAfterTheWaitAndCountsAgainstTheLimits(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_AGENT_WAIT_MS", "1500", "NC_HUB_MAX_CONNECTIONS", "3"), "none");
        int port = hub.listenerPorts().get("none");
        double before = metric(hub.port(), STREAMS, "connector", "none", "result", "no_agent_for_connector");
        double overBefore = metric(hub.port(), STREAMS, "connector", "none", "result", "too_many_streams");
        List<Socket> waiting = new ArrayList<>();
        try {
            long start = System.nanoTime();
            for (int i = 0; i < 3; i++) {
                waiting.add(Harness.client(port));
            }
            Harness.await(WAIT, () -> gauge(hub, "nowconnect_hub_client_connections") == 3, "3 clients wait");
            try (Socket fourth = Harness.client(port)) {
                fourth.setSoTimeout(1000);
                assertEquals(-1, HubListenerTest.readOrReset(fourth), "waiting clients hold NC_HUB_MAX_CONNECTIONS");
            }
            awaitMetric(hub.port(), overBefore + 1, STREAMS, "connector", "none", "result", "too_many_streams");
            for (Socket c : waiting) {
                c.setSoTimeout((int) WAIT.toMillis());
                assertEquals(-1, HubListenerTest.readOrReset(c), "closed after the wait");
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(ms >= 1400, "closed after " + ms + " ms, before the 1500 ms wait");
            awaitMetric(hub.port(), before + 3, STREAMS, "connector", "none", "result", "no_agent_for_connector");
        } finally {
            for (Socket s : waiting) {
                s.close();
            }
        }
    }

    @Test
    void stoppingTheHubClosesWaitingClientsAtOnce(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_AGENT_WAIT_MS", "60000"), "none");
        try (Socket client = Harness.client(hub.listenerPorts().get("none"))) {
            Harness.await(WAIT, () -> gauge(hub, "nowconnect_hub_client_connections") == 1, "the client waits");
            long start = System.nanoTime();
            hub.stop(Duration.ZERO);
            client.setSoTimeout((int) WAIT.toMillis());
            assertEquals(-1, HubListenerTest.readOrReset(client), "closed when the listener closed");
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(ms < 3000, "closed " + ms + " ms after the stop");
        }
    }

    @Test
    void requireBin1RefusesAV1AgentWith1008AndServesOurs(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_REQUIRE_BIN1", "true"), "svc");
        try (RawAgent v1 = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            v1.send("{\"t\":\"HELLO\",\"agent_id\":\"" + Harness.AGENT_ID
                            + "\",\"connectors\":[\"svc\"],\"ver\":\"1.0.0\",\"caps\":[\"drain\"]}");
            assertEquals(1008, v1.awaitClose(WAIT), "a v1 agent is refused with 1008");
        }
        awaitMetric(hub.port(), 1, "nowconnect_hub_tunnels_refused_total", "reason", "bin1_required");
        assertEquals(0, hub.agentCount());
        EchoServer echo = harness.echo();
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("svc", echo.port())));
        Harness.awaitReady(agent, WAIT);
        try (Socket c = Harness.client(hub.listenerPorts().get("svc"))) {
            assertTrue(echoes(c, "bin1"), "our agent (bin1) is served");
        }
    }

    private static double gauge(Hub hub, String name) {
        try {
            return metric(hub.port(), name);
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** A client socket from another loopback address (Linux routes all of 127/8 to lo). */
    private static Socket from(String local, int port) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(local, 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), (int) WAIT.toMillis());
        return s;
    }

    /** Write a text and read it back: true if echoed (a stream), false if the hub closed the connection. */
    private static boolean echoes(Socket c, String text) throws IOException {
        c.setSoTimeout((int) WAIT.toMillis());
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        try {
            c.getOutputStream().write(bytes);
            byte[] back = c.getInputStream().readNBytes(bytes.length);
            if (back.length == bytes.length) {
                assertEquals(text, new String(back, StandardCharsets.US_ASCII));
                return true;
            }
            return false;
        } catch (SocketTimeoutException e) {
            fail("neither served nor closed within " + WAIT.toMillis() + " ms");
            return false;
        } catch (IOException e) {
            return false;
        }
    }
}
