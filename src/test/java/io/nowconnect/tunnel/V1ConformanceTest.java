package io.nowconnect.tunnel;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.nowconnect.Agent;
import io.nowconnect.Version;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TargetServer;
import io.nowconnect.testkit.ThreadCensus;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protocol v1 as the real agent speaks it to a scripted hub: HELLO byte for byte, readiness only after the ack,
 * the stream life cycle (OPEN, DATA with seq and chunking, FIN in each direction, RST), refusals, and the drain at
 * shutdown. Every frame the agent sends is compared as an exact string.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class V1ConformanceTest extends ScriptedHubTestBase {

    // ---- 1. HELLO

    @Test
    void helloIsByteExactV1WithBearerTokenFromTheFile() throws Exception {
        var vars = vars(targets("zeta", 1001, "ldap", 1002, "db", 1003));
        vars.put("NC_MEMORY_BUDGET_MB", "64"); // win: 40 % of 64 MiB over 2000 streams, in whole KiB
        Agent agent = startAgent(vars);

        assertEquals(Optional.of("Bearer test-token-1"), hub.awaitUpgrade(WAIT),
                     "Authorization must be the token file's content, trimmed");
        ScriptedHub.Conn conn = hub.awaitConnection(WAIT);
        String version = Version.current();
        assertFalse(version.isBlank() || version.startsWith("${"), "ver must be the project version: " + version);
        assertEquals("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\",\"connectors\":[\"zeta\",\"ldap\",\"db\"],\"ver\":\""
                             + version + "\",\"caps\":[\"drain\",\"bin1\",\"limits\",\"win\",\"replicas\"],\"win\":13312}",
                     conn.next(WAIT));
        Harness.awaitReady(agent, WAIT);
        // exactly one HELLO on the tunnel, nothing else unprompted
        assertNull(conn.texts.poll(300, TimeUnit.MILLISECONDS));
    }

    @Test
    void withoutTokenFileNoAuthorizationHeaderIsSent() throws Exception {
        var vars = vars(targets("ldap", 1002));
        vars.remove("NC_TOKEN_FILE");
        Agent agent = startAgent(vars);
        assertEquals(Optional.empty(), hub.awaitUpgrade(WAIT));
        ScriptedHub.Conn conn = hub.awaitConnection(WAIT);
        assertTrue(conn.next(WAIT).startsWith("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\","));
        Harness.awaitReady(agent, WAIT);
    }

    // ---- 2. Ready only after the ack

    @Test
    void healthSaysOkBeforeTheAckAndReadyAfterIt() throws Exception {
        hub.ack = null;
        var vars = vars(targets("ldap", 1002));
        vars.put("NC_PING_TIMEOUT_SEC", "15"); // also the HELLO_ACK deadline
        CountingObserver observer = new CountingObserver();
        Agent agent = startAgent(vars, observer);
        assertEquals("OK\n", Harness.health(agent.healthPort()), "before any connection");
        ScriptedHub.Conn conn = hub.awaitConnection(WAIT);
        assertTrue(conn.next(WAIT).startsWith("{\"t\":\"HELLO\""));
        // positive control: the agent's reader has handled a frame sent after HELLO (a malformed one, counted), so it
        // had every chance to turn ready; it must not have
        conn.send("{not json");
        Harness.await(WAIT, () -> observer.droppedCount("bad_json") == 1, "the malformed frame counted");
        assertFalse(agent.status().snapshot().ready(), "HELLO sent but not acknowledged: not ready");
        assertEquals("OK\n", Harness.health(agent.healthPort()));

        conn.send(ScriptedHub.HELLO_ACK);
        Harness.awaitReady(agent, WAIT);
        assertEquals("READY\n", Harness.health(agent.healthPort()));
        assertEquals(1, hub.all.size(), "no reconnect");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "{\"t\":\"HELLO_ACK\"}",
            "{\"t\":\"WELCOME\",\"epoch\":7}",
            "{\"t\":\"HELLO_ACK\",\"tenant\":\"acme\",\"x\":{\"deep\":[1,2,{\"a\":null}]},\"caps\":[\"bin9\"],\"f\":true}",
            "{\"epoch\":7,\"region\":\"eu\",\"t\":\"WELCOME\"}",
            "{ \"t\" : \"HELLO_ACK\" }"
    })
    void anyAckFormMakesTheTunnelReady(String ack) throws Exception {
        hub.ack = ack;
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        assertEquals("READY\n", Harness.health(agent.healthPort()));
        roundTrip(conn, "echo");
    }

    // ---- 3. Stream flow against a real target

    @Test
    void streamFlowSeqChunkingAndHalfCloseInBothDirections() throws Exception {
        TargetServer target = target();
        var vars = vars(targets("ldap", target.port()));
        vars.put("NC_MAX_WS_PAYLOAD", "1024");
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);
        Random random = new Random(42);

        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();

        // hub -> target: DATA seq 0, 1, 2 arrive intact and in order
        byte[] c2a = new byte[9000];
        random.nextBytes(c2a);
        conn.send(data(cid, 0, java.util.Arrays.copyOfRange(c2a, 0, 1)));
        conn.send(data(cid, 1, java.util.Arrays.copyOfRange(c2a, 1, 5000)));
        conn.send(data(cid, 2, java.util.Arrays.copyOfRange(c2a, 5000, 9000)));
        assertArrayEquals(c2a, readExactly(s, c2a.length));

        // target -> hub: 10 KiB in DATA frames of at most 1024 raw bytes, seq 0, 1, 2, ...
        byte[] a2c = new byte[10 * 1024];
        random.nextBytes(a2c);
        OutputStream out = s.getOutputStream();
        out.write(a2c);
        out.flush();
        long[] seq = {0};
        assertArrayEquals(a2c, readData(conn, cid, seq, a2c.length, 1024));
        assertTrue(seq[0] >= 10, "10 KiB in chunks of at most 1 KiB needs at least 10 frames, got " + seq[0]);

        // target EOF -> FIN a2c; the other direction keeps flowing
        s.shutdownOutput();
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT));
        byte[] late = "after the target's FIN".getBytes(StandardCharsets.US_ASCII);
        conn.send(data(cid, 3, late));
        assertArrayEquals(late, readExactly(s, late.length));

        // FIN c2a -> the target reads EOF
        conn.send(finC2a(cid));
        assertEquals(-1, s.getInputStream().read(), "FIN c2a must half-close the target's input");

        // both FINs: the stream is closed; nothing more for this cid, and late frames for it are dropped
        assertNull(conn.pollFor(cid, Duration.ofMillis(500)), "no frame after both FINs");
        conn.send(data(cid, 4, late));
        conn.send(finC2a(cid));
        assertNull(conn.pollFor(cid, Duration.ofMillis(300)), "frames for a closed cid are dropped silently");
        s.close();
        assertEquals(1, hub.all.size(), "the tunnel stays up");
        assertTrue(agent.status().snapshot().ready());
    }

    @Test
    void hubFinFirstThenTargetFinishes() throws Exception {
        TargetServer target = target();
        Agent agent = startAgent(vars(targets("ldap", target.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();
        conn.send(finC2a(cid));
        assertEquals(-1, s.getInputStream().read(), "FIN c2a before any DATA: target reads EOF");
        byte[] reply = "reply after client EOF".getBytes(StandardCharsets.US_ASCII);
        s.getOutputStream().write(reply);
        long[] seq = {0};
        assertArrayEquals(reply, readData(conn, cid, seq, reply.length, 8192));
        s.close();
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT));
        assertNull(conn.pollFor(cid, Duration.ofMillis(500)), "nothing after both FINs");
    }

    @Test
    void rstFromHubClosesTheTargetSocket() throws Exception {
        TargetServer target = target();
        Agent agent = startAgent(vars(targets("ldap", target.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();
        conn.send(data(cid, 0, "x".getBytes(StandardCharsets.US_ASCII)));
        assertEquals('x', s.getInputStream().read());
        conn.send(rst(cid, "client_gone"));
        int outcome = readOutcome(s);
        assertTrue(outcome == -1 || outcome == -2, "target must see EOF or reset, read returned " + outcome);
        assertNull(conn.pollFor(cid, Duration.ofMillis(300)), "no answer to an RST");
        assertTrue(agent.status().snapshot().ready());
    }

    @Test
    void fragmentedMessagesAreReassembled() throws Exception {
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        String openFrame = open(cid, "echo");
        conn.sendFragmented(List.of(openFrame.substring(0, 5), openFrame.substring(5, 20), openFrame.substring(20)));
        byte[] msg = "fragmented DATA".getBytes(StandardCharsets.US_ASCII);
        String dataFrame = data(cid, 0, msg);
        conn.sendFragmented(List.of(dataFrame.substring(0, 30), dataFrame.substring(30)));
        long[] seq = {0};
        assertArrayEquals(msg, readData(conn, cid, seq, msg.length, 8192));
        conn.send(finC2a(cid));
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT));
    }

    @Test
    void idleStreamIsResetWithIdleTimeout() throws Exception {
        TargetServer target = target();
        var vars = vars(targets("ldap", target.port()));
        vars.put("NC_IDLE_TIMEOUT_MS", "500");
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();
        assertEquals(rst(cid, "idle_timeout"), conn.nextFor(cid, WAIT));
        int outcome = readOutcome(s);
        assertTrue(outcome == -1 || outcome == -2, "the idle stream's socket is closed");
        assertTrue(agent.status().snapshot().ready());
    }

    // ---- 4. Refusals

    @Test
    void openForUnexportedConnectorIsResetAndNeverDialled() throws Exception {
        TargetServer target = target();
        CountingObserver observer = new CountingObserver();
        Agent agent = startAgent(vars(targets("ldap", target.port())), observer);
        ScriptedHub.Conn conn = connectReady(agent);
        for (String connector : List.of("nope", "LDAP", "ldap ", "")) {
            String cid = newCid();
            conn.send(open(cid, connector));
            assertEquals(rst(cid, "unknown_connector"), conn.nextFor(cid, WAIT), "connector \"" + connector + "\"");
        }
        // positive control: an OPEN for the exported connector, after the refused ones, is dialled; a stream is
        // registered before its dial, in the order the OPENs came, so the refused ones registered none
        conn.send(open(newCid(), "ldap"));
        target.awaitAccept();
        assertEquals(1, observer.openedCount(), "streams registered: the control's only " + observer.opened);
        assertEquals(1, target.accepts.get(), "the agent must never dial for an unexported connector");
        assertEquals(4, observer.refusedCount("unknown_connector"));
    }

    @Test
    void openWhoseTargetRefusesGetsConnectFailed() throws Exception {
        int closedPort = Harness.freePort();
        EchoServer echo = echo();
        CountingObserver observer = new CountingObserver();
        Agent agent = startAgent(vars(targets("down", closedPort, "echo", echo.port())), observer);
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "down"));
        assertEquals(rst(cid, "connect_failed"), conn.nextFor(cid, WAIT));
        // DATA racing the failed dial is dropped and counted; the tunnel serves the next stream (the positive control:
        // every frame the agent sends for the dead cid would come before that stream's), and nothing came for the cid
        conn.send(data(cid, 0, new byte[] {1}));
        Harness.await(WAIT, () -> observer.droppedCount("unknown_cid") == 1, "the DATA for the dead cid dropped");
        roundTrip(conn, "echo");
        assertNull(conn.pollFor(cid, Duration.ZERO), "a frame for the dead cid");
    }

    @Test
    void duplicateCidIsResetAndEndsTheStreamItNames() throws Exception {
        TargetServer target = target();
        Agent agent = startAgent(vars(targets("ldap", target.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();
        conn.send(open(cid, "ldap"));
        // one RST names the cid: the hub takes that stream for dead, so the agent ends it as well (no orphan target)
        assertEquals(rst(cid, "duplicate_cid"), conn.nextFor(cid, WAIT));
        // positive control: a later stream is dialled and answers; the duplicate, handled before it, dialled nothing,
        // and no second frame for the cid came before the control's
        String control = newCid();
        conn.send(open(control, "ldap"));
        Socket controlTarget = target.awaitAccept();
        controlTarget.getOutputStream().write('k');
        assertTrue(conn.nextFor(control, WAIT).contains("\"DATA\""), "the control stream's DATA");
        assertEquals(2, target.accepts.get(), "the duplicate OPEN must not dial");
        assertNull(conn.pollFor(cid, Duration.ZERO), "exactly one RST");
        s.setSoTimeout(5000);
        assertThrows(java.io.IOException.class, () -> {
            // the target sees the stream's reset
            if (s.getInputStream().read() < 0) {
                throw new java.io.EOFException("closed");
            }
        });
        // the tunnel serves the next stream
        conn.send(open(newCid(), "ldap"));
        target.awaitAccept();
        assertEquals(3, target.accepts.get());
    }

    @Test
    void openBeyondMaxInflightGetsTooManyStreams() throws Exception {
        TargetServer target = target();
        var vars = vars(targets("ldap", target.port()));
        vars.put("NC_MAX_INFLIGHT_CIDS", "2");
        CountingObserver observer = new CountingObserver();
        Agent agent = startAgent(vars, observer);
        ScriptedHub.Conn conn = connectReady(agent);
        String a = newCid();
        String b = newCid();
        conn.send(open(a, "ldap"));
        conn.send(open(b, "ldap"));
        target.awaitAccept();
        target.awaitAccept();
        String c = newCid();
        conn.send(open(c, "ldap"));
        assertEquals(rst(c, "too_many_streams"), conn.nextFor(c, WAIT));
        // the refusal is decided, and the RST sent, on the reader before any dial could start: no stream was registered
        assertEquals(2, observer.openedCount(), "the refused OPEN must not register a stream, nor dial");
        assertEquals(2, target.accepts.get(), "the refused OPEN must not dial");

        // a stream closed by RST frees its slot (the RST is processed asynchronously: retry a few times)
        conn.send(rst(a, "done"));
        boolean reused = false;
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!reused && System.nanoTime() < deadline) {
            String d = newCid();
            conn.send(open(d, "ldap"));
            if (target.accepted.poll(300, TimeUnit.MILLISECONDS) != null) {
                reused = true;
            } else {
                assertEquals(rst(d, "too_many_streams"), conn.nextFor(d, WAIT));
            }
        }
        assertTrue(reused, "a slot freed by RST must be reusable");
    }

    // ---- 9. Shutdown

    /**
     * With the {@code drain} capability: DRAIN goes out once; an OPEN the hub sent before it read DRAIN (within
     * {@code TunnelConnection.IN_FLIGHT_GRACE} of it) is still served, so that a client the hub already gave to this
     * tunnel is not closed; an OPEN after that gets RST {@code draining}; open streams finish, then a normal close.
     */
    @Test
    void shutdownWithDrainCapSendsDrainRefusesOpensAndLetsStreamsFinish() throws Exception {
        hub.ack = ScriptedHub.HELLO_ACK_DRAIN;
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);

        String cid = newCid();
        long[] seq = openAndEcho(conn, cid, "before stop");

        AtomicReference<Throwable> stopFailure = new AtomicReference<>();
        Thread stopper = Thread.ofVirtual().start(() -> {
            try {
                stopAgent(agent, Duration.ofSeconds(5));
            } catch (Throwable t) {
                stopFailure.set(t);
            }
        });

        assertEquals("{\"t\":\"DRAIN\"}", conn.awaitText(f -> !f.contains("\"cid\""), WAIT));

        long drainSeen = System.nanoTime();
        // sent before the hub read DRAIN: served, and the drain waits for it
        String inFlight = newCid();
        openAndEcho(conn, inFlight, "crossed the drain");
        assertTrue(System.nanoTime() - drainSeen < TunnelConnection.IN_FLIGHT_GRACE.toNanos(),
                   "the OPEN arrived within the grace");
        conn.send(finC2a(inFlight));
        assertEquals(finA2c(inFlight), conn.nextFor(inFlight, WAIT));

        // a hub that goes on sending OPEN after the grace is refused
        Thread.sleep(TunnelConnection.IN_FLIGHT_GRACE.toMillis());
        String late = newCid();
        conn.send(open(late, "echo"));
        assertEquals(rst(late, "draining"), conn.nextFor(late, WAIT));

        // the open stream still flows while draining
        byte[] second = "during the drain".getBytes(StandardCharsets.US_ASCII);
        conn.send(data(cid, 1, second));
        assertArrayEquals(second, readData(conn, cid, seq, second.length, 8192));
        assertFalse(conn.closeFrame.isDone(), "no close while a stream is open");
        assertTrue(stopper.isAlive(), "stop waits for the open stream");

        conn.send(finC2a(cid));
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT));
        Map.Entry<Integer, String> close = conn.closeFrame.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals(1000, close.getKey(), "normal close after the drain: " + close);
        stopper.join(WAIT);
        assertFalse(stopper.isAlive(), "stop returns once the tunnel is closed");
        assertNull(stopFailure.get());
        int drainAt = conn.log.indexOf("{\"t\":\"DRAIN\"}");
        assertEquals(conn.log.lastIndexOf("{\"t\":\"DRAIN\"}"), drainAt, "one DRAIN");
    }

    /** OPEN a stream of the echo connector and have one DATA echoed; returns the stream's sequence reader state. */
    private static long[] openAndEcho(ScriptedHub.Conn conn, String cid, String text) throws Exception {
        conn.send(open(cid, "echo"));
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        conn.send(data(cid, 0, bytes));
        long[] seq = {0};
        assertArrayEquals(bytes, readData(conn, cid, seq, bytes.length, 8192));
        return seq;
    }

    @Test
    void shutdownWithoutDrainCapSendsNoDrainButStillRefusesAndFinishes() throws Exception {
        hub.ack = ScriptedHub.HELLO_ACK;
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "echo"));
        byte[] first = "v1 hub".getBytes(StandardCharsets.US_ASCII);
        conn.send(data(cid, 0, first));
        long[] seq = {0};
        assertArrayEquals(first, readData(conn, cid, seq, first.length, 8192));

        Thread stopper = Thread.ofVirtual().start(() -> stopAgent(agent, Duration.ofSeconds(5)));
        Harness.await(WAIT, () -> agent.status().snapshot().state() == TunnelStatus.State.STOPPING, "stop began");

        // without the cap the hub gets no signal of when the drain starts: an OPEN racing it may still be served
        // (reset it and try again); once draining, OPEN gets RST draining
        String refused = null;
        for (int i = 0; i < 20 && refused == null; i++) {
            String late = newCid();
            conn.send(open(late, "echo"));
            String answer = conn.pollFor(late, Duration.ofMillis(500));
            if (answer == null) {
                conn.send(rst(late, "test_retry"));
            } else {
                assertEquals(rst(late, "draining"), answer);
                refused = late;
            }
        }
        assertTrue(refused != null, "an OPEN after stop began must get RST draining");
        byte[] second = "still flowing".getBytes(StandardCharsets.US_ASCII);
        conn.send(data(cid, 1, second));
        assertArrayEquals(second, readData(conn, cid, seq, second.length, 8192));
        conn.send(finC2a(cid));
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT));
        assertEquals(1000, conn.closeFrame.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).getKey());
        stopper.join(WAIT);
        assertFalse(stopper.isAlive());
        assertFalse(conn.log.stream().anyMatch(f -> f.contains("DRAIN")), "no DRAIN to a hub without the cap: " + conn.log);
    }

    @Test
    void shutdownWithNoStreamsClosesNormallyAtOnce() throws Exception {
        hub.ack = ScriptedHub.HELLO_ACK_DRAIN;
        Agent agent = startAgent(vars(targets("ldap", 1002)));
        ScriptedHub.Conn conn = connectReady(agent);
        long start = System.nanoTime();
        stopAgent(agent, Duration.ofSeconds(5));
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        assertEquals(1000, conn.closeFrame.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).getKey());
        assertEquals(List.of("{\"t\":\"DRAIN\"}"), conn.log.subList(1, conn.log.size()), "DRAIN, then the close");
        assertTrue(tookMs < 4000, "no streams: stop must not wait for the drain timeout (" + tookMs + " ms)");
        assertTrue(conn.awaitEnded(WAIT));
        // positive control: the agent's supervisor and tunnel threads are gone, so nothing is left that could dial
        Harness.await(WAIT, () -> ThreadCensus.named("nc-supervisor") + ThreadCensus.named("nc-tunnel") == 0,
                      "the agent's supervisor and tunnel threads ended: " + ThreadCensus.kinds("nc-"));
        assertEquals(1, hub.upgradeAttempts.get(), "no reconnect after stop");
    }

    @Test
    void drainGoesOutOnceWhenShutdownRacesTheAck() throws Exception {
        // the agent reports ready while its reader is still handling the ack; a stop at that moment used to make both
        // the ack handler and drain() send DRAIN
        hub.ack = ScriptedHub.HELLO_ACK_DRAIN;
        for (int run = 0; run < 8; run++) {
            Agent agent = startAgent(vars(targets("ldap", 1002)));
            ScriptedHub.Conn conn = hub.awaitConnection(WAIT);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!agent.status().snapshot().ready() && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            stopAgent(agent, Duration.ofSeconds(5));
            assertEquals(1000, conn.closeFrame.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).getKey());
            assertEquals(1, conn.log.stream().filter("{\"t\":\"DRAIN\"}"::equals).count(),
                         "exactly one DRAIN in run " + run + ": " + conn.log);
        }
    }
}
