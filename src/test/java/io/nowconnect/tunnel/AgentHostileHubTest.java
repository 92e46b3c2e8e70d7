package io.nowconnect.tunnel;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Gauges;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TargetServer;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hostile or broken hub against the real agent: malformed and unexpected frames are dropped and counted without
 * ending the tunnel; oversized messages may end the tunnel but the agent reconnects; a flood that overflows one
 * stream's queue resets that stream only.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AgentHostileHubTest extends ScriptedHubTestBase {
    /** Most the heap may grow while a non-reading hub floods OPENs: a fifth of the 40 MB the flood offers. */
    private static final long MAX_FLOOD_HEAP_GROWTH = 8L << 20;

    /** One hostile frame, the drop reason the agent must count for it, and a label for failures. */
    private record Case(String label, String frame, String droppedAs) {
    }

    @Test
    void malformedAndUnexpectedFramesAreDroppedCountedAndHarmless() throws Exception {
        EchoServer echo = echo();
        CountingObserver observer = new CountingObserver();
        Agent agent = startAgent(vars(targets("echo", echo.port())), observer);
        ScriptedHub.Conn conn = connectReady(agent);

        // a live stream that hostile frames aimed at it must not disturb
        String live = newCid();
        conn.send(open(live, "echo"));
        long[] liveSeqOut = {0};
        long[] liveSeqIn = {0};

        String deep = "[".repeat(5000) + "]".repeat(5000);
        List<Case> cases = List.of(
                new Case("not JSON", "{not json", "bad_json"),
                new Case("empty text", "", "bad_json"),
                new Case("JSON array", "[1,2,3]", "bad_json"),
                new Case("JSON null", "null", "bad_json"),
                new Case("trailing garbage", open(newCid(), "echo") + " trailing", "bad_json"),
                new Case("deep nesting", "{\"t\":\"OPEN\",\"x\":" + deep + "}", "bad_json"),
                new Case("unknown t", "{\"t\":\"BOGUS\",\"cid\":\"" + live + "\"}", "unknown_type"),
                new Case("t not a string", "{\"t\":7}", "bad_field"),
                new Case("no t", "{\"cid\":\"x\",\"connector\":\"echo\"}", "missing_field"),
                new Case("OPEN without connector", "{\"t\":\"OPEN\",\"cid\":\"x\"}", "missing_field"),
                new Case("OPEN without cid", "{\"t\":\"OPEN\",\"connector\":\"echo\"}", "missing_field"),
                new Case("OPEN cid a number", "{\"t\":\"OPEN\",\"cid\":123,\"connector\":\"echo\"}", "bad_field"),
                new Case("DATA without seq", "{\"t\":\"DATA\",\"cid\":\"" + live + "\",\"b64\":\"AA==\"}", "missing_field"),
                new Case("DATA without b64", "{\"t\":\"DATA\",\"cid\":\"" + live + "\",\"seq\":0}", "missing_field"),
                new Case("DATA seq a string", "{\"t\":\"DATA\",\"cid\":\"" + live + "\",\"seq\":\"0\",\"b64\":\"AA==\"}",
                         "bad_field"),
                new Case("DATA negative seq", "{\"t\":\"DATA\",\"cid\":\"" + live + "\",\"seq\":-1,\"b64\":\"AA==\"}",
                         "bad_field"),
                new Case("DATA bad base64", "{\"t\":\"DATA\",\"cid\":\"" + live + "\",\"seq\":0,\"b64\":\"!!not*base64\"}",
                         "bad_base64"),
                new Case("FIN bad dir", "{\"t\":\"FIN\",\"cid\":\"" + live + "\",\"dir\":\"sideways\"}", "bad_field"),
                new Case("FIN a2c from the hub", finA2c(live), "bad_direction"),
                new Case("DATA unknown cid", data(newCid(), 0, new byte[] {1, 2, 3}), "unknown_cid"),
                new Case("FIN unknown cid", finC2a(newCid()), "unknown_cid"),
                new Case("RST unknown cid", rst(newCid(), "whatever"), "unknown_cid"),
                new Case("HELLO from the hub", "{\"t\":\"HELLO\",\"agent_id\":\"evil\",\"connectors\":[],\"ver\":\"9\"}",
                         "unexpected_frame"),
                new Case("DRAIN from the hub", "{\"t\":\"DRAIN\"}", "unexpected_frame"),
                new Case("second HELLO_ACK", "{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}", "duplicate_ack"));

        for (Case c : cases) {
            long before = observer.droppedCount(c.droppedAs());
            conn.send(c.frame());
            Harness.await(WAIT, () -> observer.droppedCount(c.droppedAs()) > before,
                          c.label() + ": dropped and counted as " + c.droppedAs() + " (counted: " + observer.dropped + ")");
            assertAlive(agent, conn, c.label());
            roundTrip(conn, "echo");
            // the live stream still works, seq continuing where it was
            byte[] msg = ("live after " + c.label()).getBytes(StandardCharsets.UTF_8);
            conn.send(data(live, liveSeqOut[0]++, msg));
            assertArrayEquals(msg, readData(conn, live, liveSeqIn, msg.length, 8192), c.label() + ": live stream");
        }

        // a binary frame
        long binBefore = observer.droppedCount("binary_frame");
        conn.sendBinary(new byte[] {0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0x4f, 0x50, 0x45, 0x4e, 0x22, 0x7d});
        Harness.await(WAIT, () -> observer.droppedCount("binary_frame") > binBefore, "binary frame dropped and counted");
        assertAlive(agent, conn, "binary frame");
        roundTrip(conn, "echo");

        // OPEN with a 10 KB connector name: RST unknown_connector, nothing dialled
        String longCid = newCid();
        conn.send(open(longCid, "x".repeat(10_000)));
        assertEquals(rst(longCid, "unknown_connector"), conn.nextFor(longCid, WAIT));
        // a cid that needs JSON escaping comes back escaped, byte for byte
        String escaped = "a\\\"b\\\\c\\u0001";
        conn.send("{\"t\":\"OPEN\",\"cid\":\"" + escaped + "\",\"connector\":\"nope\"}");
        assertEquals("{\"t\":\"RST\",\"cid\":\"" + escaped + "\",\"err\":\"unknown_connector\"}",
                     conn.awaitText(f -> f.startsWith("{\"t\":\"RST\",\"cid\":\"" + escaped), WAIT));
        assertAlive(agent, conn, "long connector name");
        roundTrip(conn, "echo");

        conn.send(finC2a(live));
        assertEquals(finA2c(live), conn.nextFor(live, WAIT));
        assertEquals(1, hub.all.size(), "no reconnect: " + agent.status().endings());
        assertTrue(conn.errors.isEmpty(), "hub saw protocol errors: " + conn.errors);
    }

    @Test
    void openFloodIsRefusedBeyondTheLimitAndNeverDialsOutsideTheMap() throws Exception {
        TargetServer target = target();
        EchoServer echo = echo();
        var vars = vars(targets("ldap", target.port(), "echo", echo.port()));
        vars.put("NC_MAX_INFLIGHT_CIDS", "50");
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);

        int unexported = 3000;
        int exported = 1000;
        List<String> ldapCids = new ArrayList<>();
        for (int i = 0; i < unexported; i++) {
            conn.send(open("u-" + i, "secret-db"));
        }
        for (int i = 0; i < exported; i++) {
            String cid = "l-" + i;
            ldapCids.add(cid);
            conn.send(open(cid, "ldap"));
        }
        for (int i = 0; i < unexported; i++) {
            assertEquals(rst("u-" + i, "unknown_connector"), conn.nextFor("u-" + i, WAIT));
        }
        // OPENs are handled in order: the first 50 take every slot (the target accepts and holds them)
        int refused = 0;
        for (String cid : ldapCids.subList(50, exported)) {
            assertEquals(rst(cid, "too_many_streams"), conn.nextFor(cid, WAIT));
            refused++;
        }
        for (String cid : ldapCids.subList(0, 50)) {
            assertNull(conn.pollFor(cid, Duration.ofMillis(5)), "stream " + cid + " was served");
        }
        assertEquals(exported - 50, refused, "all OPENs beyond NC_MAX_INFLIGHT_CIDS=50 refused");
        Harness.await(WAIT, () -> target.accepts.get() == 50, "exactly 50 dials: " + target.accepts.get());
        Thread.sleep(200);
        assertEquals(50, target.accepts.get());
        assertAlive(agent, conn, "OPEN flood");

        // free the slots and the tunnel serves new streams
        for (String cid : ldapCids) {
            conn.send(rst(cid, "flood_over"));
        }
        boolean served = false;
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!served && System.nanoTime() < deadline) {
            try {
                roundTrip(conn, "echo");
                served = true;
            } catch (AssertionError e) {
                // slots are released asynchronously after the RSTs; try again
            }
        }
        assertTrue(served, "a new stream works once the flood's streams are reset");
        assertEquals(1, hub.all.size());
    }

    @Test
    void hubThatFloodsButNeverReadsCannotGrowTheAgentsMemoryWithoutBound() throws Exception {
        Agent agent = startAgent(vars(targets("ldap", 1002)));
        ScriptedHub.Conn conn = connectReady(agent);
        long heapBefore = Gauges.heapUsedAfterGc();
        conn.stallReads(); // the hub stops reading: every answer the agent writes piles up somewhere
        // cids of up to 128 characters are accepted (longer ones are dropped as malformed, unanswered)
        String pad = "c".repeat(120);
        int total = 250_000; // 40 MB of OPENs for an unexported connector, each answered by an RST
        AtomicInteger sent = new AtomicInteger();
        Thread sender = Thread.ofVirtual().name("test-open-flood").start(() -> {
            try {
                for (int i = 0; i < total; i++) {
                    conn.send(open(pad + i, "nope"));
                    sent.incrementAndGet();
                }
            } catch (RuntimeException e) {
                // the agent ended the tunnel
            }
        });
        // bounded memory: the agent stops reading (TCP back-pressure stalls this sender) or ends the tunnel;
        // it must not read all 40 MB and queue every RST for a hub that reads nothing
        int last = -1;
        long stalledSince = System.nanoTime();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (sender.isAlive() && conn.ended.getCount() == 1 && System.nanoTime() < deadline) {
            int now = sent.get();
            if (now != last) {
                last = now;
                stalledSince = System.nanoTime();
            } else if (System.nanoTime() - stalledSince > Duration.ofSeconds(2).toNanos()) {
                break; // back-pressure
            }
            Thread.sleep(50);
        }
        // the memory itself: what this JVM (agent and scripted hub) holds after a full collection, while the flood
        // is held up, against the 40 MB the hub offered; the RSTs the agent could not send are in its capped urgent
        // lane or its socket buffer, not on the heap
        long heapGrowth = Gauges.heapUsedAfterGc() - heapBefore;
        System.out.println("non-reading hub: " + sent.get() + " of " + total + " OPENs accepted; heap growth "
                                   + (heapGrowth >> 10) + " KiB; tunnel " + (conn.ended.getCount() == 0 ? "ended" : "up")
                                   + "; agent endings " + agent.status().endings());
        assertTrue(sent.get() < total || conn.ended.getCount() == 0,
                   "the agent read all " + total + " OPENs (40 MB) from a hub that reads nothing and queued every RST");
        assertTrue(heapGrowth < MAX_FLOOD_HEAP_GROWTH, "heap grew by " + (heapGrowth >> 10) + " KiB under a flood of "
                + sent.get() + " OPENs from a hub that reads nothing (bound " + (MAX_FLOOD_HEAP_GROWTH >> 20) + " MiB)");
        conn.dropTcpNow();
        sender.join(WAIT);
        connectReady(agent);
    }

    @Test
    void oversizedTextFrameMayEndTheTunnelButTheAgentReconnects() throws Exception {
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String huge = "{\"t\":\"OPEN\",\"cid\":\"big\",\"connector\":\"" + "x".repeat((1 << 20) + 1024) + "\"}";
        sendIgnoringFailure(() -> conn.send(huge));
        assertTrue(conn.awaitEnded(WAIT), "the agent refuses a message larger than 1 MiB");
        ScriptedHub.Conn second = connectReady(agent);
        assertTrue(agent.status().endings().containsKey("protocol_error"), "ending: " + agent.status().endings());
        roundTrip(second, "echo");
        // (the agent's close 1009 may be lost: it drops the connection with the rest of the huge frame unread)
    }

    @Test
    void oversizedBinaryAndFragmentedMessagesEndTheTunnelButTheAgentReconnects() throws Exception {
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        sendIgnoringFailure(() -> conn.sendBinary(new byte[(1 << 20) + 4096]));
        assertTrue(conn.awaitEnded(WAIT), "binary frame larger than 1 MiB");
        ScriptedHub.Conn second = connectReady(agent);
        roundTrip(second, "echo");

        // many small fragments adding up to more than 1 MiB
        List<String> parts = new ArrayList<>();
        parts.add("{\"t\":\"OPEN\",\"cid\":\"frag\",\"connector\":\"");
        for (int i = 0; i < 20; i++) {
            parts.add("y".repeat(64 * 1024));
        }
        parts.add("\"}");
        sendIgnoringFailure(() -> second.sendFragmented(parts));
        assertTrue(second.awaitEnded(WAIT), "fragmented message larger than 1 MiB");
        ScriptedHub.Conn third = connectReady(agent);
        roundTrip(third, "echo");
        assertTrue(agent.status().endings().getOrDefault("protocol_error", 0L) >= 2, "endings: " + agent.status().endings());
    }

    @Test
    void queueOverflowResetsOnlyTheStalledStream() throws Exception {
        TargetServer stalled = target(1024);
        EchoServer echo = echo();
        var vars = vars(targets("stuck", stalled.port(), "echo", echo.port()));
        vars.put("NC_QUEUE_DEPTH_PER_CID", "4");
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);

        String a = newCid();
        conn.send(open(a, "stuck"));
        Socket stuck = stalled.awaitAccept(); // accepted, never read
        String b = newCid();
        conn.send(open(b, "echo"));
        long[] bOut = {0};
        long[] bIn = {0};
        echoOnce(conn, b, bOut, bIn, "before the flood");

        byte[] chunk = new byte[8192];
        new Random(7).nextBytes(chunk);
        AtomicInteger sent = new AtomicInteger();
        AtomicReference<Throwable> floodError = new AtomicReference<>();
        Thread flood = Thread.ofVirtual().name("test-flood").start(() -> {
            try {
                // all of them: those after the reset are for a closed cid and must be dropped
                for (int i = 0; i < 2000; i++) {
                    conn.send(data(a, i, chunk));
                    sent.incrementAndGet();
                }
            } catch (Throwable t) {
                floodError.set(t);
            }
        });

        // B keeps echoing while A is flooded
        int rounds = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (flood.isAlive() && System.nanoTime() < deadline) {
            echoOnce(conn, b, bOut, bIn, "during the flood, round " + rounds++);
        }
        flood.join(WAIT);
        assertFalse(flood.isAlive(), "flood finished");
        assertNull(floodError.get());
        assertEquals(rst(a, "queue_overflow"), conn.nextFor(a, WAIT), "a stalled stream's full queue resets it");

        // after the flood: B still works, A gets nothing more, the tunnel stayed up
        for (int i = 0; i < 3; i++) {
            echoOnce(conn, b, bOut, bIn, "after the flood " + i);
        }
        assertNull(conn.pollFor(a, Duration.ofMillis(300)), "nothing more for the reset stream");
        conn.send(finC2a(b));
        assertEquals(finA2c(b), conn.nextFor(b, WAIT), "B ends normally, never reset");
        assertAlive(agent, conn, "queue overflow");
        int outcome = readOutcomeAfterDraining(stuck);
        assertTrue(outcome == -1 || outcome == -2, "the stalled target's socket is closed by the agent");
        System.out.println("flood of " + sent.get() + " DATA frames of 8 KiB; B echoed " + rounds
                                   + " times during the flood");
    }

    private static void echoOnce(ScriptedHub.Conn conn, String cid, long[] out, long[] in, String label)
            throws InterruptedException {
        byte[] msg = ("echo " + label).getBytes(StandardCharsets.US_ASCII);
        conn.send(data(cid, out[0]++, msg));
        assertArrayEquals(msg, readData(conn, cid, in, msg.length, 8192), label);
    }

    /** Read what the target buffered until EOF or reset. */
    private static int readOutcomeAfterDraining(Socket s) throws Exception {
        s.setSoTimeout((int) WAIT.toMillis());
        byte[] buf = new byte[65536];
        try {
            while (true) {
                int n = s.getInputStream().read(buf);
                if (n < 0) {
                    return -1;
                }
            }
        } catch (java.net.SocketTimeoutException e) {
            throw e;
        } catch (java.io.IOException e) {
            return -2;
        }
    }

    private static void assertAlive(Agent agent, ScriptedHub.Conn conn, String label) {
        assertTrue(agent.status().snapshot().ready(), label + ": agent still ready");
        assertEquals(1, conn.ended.getCount(), label + ": tunnel still up");
    }

    private static void sendIgnoringFailure(Runnable send) {
        try {
            send.run();
        } catch (RuntimeException e) {
            // the agent may close while the hub is still writing
        }
    }
}
