package io.nowconnect.hub;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.Meter;
import io.helidon.metrics.api.Metrics;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.nowconnect.testkit.CerbosPdp;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import static io.nowconnect.hub.HubProtocolTest.goodToken;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A policy decision per client connection ({@code NC_HUB_PDP_URL}) against a real Cerbos PDP speaking OpenID AuthZEN:
 * allow, deny (by client address, by time of day), the decision cache, the PDP down (closed and open) and slow
 * (deadline). A refused client gets no OPEN: the agent (a raw WebSocket client) sees nothing.
 */
@Timeout(120)
@ExtendWith(TestKit.class)
class HubPdpTest {
    private static final String DECISIONS = "nowconnect_hub_pdp_decisions_total";
    private static final InetAddress SECOND_LOOPBACK = loopback("127.0.0.2");

    @TempDir
    static java.nio.file.Path cerbosDir;
    private static CerbosPdp cerbos;

    @BeforeAll
    static void startCerbos() {
        // db: nobody after this hour (UTC), so db is refused now
        String hour = Integer.toString(LocalTime.now(ZoneOffset.UTC).getHour());
        cerbos = CerbosPdp.start(cerbosDir, "/cerbos/connector.yaml",
                                 Map.of("CUTOFF_HOUR", hour, "AGENT_ID", Harness.AGENT_ID));
    }

    @AfterAll
    static void stopCerbos() {
        if (cerbos != null) {
            cerbos.close();
        }
    }

