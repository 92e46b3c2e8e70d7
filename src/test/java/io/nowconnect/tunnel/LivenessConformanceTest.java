package io.nowconnect.tunnel;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TargetServer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Liveness and reconnection of the real agent against a scripted hub: pongs to the hub's pings, ping and HELLO
 * timeouts, a hub that drops the TCP connection or stops, and a hub that refuses the upgrade (401/403) until it
 * accepts, with the token file re-read at every attempt.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LivenessConformanceTest extends ScriptedHubTestBase {

    @Test
    void agentAnswersHubPingsWithTheSamePayloadAndPingsTheHub() throws Exception {
        Agent agent = startAgent(vars(targets("ldap", 1002)));
        ScriptedHub.Conn conn = connectReady(agent);
        for (byte[] payload : new byte[][] {
                "hub-ping-1".getBytes(StandardCharsets.US_ASCII),
                new byte[0],
                new byte[125]}) {
            payload = payload.length == 125 ? filled(payload) : payload;
            conn.ping(payload);
            byte[] pong = conn.pongs.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertArrayEquals(payload, pong, "pong must carry the ping's payload");
        }
        // the agent pings on its own (NC_PING_INTERVAL_SEC=1)
        assertTrue(conn.pings.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS) != null, "agent must ping the hub");
        assertTrue(conn.pings.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS) != null, "and keep pinging");
        Harness.await(WAIT, () -> agent.status().pingRttNanos() >= 0, "the hub's pongs are counted");
        assertEquals(1, hub.all.size());
    }

    @Test
    void unansweredPingsEndTheTunnelWithPingTimeoutAndItReconnects() throws Exception {
        var vars = vars(targets("ldap", 1002));
        vars.put("NC_PING_TIMEOUT_SEC", "2");
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);
        assertTrue(conn.pings.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS) != null);

        hub.answerPings = false;
        long start = System.nanoTime();
        assertTrue(conn.awaitEnded(WAIT), "the agent must end a tunnel whose pings go unanswered");
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        Harness.await(WAIT, () -> agent.status().endings().containsKey("ping_timeout"),
                      "ending counted as ping_timeout: " + agent.status().endings());
        // interval 1 s + timeout 2 s, plus a generous margin for a loaded machine
        assertTrue(tookMs < 1000 + 2000 + 4000, "ping timeout noticed after " + tookMs + " ms");
        assertTrue(tookMs >= 1000, "no pong is due before the timeout, ended after " + tookMs + " ms");

        hub.answerPings = true;
        ScriptedHub.Conn second = connectReady(agent);
        assertNotEquals(conn, second);
        System.out.println("ping_timeout detected after " + tookMs + " ms");
    }

    @Test
    void hubThatNeverAcksGetsHelloTimeoutAndTheAgentReconnects() throws Exception {
        hub.ack = null;
        var vars = vars(targets("ldap", 1002));
        vars.put("NC_PING_TIMEOUT_SEC", "1");
        Agent agent = startAgent(vars);
        ScriptedHub.Conn first = hub.awaitConnection(WAIT);
        assertTrue(first.next(WAIT).startsWith("{\"t\":\"HELLO\""));
        assertTrue(first.awaitEnded(WAIT), "no ack: the agent gives up on this tunnel");
        Harness.await(WAIT, () -> agent.status().endings().containsKey("hello_timeout"),
                      "ending counted as hello_timeout: " + agent.status().endings());
        assertEquals("OK\n", Harness.health(agent.healthPort()));

        ScriptedHub.Conn second = hub.awaitConnection(WAIT);
        assertTrue(second.next(WAIT).startsWith("{\"t\":\"HELLO\""), "a new HELLO on a new tunnel");
        second.send(ScriptedHub.HELLO_ACK);
        Harness.awaitReady(agent, WAIT);
        assertEquals("READY\n", Harness.health(agent.healthPort()));
    }

    @Test
    void hubDroppingTheTcpConnectionIsNoticedAtOnceAndItsStreamsDie() throws Exception {
        EchoServer echo = echo();
        TargetServer target = target();
        var vars = vars(targets("echo", echo.port(), "ldap", target.port()));
        vars.put("NC_PING_TIMEOUT_SEC", "20"); // a drop must not need the ping timeout to be seen
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();
        conn.send(data(cid, 0, new byte[] {42}));
        assertEquals(42, s.getInputStream().read());

        conn.dropTcpOnNextFrame(); // on the agent's next ping (every second): no close frame, just the TCP FIN
        Harness.await(WAIT, () -> conn.droppedAtNanos != 0, "hub dropped the connection");
        Harness.await(WAIT, () -> !agent.status().snapshot().ready(), "agent noticed the drop");
        long noticedMs = (System.nanoTime() - conn.droppedAtNanos) / 1_000_000;
        assertTrue(noticedMs < 2000, "drop noticed after " + noticedMs + " ms, must be well before the ping timeout");
        assertTrue(agent.status().endings().containsKey("closed"), "ending reason: " + agent.status().endings());
        int outcome = readOutcome(s);
        assertTrue(outcome == -1 || outcome == -2, "a stream dies with its tunnel: the target's socket is closed");

        ScriptedHub.Conn second = connectReady(agent);
        roundTrip(second, "echo");
        // the old stream is gone for good: frames for its cid on the new tunnel are dropped
        second.send(data(cid, 1, new byte[] {43}));
        assertNull(second.pollFor(cid, Duration.ofMillis(300)));
        System.out.println("TCP drop noticed after " + noticedMs + " ms");
    }

    @Test
    void hubCloseFrameIsAnsweredAndTheAgentReconnects() throws Exception {
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        conn.close(1001, "hub going away");
        var reply = conn.closeFrame.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals(1001, reply.getKey(), "the agent answers a close frame with a close frame (RFC 6455 5.5.1)");
        assertTrue(conn.awaitEnded(WAIT));
        ScriptedHub.Conn second = connectReady(agent);
        assertTrue(agent.status().endings().containsKey("closed"), "ending: " + agent.status().endings());
        roundTrip(second, "echo");
    }

    @Test
    void hubServerStopIsNoticedAtOnceAndTheAgentReconnectsWhenItIsBack() throws Exception {
        var vars = vars(targets("ldap", 1002));
        vars.put("NC_PING_TIMEOUT_SEC", "20");
        Agent agent = startAgent(vars);
        connectReady(agent);

        long stoppedAt = System.nanoTime();
        hub.stopServer();
        Harness.await(WAIT, () -> !agent.status().snapshot().ready(), "agent noticed the stop");
        long noticedMs = (System.nanoTime() - stoppedAt) / 1_000_000;
        assertTrue(noticedMs < 2000, "hub stop noticed after " + noticedMs + " ms");
        assertEquals("OK\n", Harness.health(agent.healthPort()));

        Thread.sleep(1500); // a few failed attempts while the hub is away
        assertTrue(agent.status().endings().containsKey("connect_failed"),
                   "attempts while the hub is down: " + agent.status().endings());
        long restartedAt = System.nanoTime();
        hub.restartServer();
        connectReady(agent);
        long readyMs = (System.nanoTime() - restartedAt) / 1_000_000;
        assertEquals("READY\n", Harness.health(agent.healthPort()));
        System.out.println("hub stop noticed after " + noticedMs + " ms; READY " + readyMs + " ms after the hub came back");
    }

    @ParameterizedTest
    @ValueSource(ints = {401, 403})
    void refusedUpgradeIsRetriedWithBackoffRereadingTheTokenFile(int status) throws Exception {
        hub.rejectStatus = status;
        var vars = vars(targets("ldap", 1002));
        Path token = Path.of(vars.get("NC_TOKEN_FILE"));
        writeAtomically(token, "token-one\n");
        Agent agent = startAgent(vars);

        assertEquals(Optional.of("Bearer token-one"), hub.awaitUpgrade(WAIT));
        assertEquals(Optional.of("Bearer token-one"), hub.awaitUpgrade(WAIT), "a refused upgrade is retried");
        Harness.await(WAIT, () -> agent.status().snapshot().lastError().orElse("").contains("auth_failed"),
                      "lastError mentions auth_failed: " + agent.status().snapshot().lastError());
        Harness.await(WAIT, () -> agent.status().endings().getOrDefault("auth_failed", 0L) >= 2,
                      "auth failures counted: " + agent.status().endings());
        assertNotEquals(TunnelStatus.State.STOPPING, agent.status().snapshot().state(), "never gives up");
        assertEquals("OK\n", Harness.health(agent.healthPort()));
        assertTrue(hub.all.isEmpty(), "no WebSocket was opened");

        writeAtomically(token, "  token-two \n");
        Optional<String> auth;
        do {
            auth = hub.awaitUpgrade(WAIT);
        } while (auth.equals(Optional.of("Bearer token-one")));
        assertEquals(Optional.of("Bearer token-two"), auth, "the token file is re-read at every attempt");

        hub.rejectStatus = 0;
        ScriptedHub.Conn conn = connectReady(agent);
        assertEquals("READY\n", Harness.health(agent.healthPort()));
        assertTrue(conn.log.getFirst().startsWith("{\"t\":\"HELLO\""));
    }

    @Test
    void missingTokenFileIsRetriedAndPickedUpWhenItIsBack() throws Exception {
        var vars = vars(targets("ldap", 1002));
        Path token = Path.of(vars.get("NC_TOKEN_FILE"));
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);

        java.nio.file.Files.delete(token);
        conn.dropTcpNow();
        Harness.await(WAIT, () -> agent.status().endings().getOrDefault("token_error", 0L) >= 2,
                      "attempts without a token file end as token_error: " + agent.status().endings());
        assertEquals(1, hub.upgradeAttempts.get(), "no upgrade without a token");
        String lastError = agent.status().snapshot().lastError().orElse("");
        assertTrue(lastError.contains("token_error"), lastError);

        writeAtomically(token, "restored-token\n");
        ScriptedHub.Conn second = connectReady(agent);
        assertEquals(Optional.of("Bearer restored-token"), hub.upgrades.stream().reduce((x, y) -> y).orElseThrow());
        assertTrue(second.log.getFirst().startsWith("{\"t\":\"HELLO\""));
    }

    private static byte[] filled(byte[] b) {
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) i;
        }
        return b;
    }
}
