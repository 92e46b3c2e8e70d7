package io.nowconnect.hub;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;
import io.nowconnect.hub.auth.TokenMinter;
import io.nowconnect.hub.auth.TokenVerifier;
import io.nowconnect.log.Event;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static io.nowconnect.hub.HubProtocolTest.awaitMetric;
import static io.nowconnect.hub.HubProtocolTest.claims;
import static io.nowconnect.hub.HubProtocolTest.header;
import static io.nowconnect.hub.HubProtocolTest.jwt;
import static io.nowconnect.hub.HubProtocolTest.metric;
import static io.nowconnect.hub.HubProtocolTest.readExactly;
import static io.nowconnect.hub.HubProtocolTest.secret;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What an agent token is worth at the hub (issue 15): its {@code connectors} claim limits the connectors the hub
 * routes to the agent, {@code NC_HUB_REQUIRE_CONNECTORS_CLAIM} refuses tokens without it, and a tunnel whose token
 * expired gets no new streams and is closed after its open streams. A real hub, the real agent and an echo target;
 * the impostor is a hand-scripted agent (the JDK's WebSocket client) holding a validly signed token.
 */
@Timeout(120)
@ExtendWith(TestKit.class)
class HubScopeTest {
    private static final String FAILURES = "nowconnect_hub_auth_failures_total";
    private static final String NOT_ALLOWED = "connector_not_allowed";
    private static final int CLIENTS = 60;

    Harness harness;

    @BeforeEach
    void setUp(Harness harness) {
        this.harness = harness;
    }

    @Test
    void impostorScopedToAnotherConnectorGetsNoneOfItsClients() throws Exception {
        Hub hub = harness.startHub("ldap", "other");
        EchoServer ldap = harness.echo();
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("ldap", ldap.port()));
        vars.put("NC_TOKEN_FILE", scopedTokenFile(Harness.AGENT_ID, "ldap").toString());
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, Duration.ofSeconds(20));

        double before = metric(hub.port(), FAILURES, "reason", NOT_ALLOWED);
        List<Map<String, Object>> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        Handler capture = capture(warnings);
        Map<String, Object> evilClaims = claims("evil");
        evilClaims.put("connectors", List.of("other"));
        String evilToken = jwt(header("HS256"), evilClaims, secret(harness));
        try (RawAgent evil = RawAgent.connect(hub.port(), evilToken)) {
            // the impostor announces the real agent's connector next to its own
            evil.send("{\"t\":\"HELLO\",\"agent_id\":\"evil\",\"connectors\":[\"ldap\",\"other\"],\"ver\":\"1.5\","
                              + "\"caps\":[\"drain\"]}");
            assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}", evil.next(), "its tunnel serves what it may");
            Harness.await(WAIT, () -> hub.tunnelTokenIds("other").size() == 1, "impostor tunnel ready for 'other'");
            awaitMetric(hub.port(), before + 1, FAILURES, "reason", NOT_ALLOWED);
            Harness.await(WAIT, () -> !warnings.isEmpty(), "connector_not_allowed logged");
            assertEquals(Map.of("event", NOT_ALLOWED, "agent_id", "evil", "connector", "ldap"), warnings.getFirst());
            assertEquals(1, hub.tunnelTokenIds("ldap").size(), "only the real agent's tunnel serves ldap");

            // parallel load on ldap: every client must reach the real agent's target
            int port = hub.listenerPorts().get("ldap");
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Boolean>> results = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(CLIENTS)) {
                for (int i = 0; i < CLIENTS; i++) {
                    byte[] payload = ("client-" + i + "-" + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
                    results.add(pool.submit(() -> {
                        go.await();
                        try (Socket client = Harness.client(port)) {
                            client.setSoTimeout(30_000);
                            Harness.sendAndFinish(client, payload);
                            return java.util.Arrays.equals(payload, Harness.readAll(client));
                        }
                    }));
                }
                go.countDown();
                int echoed = 0;
                for (Future<Boolean> r : results) {
                    echoed += r.get(60, TimeUnit.SECONDS) ? 1 : 0;
                }
                assertEquals(CLIENTS, echoed, "clients that reached the real agent's echo target");
            }
            List<String> toImpostor = evil.pending().stream().filter(m -> m.contains("OPEN")).toList();
            assertEquals(List.of(), toImpostor, "OPENs routed to the impostor");
            System.out.println("impostor: " + CLIENTS + " parallel ldap clients, " + CLIENTS + " reached the real agent, "
                                       + toImpostor.size() + " the impostor");

            // the control: the impostor's tunnel is live and routable for the connector it may serve
            try (Socket client = Harness.client(hub.listenerPorts().get("other"))) {
                JsonNode open = evil.nextFrame("OPEN");
                assertEquals("other", open.get("connector").asText());
            }
        } finally {
            Logger.getLogger("io.nowconnect").removeHandler(capture);
        }
    }

    @Test
    void helloWithNoAllowedConnectorIsClosedWithPolicyViolation() throws Exception {
        Hub hub = harness.startHub("ldap");
        double before = metric(hub.port(), FAILURES, "reason", NOT_ALLOWED);
        Map<String, Object> evilClaims = claims("evil");
        evilClaims.put("connectors", List.of("other"));
        String evilToken = jwt(header("HS256"), evilClaims, secret(harness));
        try (RawAgent evil = RawAgent.connect(hub.port(), evilToken)) {
            evil.send("{\"t\":\"HELLO\",\"agent_id\":\"evil\",\"connectors\":[\"ldap\"],\"ver\":\"1.5\"}");
            assertEquals(1008, evil.awaitClose(WAIT));
            assertEquals(List.of(), evil.pending(), "no HELLO_ACK before the close");
        }
        assertEquals(0, hub.agentCount());
        awaitMetric(hub.port(), before + 1, FAILURES, "reason", NOT_ALLOWED);
    }

    @Test
    void tokenWithoutTheClaimIsRefusedWith403ByDefault() throws Exception {
        Hub hub = harness.startHub("ldap");
        double before = metric(hub.port(), FAILURES, "reason", "connectors_claim_required");
        String unscoped = jwt(header("HS256"), claims(Harness.AGENT_ID), secret(harness));
        assertEquals(403, RawAgent.upgradeStatus(hub.port(), "Bearer " + unscoped));
        awaitMetric(hub.port(), before + 1, FAILURES, "reason", "connectors_claim_required");

        // the real agent with a token minted by `token --connectors ldap` is accepted and serves ldap
        EchoServer ldap = harness.echo();
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("ldap", ldap.port()));
        vars.put("NC_TOKEN_FILE", scopedTokenFile(Harness.AGENT_ID, "ldap").toString());
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, Duration.ofSeconds(20));
        try (Socket client = Harness.client(hub.listenerPorts().get("ldap"))) {
            Harness.sendAndFinish(client, "hello".getBytes(StandardCharsets.UTF_8));
            assertArrayEquals("hello".getBytes(StandardCharsets.UTF_8), Harness.readAll(client));
        }
    }

    @Test
    void expiredTokensTunnelGetsNoNewStreamsAndClosesAfterItsStreams() throws Exception {
        Hub hub = harness.startHub("ldap");
        try (RawAgent agent = RawAgent.connect(hub.port(), shortLivedToken(4))) {
            agent.hello("ldap");
            Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel ready");
            Socket first = Harness.client(hub.listenerPorts().get("ldap"));
            String cid = agent.nextFrame("OPEN").get("cid").asText();

            Harness.await(Duration.ofSeconds(20), () -> hub.tunnelTokenIds("ldap").isEmpty(), "token expired");
            long expiredAt = System.nanoTime();
            try (Socket late = Harness.client(hub.listenerPorts().get("ldap"))) {
                late.setSoTimeout(5000);
                assertEquals(-1, late.getInputStream().read(), "a new client gets no stream on the expired tunnel");
            }
            // the open stream goes on
            agent.send(HubProtocolTest.data(cid, 0, "still".getBytes(StandardCharsets.UTF_8)));
            assertArrayEquals("still".getBytes(StandardCharsets.UTF_8), readExactly(first.getInputStream(), 5));
            HubProtocolTest.write(first, "here".getBytes(StandardCharsets.UTF_8));
            assertEquals("here", new String(java.util.Base64.getDecoder().decode(
                    agent.nextFrame("DATA").get("b64").asText()), StandardCharsets.UTF_8));
            assertFalse(agent.isClosed(), "the tunnel stays while its stream is open");
            assertEquals(List.of(), agent.pending().stream().filter(m -> m.contains("OPEN")).toList(),
                         "no OPEN after the expiry");

            // both sides finish: the stream ends, then the tunnel is closed
            agent.send("{\"t\":\"FIN\",\"cid\":\"" + cid + "\",\"dir\":\"a2c\"}");
            first.shutdownOutput();
            agent.nextFrame("FIN");
            assertEquals(-1, first.getInputStream().read());
            first.close();
            long streamEnded = System.nanoTime();
            assertEquals(1008, agent.awaitClose(Duration.ofSeconds(10)));
            System.out.println("expired token: tunnel closed " + (System.nanoTime() - streamEnded) / 1_000_000
                                       + " ms after its last stream ended (" + (streamEnded - expiredAt) / 1_000_000
                                       + " ms after the expiry)");
        }
    }

    @Test
    void expiredTokensTunnelIsClosedAtTheDrainTimeoutWithStreamsStillOpen() throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_DRAIN_TIMEOUT_SEC", "2"), "ldap");
        try (RawAgent agent = RawAgent.connect(hub.port(), shortLivedToken(4))) {
            agent.hello("ldap");
            Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel ready");
            Socket client = Harness.client(hub.listenerPorts().get("ldap"));
            agent.nextFrame("OPEN");
            long start = System.nanoTime();
            Harness.await(Duration.ofSeconds(20), () -> hub.tunnelTokenIds("ldap").isEmpty(), "token expired");
            long expiredAt = System.nanoTime();
            assertEquals(1008, agent.awaitClose(Duration.ofSeconds(15)));
            long closedMs = (System.nanoTime() - expiredAt) / 1_000_000;
            assertTrue(closedMs >= 1000, "closed " + closedMs + " ms after the expiry, before the 2 s drain timeout");
            client.setSoTimeout(10_000);
            int read;
            try {
                read = client.getInputStream().read();
            } catch (java.net.SocketException reset) {
                read = -1;
            }
            assertEquals(-1, read, "the client's stream ended with the tunnel");
            client.close();
            System.out.println("expired token with an open stream: tunnel closed " + closedMs + " ms after the expiry ("
                                       + (expiredAt - start) / 1_000_000 + " ms after the upgrade)");
        }
    }

    @Test
    void theOldBehaviourMustBeAskedForAndIsAWarningOnceAtStart() throws Exception {
        List<LogRecord> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel() == Level.WARNING) {
                    warnings.add(record);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger ours = Logger.getLogger("io.nowconnect");
        ours.addHandler(handler);
        try {
            Hub hub = harness.startHub(0, Map.of("NC_HUB_REQUIRE_CONNECTORS_CLAIM", "false"), "ldap");
            String unscoped = jwt(header("HS256"), claims(Harness.AGENT_ID), secret(harness));
            for (int i = 0; i < 2; i++) {
                try (RawAgent agent = RawAgent.connect(hub.port(), unscoped)) {
                    agent.hello("ldap");
                }
            }
            List<String> said = warnings.stream().map(LogRecord::getMessage)
                    .filter(m -> m.contains("NC_HUB_REQUIRE_CONNECTORS_CLAIM=false")).toList();
            System.out.println("require=false: " + said);
            assertEquals(1, said.size(), "one WARNING at start: " + said);
        } finally {
            ours.removeHandler(handler);
        }
    }

    /**
     * A token for {@link Harness#AGENT_ID} that the hub treats as usable for about {@code seconds} more: its {@code exp}
     * lies in the past by less than the verifier's clock-skew leeway, which the hub also grants on the live tunnel.
     */
    private String shortLivedToken(int seconds) throws Exception {
        Map<String, Object> claims = claims(Harness.AGENT_ID);
        long now = Instant.now().getEpochSecond();
        claims.put("iat", now - 60);
        claims.put("exp", now - TokenVerifier.LEEWAY_SECONDS + seconds);
        claims.put("connectors", harness.hubConnectors());
        return jwt(header("HS256"), claims, secret(harness));
    }

    /** A token minted as {@code token --connectors ...} does, written to a file for the agent. */
    private Path scopedTokenFile(String agentId, String... connectors) throws Exception {
        String token = TokenMinter.mintHs256(TokenMinter.readSecret(harness.secret()), agentId, Duration.ofHours(1),
                                             "nowconnect", List.of(connectors), Optional.empty());
        return Files.writeString(harness.dir().resolve(agentId + "-scoped.token"), token + "\n");
    }

    /** Collect the fields of the hub's {@code connector_not_allowed} WARNING events. */
    private static Handler capture(List<Map<String, Object>> into) {
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel() == Level.WARNING && record.getParameters() != null
                        && record.getParameters().length > 0 && record.getParameters()[0] instanceof Event e
                        && NOT_ALLOWED.equals(e.fields().get("event"))) {
                    into.add(Map.copyOf(e.fields()));
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger.getLogger("io.nowconnect").addHandler(handler);
        return handler;
    }
}