    @Test
    void cerbosAllowsAndDeniesEachConnection(Harness harness) throws Exception {
        Hub hub = hub(harness, Map.of("NC_HUB_PDP_URL", cerbos.url(), "NC_HUB_PDP_CACHE_TTL_MS", "0"), "ldap", "db", "open");
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            agent.hello("ldap", "db", "open");
            Map<String, Double> before = decisions();
            // allowed: ldap from 127.0.0.2, open from anywhere (served by this agent id)
            try (Socket c = connect(hub, "ldap", SECOND_LOOPBACK)) {
                assertEquals("ldap", nextOpen(agent));
            }
            try (Socket c = connect(hub, "open", InetAddress.getLoopbackAddress())) {
                assertEquals("open", nextOpen(agent));
            }
            assertEquals(2.0, delta(before, "allow"), "two allows");
            // denied: ldap from 127.0.0.1 (address rule), db from 127.0.0.2 (time rule)
            assertRefused(connect(hub, "ldap", InetAddress.getLoopbackAddress()));
            assertRefused(connect(hub, "db", SECOND_LOOPBACK));
            assertEquals(2.0, delta(before, "deny"), "two denials");
            assertEquals(0.0, delta(before, "cache_hit"), "no cache with NC_HUB_PDP_CACHE_TTL_MS=0");
            // positive control: the next allowed client's OPEN is the first OPEN after the denials
            try (Socket c = connect(hub, "open", InetAddress.getLoopbackAddress())) {
                assertEquals("open", nextOpen(agent), "no OPEN for a denied client");
            }
        }
    }

    @Test
    void aDecisionIsReusedWithinItsTtl(Harness harness) throws Exception {
        Hub hub = hub(harness, Map.of("NC_HUB_PDP_URL", cerbos.url(), "NC_HUB_PDP_CACHE_TTL_MS", "60000"), "ldap");
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            agent.hello("ldap");
            Map<String, Double> before = decisions();
            for (int i = 0; i < 6; i++) {
                try (Socket c = connect(hub, "ldap", SECOND_LOOPBACK)) {
                    assertEquals("ldap", nextOpen(agent));
                }
            }
            for (int i = 0; i < 3; i++) {
                assertRefused(connect(hub, "ldap", InetAddress.getLoopbackAddress()));
            }
            assertEquals(1.0, delta(before, "allow"), "one question for 127.0.0.2");
            assertEquals(1.0, delta(before, "deny"), "one question for 127.0.0.1");
            assertEquals(7.0, delta(before, "cache_hit"), "the other seven answered from the cache");
        }
    }

    @Test
    void aPdpThatIsDownRefusesUnlessFailOpen(Harness harness) throws Exception {
        int closed = Harness.freePort();
        Hub shut = hub(harness, Map.of("NC_HUB_PDP_URL", "http://127.0.0.1:" + closed), "ldap");
        Hub open = hub(harness, Map.of("NC_HUB_PDP_URL", "http://127.0.0.1:" + closed, "NC_HUB_PDP_FAIL_OPEN", "true"),
                       "ldap");
        try (RawAgent a = RawAgent.connect(shut.port(), goodToken(harness, Harness.AGENT_ID));
             RawAgent b = RawAgent.connect(open.port(), goodToken(harness, Harness.AGENT_ID))) {
            a.hello("ldap");
            b.hello("ldap");
            Map<String, Double> before = decisions();
            assertRefused(connect(shut, "ldap", SECOND_LOOPBACK));
            assertEquals(1.0, delta(before, "error"));
            try (Socket c = connect(open, "ldap", SECOND_LOOPBACK)) {
                assertEquals("ldap", nextOpen(b), "fail open: the client goes on");
            }
            assertEquals(2.0, delta(before, "error"), "both counted as errors");
            assertEquals(List.of(), opens(a.pending()), "fail closed: no OPEN");
        }
    }

    @Test
    void aSlowPdpIsCutAtTheDeadline(Harness harness) throws Exception {
        // a PDP that accepts and never answers
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            List<Socket> held = new ArrayList<>();
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        held.add(silent.accept());
                    }
                } catch (IOException ignored) {
                    // closed
                }
            });
            Hub hub = hub(harness, Map.of("NC_HUB_PDP_URL", "http://127.0.0.1:" + silent.getLocalPort(),
                                          "NC_HUB_PDP_TIMEOUT_MS", "300"), "ldap");
            try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
                agent.hello("ldap");
                Map<String, Double> before = decisions();
                long t0 = System.nanoTime();
                assertRefused(connect(hub, "ldap", SECOND_LOOPBACK));
                long waitedMs = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(waitedMs >= 250, "refused only once the deadline passed, after " + waitedMs + " ms");
                assertEquals(1.0, delta(before, "error"));
                assertEquals(List.of(), opens(agent.pending()), "no OPEN before a decision");
            }
            for (Socket s : held) {
                s.close();
            }
        }
    }

    /** A hub asking the PDP, with a deadline that a loaded machine's first request meets. */
    private static Hub hub(Harness harness, Map<String, String> vars, String... connectors) {
        Map<String, String> all = new HashMap<>();
        all.put("NC_HUB_PDP_TIMEOUT_MS", "5000");
        all.putAll(vars);
        return harness.hub().env(all).connectors(connectors).start();
    }

    private static Socket connect(Hub hub, String connector, InetAddress from) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(from, 0));
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), hub.listenerPorts().get(connector)), 2000);
        s.setSoTimeout(5000);
        return s;
    }

    /** The hub closes a refused client without a byte. */
    private static void assertRefused(Socket client) throws IOException {
        try (client) {
            assertEquals(-1, client.getInputStream().read(), "refused client closed");
        } catch (SocketTimeoutException e) {
            fail("client still open after " + client.getSoTimeout() + " ms");
        } catch (IOException e) {
            // reset: refused too
        }
    }

    /** The connector of the next OPEN, skipping the FIN and RST frames of clients that closed. */
    private static String nextOpen(RawAgent agent) throws Exception {
        while (true) {
            String frame = agent.next();
            if (frame.contains("\"OPEN\"")) {
                return new com.fasterxml.jackson.databind.ObjectMapper().readTree(frame).path("connector").asText();
            }
        }
    }

    private static List<String> opens(List<String> frames) {
        return frames.stream().filter(f -> f.contains("\"OPEN\"")).toList();
    }

    private static Map<String, Double> decisions() {
        Map<String, Double> out = new HashMap<>();
        for (Meter m : Metrics.globalRegistry().meters()) {
            if (m.id().name().equals(DECISIONS) && m instanceof Counter c) {
                out.merge(m.id().tagsMap().get("result"), (double) c.count(), Double::sum);
            }
        }
        return out;
    }

    private static double delta(Map<String, Double> before, String result) {
        return decisions().getOrDefault(result, 0.0) - before.getOrDefault(result, 0.0);
    }

    private static InetAddress loopback(String ip) {
        try {
            return InetAddress.getByName(ip);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
