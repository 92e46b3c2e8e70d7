package io.nowconnect.tunnel;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.nowconnect.Agent;
import io.nowconnect.Version;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ProtocolException;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TargetServer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code bin1} capability as the real agent speaks it to a scripted hub: negotiated only when the ack names it
 * (a v1 hub gets pure JSON), binary DATA byte for byte, the agent never sends beyond the credit it was granted, it
 * returns credit as its target reads, resets a stream whose peer overruns the window, accepts JSON DATA alongside,
 * and drops malformed binary frames without harm.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Bin1ConformanceTest extends ScriptedHubTestBase {
    static final String ACK_BIN1 = "{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\",\"bin1\"]}";
    private static final int WINDOW = BinaryCodec.INITIAL_WINDOW;

    @Test
    void aHubThatDoesNotAckBin1GetsPureV1Json() throws Exception {
        hub.ack = ScriptedHub.HELLO_ACK_DRAIN;
        EchoServer echo = echo();
        var vars = vars(targets("echo", echo.port()));
        vars.put("NC_MEMORY_BUDGET_MB", "64");
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = hub.awaitConnection(WAIT);
        assertEquals("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\",\"connectors\":[\"echo\"],\"ver\":\""
                             + Version.current() + "\",\"caps\":[\"drain\",\"bin1\",\"limits\",\"win\",\"replicas\"],\"win\":13312}",
                     conn.next(WAIT));
        Harness.awaitReady(agent, WAIT);

        // 600 KiB each way, more than two windows: no WINDOW, no binary DATA, v1 JSON DATA byte for byte
        String cid = newCid();
        conn.send(open(cid, "echo"));
        byte[] sent = new byte[600 * 1024];
        new Random(3).nextBytes(sent);
        ByteArrayOutputStream back = new ByteArrayOutputStream();
        long[] seqIn = {0};
        for (int i = 0, seq = 0; i < sent.length; i += 8192, seq++) {
            conn.send(data(cid, seq, Arrays.copyOfRange(sent, i, Math.min(sent.length, i + 8192))));
            // keep the echo's queue short: v1 has no flow control
            while (back.size() < i - 64 * 1024) {
                back.writeBytes(checkData(conn.nextFor(cid, WAIT), cid, seqIn[0]++, 8192));
            }
        }
        while (back.size() < sent.length) {
            back.writeBytes(checkData(conn.nextFor(cid, WAIT), cid, seqIn[0]++, 8192));
        }
        assertArrayEquals(sent, back.toByteArray());
        conn.send(finC2a(cid));
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT));
        assertEquals(0, conn.binaryFrames.get(), "a hub that did not ack bin1 must get no binary frame");
        // no other frame of the stream, nothing binary for it
        assertNull(conn.pollFor(cid, Duration.ofMillis(200)));
        assertTrue(conn.log.stream().allMatch(f -> f.startsWith("{\"t\":")), "text frames only: " + conn.log.size());
    }

    @Test
    void binaryDataStaysWithinTheGrantedCreditUntilWindowFramesReturnIt() throws Exception {
        hub.ack = ACK_BIN1;
        TargetServer target = target();
        var vars = vars(targets("ldap", target.port()));
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);

        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();
        byte[] sent = new byte[1 << 20];
        new Random(5).nextBytes(sent);
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                OutputStream out = s.getOutputStream();
                out.write(sent);
                s.shutdownOutput();
            } catch (Exception ignored) {
                // the test fails on the bytes
            }
        });

        ByteArrayOutputStream got = new ByteArrayOutputStream();
        long[] seq = {0};
        // the initial credit: exactly one window, then nothing
        readBinary(conn, cid, seq, got, WINDOW);
        assertEquals(WINDOW, got.size(), "the agent sent exactly its initial window");
        assertNull(conn.pollBinaryFor(cid, Duration.ofMillis(500)), "nothing beyond the window without a WINDOW");

        // an odd increment: exactly that many more bytes
        conn.sendBinary(BinaryCodec.encode(new Frame.Window(cid, 100_000)));
        readBinary(conn, cid, seq, got, WINDOW + 100_000);
        assertEquals(WINDOW + 100_000, got.size());
        assertNull(conn.pollBinaryFor(cid, Duration.ofMillis(300)), "nothing beyond the new credit");

        // the rest, in two increments
        conn.sendBinary(BinaryCodec.encode(new Frame.Window(cid, 300_000)));
        conn.sendBinary(BinaryCodec.encode(new Frame.Window(cid, sent.length)));
        readBinary(conn, cid, seq, got, sent.length);
        assertArrayEquals(sent, got.toByteArray(), "bytes intact and in order");
        writer.join();
        // FIN stays a JSON text frame
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT));
        assertTrue(conn.log.stream().noneMatch(f -> f.startsWith("{\"t\":\"DATA\"")), "no JSON DATA under bin1");
    }

    @Test
    void creditIsReturnedAsTheTargetReadsAndJsonDataIsAcceptedAlongside() throws Exception {
        hub.ack = ACK_BIN1;
        TargetServer target = target();
        Agent agent = startAgent(vars(targets("ldap", target.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();

        // 1 MiB hub -> target, sent as the credit allows: initial window, then every WINDOW the agent returns
        byte[] sent = new byte[1 << 20];
        new Random(9).nextBytes(sent);
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                assertArrayEquals(sent, readExactly(s, sent.length));
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        long credit = WINDOW;
        long returned = 0;
        int windows = 0;
        int pos = 0;
        int seq = 0;
        while (pos < sent.length) {
            while (credit == 0) {
                byte[] m = conn.pollBinaryFor(cid, WAIT);
                assertTrue(m != null, "no WINDOW from the agent");
                Frame f = decode(m);
                assertTrue(f instanceof Frame.Window, "only WINDOW expected from the agent, got " + f);
                long inc = ((Frame.Window) f).increment();
                assertTrue(inc >= WINDOW / 2, "credit is returned in batches of at least half a window: " + inc);
                credit += inc;
                returned += inc;
                windows++;
            }
            int n = (int) Math.min(Math.min(8192, credit), sent.length - pos);
            byte[] chunk = Arrays.copyOfRange(sent, pos, pos + n);
            // every other frame as v1 JSON: a receiver accepts both on a bin1 tunnel, and both count against credit
            if (seq % 2 == 0) {
                conn.sendBinary(BinaryCodec.encode(new Frame.Data(cid, seq, chunk)));
            } else {
                conn.send(data(cid, seq, chunk));
            }
            seq++;
            pos += n;
            credit -= n;
        }
        reader.join(WAIT.toMillis());
        assertTrue(windows >= 2, "1 MiB through a 256 KiB window needs at least 2 WINDOWs, got " + windows);
        // a receiver may grow its window (auto-tuning) by granting more than was consumed, up to the maximum window
        assertTrue(returned <= sent.length - WINDOW + BinaryCodec.MAX_WINDOW,
                   "credit beyond consumption only up to the largest window: " + returned);
        conn.send(finC2a(cid));
        assertEquals(-1, readOutcome(s), "FIN c2a half-closes the target");
    }

    @Test
    void dataBeyondTheWindowResetsTheStreamWithFlowControl() throws Exception {
        // win: the agent's window comes from its memory budget (8 MiB: 4 KiB per stream) and is in its HELLO
        hub.ack = "{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\",\"bin1\",\"win\"],\"win\":262144}";
        TargetServer target = target();
        EchoServer echo = echo();
        var vars = vars(targets("ldap", target.port(), "echo", echo.port()));
        vars.put("NC_MEMORY_BUDGET_MB", "8");
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();
        // one frame of window + 1 bytes: more than the agent granted, whatever its target did meanwhile
        conn.sendBinary(BinaryCodec.encode(new Frame.Data(cid, 0, new byte[4096 + 1])));
        assertEquals(rst(cid, "flow_control"), conn.nextFor(cid, WAIT));
        assertTrue(readOutcome(s) < 0, "the target's connection is closed");
        // only that stream: the tunnel goes on
        bin1RoundTrip(conn, "echo");
        assertEquals(1, hub.all.size(), "no reconnect");
    }

    @Test
    void malformedBinaryFramesAreDroppedAndCountedNeverFatal() throws Exception {
        hub.ack = ACK_BIN1;
        EchoServer echo = echo();
        CountingObserver observer = new CountingObserver();
        Agent agent = startAgent(vars(targets("echo", echo.port())), observer);
        ScriptedHub.Conn conn = connectReady(agent);
        String live = newCid();
        conn.send(open(live, "echo"));
        HexFormat hex = HexFormat.of();
        String[][] cases = {
                {"", "bin_short"},
                {"01", "bin_short"},
                {"0109", "bin_bad_cid"},
                {"010063", "bin_bad_cid"},
                {"0102c36300000000", "bin_bad_cid"},
                {"09016300000000", "bin_unknown_type"},
                {"02016300000000", "bin_bad_window"},
                {"0201630000000100", "bin_bad_window"},
                {"01016300", "bin_short"},
        };
        for (String[] c : cases) {
            long before = observer.droppedCount(c[1]);
            conn.sendBinary(hex.parseHex(c[0]));
            Harness.await(WAIT, () -> observer.droppedCount(c[1]) > before, c[0] + " dropped as " + c[1]);
        }
        // well-formed frames for a cid nobody knows
        long unknown = observer.droppedCount("unknown_cid");
        conn.sendBinary(BinaryCodec.encode(new Frame.Data("nope", 0, new byte[10])));
        conn.sendBinary(BinaryCodec.encode(new Frame.Window("nope", 10)));
        Harness.await(WAIT, () -> observer.droppedCount("unknown_cid") >= unknown + 2, "unknown cids dropped");
        assertTrue(agent.status().snapshot().ready(), "still ready");

        // the stream opened before the garbage still works
        byte[] msg = "still alive".getBytes(StandardCharsets.US_ASCII);
        conn.sendBinary(BinaryCodec.encode(new Frame.Data(live, 0, msg)));
        Frame.Data echoed = (Frame.Data) decode(nextBinary(conn, live));
        assertEquals(0, echoed.seq());
        assertArrayEquals(msg, echoed.payload());
        bin1RoundTrip(conn, "echo");
        assertEquals(1, hub.all.size(), "no reconnect");
        assertTrue(conn.errors.isEmpty(), "hub saw protocol errors: " + conn.errors);
    }

    @Test
    void bin1CanBeTurnedOffOnTheAgent() throws Exception {
        System.setProperty(TunnelConnection.BIN1_PROPERTY, "false");
        try {
            hub.ack = ACK_BIN1;
            EchoServer echo = echo();
            Agent agent = startAgent(vars(targets("echo", echo.port())));
            ScriptedHub.Conn conn = hub.awaitConnection(WAIT);
            assertTrue(conn.next(WAIT).endsWith(",\"caps\":[\"drain\",\"limits\",\"replicas\"]}"), "no bin1 in HELLO");
            Harness.awaitReady(agent, WAIT);
            roundTrip(conn, "echo");
            assertEquals(0, conn.binaryFrames.get());
        } finally {
            System.clearProperty(TunnelConnection.BIN1_PROPERTY);
        }
    }

    /** A stream to an echo target with binary DATA both ways, FIN both ways. */
    static void bin1RoundTrip(ScriptedHub.Conn conn, String connector) throws Exception {
        String cid = newCid();
        byte[] msg = ("bin1 round trip " + cid).getBytes(StandardCharsets.US_ASCII);
        conn.send(open(cid, connector));
        conn.sendBinary(BinaryCodec.encode(new Frame.Data(cid, 0, msg)));
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        readBinary(conn, cid, new long[] {0}, got, msg.length);
        assertArrayEquals(msg, got.toByteArray());
        conn.send(finC2a(cid));
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT));
    }

    /** Read binary DATA of a stream until {@code total} bytes arrived, checking seq, size and the exact header. */
    static void readBinary(ScriptedHub.Conn conn, String cid, long[] seq, ByteArrayOutputStream into, int total)
            throws Exception {
        while (into.size() < total) {
            byte[] m = nextBinary(conn, cid);
            Frame f = decode(m);
            assertTrue(f instanceof Frame.Data, "DATA expected, got " + f);
            Frame.Data d = (Frame.Data) f;
            assertEquals(seq[0]++, d.seq(), "seq counts DATA frames from 0");
            assertTrue(d.payload().length > 0 && d.payload().length <= BinaryCodec.MAX_DATA_PAYLOAD, "payload of " + d.payload().length);
            assertArrayEquals(BinaryCodec.encode(d), m, "canonical encoding");
            into.writeBytes(d.payload());
        }
        assertEquals(total, into.size(), "more bytes than expected");
    }

    static byte[] nextBinary(ScriptedHub.Conn conn, String cid) throws InterruptedException {
        byte[] m = conn.pollBinaryFor(cid, WAIT);
        if (m == null) {
            throw new AssertionError("no binary frame for " + cid + " within " + WAIT.toMillis() + " ms");
        }
        return m;
    }

    static Frame decode(byte[] m) {
        try {
            return BinaryCodec.decode(m);
        } catch (ProtocolException e) {
            throw new AssertionError("agent sent a malformed binary frame: " + e.getMessage(), e);
        }
    }
}
