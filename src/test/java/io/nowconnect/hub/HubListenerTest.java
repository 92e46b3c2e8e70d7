package io.nowconnect.hub;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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

/** Client admission at the hub's connector listeners: no agent, source address ranges, the connection limit. */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubListenerTest {
    private static final String STREAMS = "nowconnect_hub_streams_total";

    @Test
    void noAgentForConnectorClosesTheClientAtOnce(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_AGENT_WAIT_MS", "0"), "lonely");
        double before = metric(hub.port(), STREAMS, "connector", "lonely", "result", "no_agent_for_connector");
        try (Socket client = Harness.client(hub.listenerPorts().get("lonely"))) {
            client.setSoTimeout(1000);
            long start = System.nanoTime();
            assertEquals(-1, readOrReset(client), "closed without an agent");
            assertTrue(System.nanoTime() - start < 1_000_000_000L);
        }
        awaitMetric(hub.port(), before + 1, STREAMS, "connector", "lonely", "result", "no_agent_for_connector");
        assertEquals(before + 1, metric(hub.port(), STREAMS, "connector", "lonely", "result", "no_agent_for_connector"));
    }

    @Test
    void clientOutsideAllowedRangesIsClosed(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_ALLOW_CIDRS", "10.0.0.0/8"), "fenced");
        double before = metric(hub.port(), STREAMS, "connector", "fenced", "result", "not_allowed");
        try (RawAgent agent = RawAgent.connect(hub.port(),goodToken(harness, Harness.AGENT_ID))) {
            agent.hello("fenced");
            try (Socket client = Harness.client(hub.listenerPorts().get("fenced"))) {
                client.setSoTimeout(1000);
                assertEquals(-1, readOrReset(client), "loopback is not in 10.0.0.0/8");
            }
            awaitMetric(hub.port(), before + 1, STREAMS, "connector", "fenced", "result", "not_allowed");
            assertEquals(before + 1, metric(hub.port(), STREAMS, "connector", "fenced", "result", "not_allowed"));
            assertEquals(List.of(), agent.pending(), "no OPEN for a refused client");
        }
    }

    @Test
    void clientInsideAllowedRangesIsServed(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_ALLOW_CIDRS", "10.0.0.0/8, 127.0.0.0/8"), "open");
        try (RawAgent agent = RawAgent.connect(hub.port(),goodToken(harness, Harness.AGENT_ID))) {
            agent.hello("open");
            try (Socket client = Harness.client(hub.listenerPorts().get("open"))) {
                String cid = agent.nextFrame("OPEN").get("cid").asText();
                agent.send(HubProtocolTest.data(cid, 0, "hi".getBytes(StandardCharsets.US_ASCII)));
                assertEquals("hi", new String(HubProtocolTest.readExactly(client.getInputStream(), 2),
                                              StandardCharsets.US_ASCII));
            }
        }
    }

    /**
     * {@code NC_HUB_ALLOW_CIDRS} against IPv4, IPv6 and IPv4-mapped IPv6 clients. The JDK binds its IPv6 (dual-stack)
     * socket to {@code ::ffff:127.0.0.1} for the mapped listener, and a client connecting to {@code ::ffff:127.0.0.1}
     * arrives there as an IPv4-mapped peer; a mapped range ({@code ::ffff:127.0.0.0/104}) is the IPv4 range it maps.
     * Lists use {@code |} for the comma.
     */
    @ParameterizedTest(name = "listener {0}, client {1}, allow {2}: served {3}")
    @CsvSource({
            "127.0.0.1,        127.0.0.1,        127.0.0.1/32,                       true",
            "127.0.0.1,        127.0.0.1,        10.0.0.0/8|::1/128,                 false",
            "::1,              ::1,              ::1/128,                            true",
            "::1,              ::1,              fd00::/8|10.0.0.0/8|127.0.0.0/8,    false",
            "::ffff:127.0.0.1, ::ffff:127.0.0.1, ::ffff:127.0.0.0/104,               true",
            "::ffff:127.0.0.1, ::ffff:127.0.0.1, 127.0.0.1/32,                       true",
            "::ffff:127.0.0.1, ::ffff:127.0.0.1, ::1/128|::ffff:10.0.0.0/104,        false",
    })
    void allowedRangesMatchIpv4Ipv6AndMappedClients(String listenerHost, String clientAddress, String allow,
                                                    boolean served, Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_ALLOW_CIDRS", allow.replace('|', ','),
                                             "NC_HUB_LISTENERS", "fenced=[" + listenerHost + "]:0"), "fenced");
        double refusedBefore = metric(hub.port(), STREAMS, "connector", "fenced", "result", "not_allowed");
        try (RawAgent agent = RawAgent.connect(hub.port(),
                                                                                goodToken(harness, Harness.AGENT_ID));
             Socket client = new Socket()) {
            agent.hello("fenced");
            client.connect(new InetSocketAddress(InetAddress.getByName(clientAddress), hub.listenerPorts().get("fenced")),
                           (int) WAIT.toMillis());
            client.setSoTimeout((int) WAIT.toMillis());
            if (served) {
                String cid = agent.nextFrame("OPEN").get("cid").asText();
                agent.send(HubProtocolTest.data(cid, 0, "in".getBytes(StandardCharsets.US_ASCII)));
                assertEquals("in", new String(HubProtocolTest.readExactly(client.getInputStream(), 2),
                                              StandardCharsets.US_ASCII));
            } else {
                assertEquals(-1, readOrReset(client), "client outside " + allow + " is closed");
                awaitMetric(hub.port(), refusedBefore + 1, STREAMS, "connector", "fenced", "result", "not_allowed");
                assertEquals(List.of(), agent.pending(), "no OPEN for a refused client");
            }
        }
    }

    @Test
    void connectionLimitRefusesTheExtraClientsAndRecovers(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_MAX_CONNECTIONS", "5"), "limited");
        EchoServer echo = harness.echo();
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("limited", echo.port())));
        Harness.awaitReady(agent, WAIT);
        int port = hub.listenerPorts().get("limited");
        double refusedBefore = metric(hub.port(), STREAMS, "connector", "limited", "result", "too_many_streams");

        List<Socket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                clients.add(Harness.client(port));
            }
            List<Socket> served = new ArrayList<>();
            int refused = 0;
            for (Socket c : clients) {
                if (echoes(c)) {
                    served.add(c);
                } else {
                    refused++;
                }
            }
            assertEquals(5, served.size(), "at most NC_HUB_MAX_CONNECTIONS streams");
            assertEquals(5, refused);
            assertEquals(5, hub.tunnelStreamCounts("limited").getFirst());
            assertEquals(refusedBefore + 5,
                         metric(hub.port(), STREAMS, "connector", "limited", "result", "too_many_streams"));
            assertEquals(200, HubProtocolTest.get(hub.port(), "/healthz").statusCode());

            for (Socket c : served) {
                c.shutdownOutput();
                assertEquals(-1, c.getInputStream().read());
                c.close();
            }
            Harness.await(WAIT, () -> hub.tunnelStreamCounts("limited").getFirst() == 0, "first streams ended");
            for (int i = 0; i < 5; i++) {
                try (Socket c = Harness.client(port)) {
                    Harness.sendAndFinish(c, ("again " + i).getBytes(StandardCharsets.US_ASCII));
                    assertEquals("again " + i, new String(Harness.readAll(c), StandardCharsets.US_ASCII));
                }
            }
        } finally {
            for (Socket c : clients) {
                c.close();
            }
        }
    }

    /** Write a byte and read it back: true if echoed (stream open), false if the hub closed the connection. */
    private static boolean echoes(Socket c) throws IOException {
        c.setSoTimeout((int) WAIT.toMillis());
        try {
            c.getOutputStream().write('e');
            c.getOutputStream().flush();
            int b = c.getInputStream().read();
            if (b == 'e') {
                return true;
            }
            assertEquals(-1, b);
            return false;
        } catch (SocketTimeoutException e) {
            fail("neither served nor closed within " + WAIT.toMillis() + " ms");
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    /** -1 on EOF, also for a reset (both mean the hub closed the connection); fails on a timeout. */
    static int readOrReset(Socket client) throws IOException {
        try {
            return client.getInputStream().read();
        } catch (SocketTimeoutException e) {
            fail("client connection still open after " + client.getSoTimeout() + " ms");
            return 0;
        } catch (IOException e) {
            return -1;
        }
    }
}
