package io.nowconnect.hub;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.hub.HubProtocolTest.JSON;
import static io.nowconnect.hub.HubProtocolTest.awaitMetric;
import static io.nowconnect.hub.HubProtocolTest.metric;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Key rotation and revocation on a running hub, with real agents and no restart: a new HS256 secret is added to the
 * secret file (newest first), agents with tokens from it connect, the old secret is removed and the tunnel on the old
 * token gets no new streams and is closed while the new one goes on serving; a jti and then an agent_id put on
 * {@code NC_HUB_REVOKED_FILE} end their live tunnels and their upgrades are refused (401, {@code revoked}). The times
 * from the file write to each effect are printed.
 */
@Timeout(90)
@ExtendWith(TestKit.class)
class HubKeyRotationTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String FAILURES = "nowconnect_hub_auth_failures_total";

    private Harness harness;

    @BeforeEach
    void setUp(Harness harness) {
        this.harness = harness;
    }

    @Test
    void secretRotationWithoutRestart() throws Exception {
        Hub hub = harness.startHub("echo");
        EchoServer echo = harness.echo();
        Path secret = harness.secret();
        String oldSecret = Files.readString(secret).strip();
        Agent old = harness.startAgent(agentVars(hub, echo, Harness.AGENT_ID));
        Harness.awaitReady(old, WAIT);
        String oldJti = hub.tunnelTokenIds("echo").getFirst();

        // 1. add the new secret in front of the old one; tokens signed with it are accepted without a restart
        long added = System.nanoTime();
        Files.writeString(secret, "rotated-" + System.nanoTime() + "-0123456789abcdef0123456789\n" + oldSecret + "\n");
        Path probe = harness.tokenFile("probe", Duration.ofMinutes(5), List.of("echo"));
        awaitAccepted(hub, Files.readString(probe).strip());
        long acceptedMs = sinceMs(added);
        Agent fresh = harness.startAgent(agentVars(hub, echo, "premise-02"));
        Harness.awaitReady(fresh, WAIT);
        Harness.await(WAIT, () -> hub.tunnelTokenIds("echo").size() == 2, "both tunnels serve echo");
        String freshJti = hub.tunnelTokenIds("echo").stream().filter(j -> !j.equals(oldJti)).findFirst().orElseThrow();
        double refusedBefore = metric(hub.port(), FAILURES);

        // 2. remove the old secret: the tunnel on the old token gets no new streams, then is closed
        long removed = System.nanoTime();
        Files.writeString(secret, Files.readAllLines(secret).getFirst() + "\n");
        Harness.await(WAIT, () -> !hub.tunnelTokenIds("echo").contains(oldJti), "old tunnel gets no new streams");
        long noStreamsMs = sinceMs(removed);
        Harness.await(WAIT, () -> hub.agentCount() == 1, "old tunnel closed");
        long closedMs = sinceMs(removed);
        // the old agent's next upgrade is refused: its token's key is gone
        Harness.await(WAIT, () -> old.status().endings().getOrDefault("auth_failed", 0L) >= 1, "old token refused");
        awaitMetric(hub.port(), refusedBefore + 1, FAILURES);
        assertEquals(List.of(freshJti), hub.tunnelTokenIds("echo"), "the new tunnel serves on");
        assertEcho(hub);
        System.out.println(String.format("secret rotation: new key accepted %d ms after the write; old key removed: "
                                  + "no new streams after %d ms, tunnel closed after %d ms; the new tunnel serves on",
                          acceptedMs, noStreamsMs, closedMs));
    }

    @Test
    void revocationByJtiAndByAgentId() throws Exception {
        Path revoked = Files.writeString(harness.dir().resolve("revoked"), "# revoked tokens and agents\n");
        Hub hub = harness.startHub(0, Map.of("NC_HUB_REVOKED_FILE", revoked.toString()), "echo");
        EchoServer echo = harness.echo();
        Path tokenA = harness.tokenFile(Harness.AGENT_ID, Duration.ofHours(1), List.of("echo"));
        Map<String, String> varsA = Harness.agentVars("ws://127.0.0.1:" + hub.port() + "/tunnel", tokenA,
                                                      Map.of("echo", echo.port()));
        Agent a = harness.startAgent(varsA);
        Agent b = harness.startAgent(agentVars(hub, echo, "premise-02"));
        Harness.awaitReady(a, WAIT);
        Harness.awaitReady(b, WAIT);
        Harness.await(WAIT, () -> hub.agentCount() == 2, "two tunnels");
        String jtiA = jti(Files.readString(tokenA).strip());
        double revokedBefore = metric(hub.port(), FAILURES, "reason", "revoked");

        // by jti: A's tunnel ends within seconds, its upgrades are refused with 401 (reason revoked)
        long byJti = System.nanoTime();
        Files.writeString(revoked, jtiA + "   # leaked in a ticket\n", StandardOpenOption.APPEND);
        Harness.await(WAIT, () -> !hub.tunnelTokenIds("echo").contains(jtiA) && hub.agentCount() == 1,
                      "revoked tunnel closed");
        long jtiMs = sinceMs(byJti);
        assertEquals(401, RawAgent.upgradeStatus(hub.port(), "Bearer " + Files.readString(tokenA).strip()));
        awaitMetric(hub.port(), revokedBefore + 1, FAILURES, "reason", "revoked");
        assertEcho(hub);

        // by agent_id: B's tunnel ends too, whatever its token
        long byAgent = System.nanoTime();
        Files.writeString(revoked, "premise-02\n", StandardOpenOption.APPEND);
        Harness.await(WAIT, () -> hub.agentCount() == 0, "agent's tunnel closed");
        long agentMs = sinceMs(byAgent);
        Path another = harness.tokenFile("premise-02", Duration.ofHours(1), List.of("echo"));
        assertEquals(401, RawAgent.upgradeStatus(hub.port(), "Bearer " + Files.readString(another).strip()));
        Harness.await(WAIT, () -> a.status().endings().getOrDefault("auth_failed", 0L) >= 1, "A refused");
        System.out.println(String.format("revocation: by jti the tunnel closed %d ms after the write, by agent_id %d ms",
                                         jtiMs, agentMs));
        assertTrue(jtiMs < 5000 && agentMs < 5000, "within seconds: " + jtiMs + " / " + agentMs + " ms");
    }

    private Map<String, String> agentVars(Hub hub, EchoServer echo, String agentId) {
        Map<String, String> vars = Harness.agentVars("ws://127.0.0.1:" + hub.port() + "/tunnel",
                                                     harness.tokenFile(agentId, Duration.ofHours(1), List.of("echo")),
                                                     Map.of("echo", echo.port()));
        vars.put("NC_AGENT_ID", agentId);
        return vars;
    }

    /** Upgrades with the token until the hub accepts it (it has read the new key). */
    private static void awaitAccepted(Hub hub, String token) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        int status;
        while ((status = RawAgent.upgradeStatus(hub.port(), "Bearer " + token)) != 101) {
            assertEquals(401, status, "refused only until the new key is read");
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the hub never accepted a token from the new key");
            }
            Thread.sleep(50);
        }
    }

    private static void assertEcho(Hub hub) throws Exception {
        try (Socket client = Harness.client(hub.listenerPorts().get("echo"))) {
            Harness.sendAndFinish(client, "still here".getBytes(StandardCharsets.UTF_8));
            assertArrayEquals("still here".getBytes(StandardCharsets.UTF_8), Harness.readAll(client));
        }
    }

    private static String jti(String token) throws Exception {
        return JSON.readTree(Base64.getUrlDecoder().decode(token.split("\\.")[1])).get("jti").asText();
    }

    private static long sinceMs(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}
