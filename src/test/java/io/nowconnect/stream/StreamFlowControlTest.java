package io.nowconnect.stream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.testkit.Harness;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bin1 flow-control rules of one stream, with the test as the tunnel peer (it dispatches DATA and WINDOW into the
 * stream's table and reads the frames the stream sends) and a real loopback socket as the stream's local side:
 * <ul>
 *     <li>send side: DATA never exceeds the credit (the initial window plus every WINDOW increment); the reader waits
 *     at zero credit; a WINDOW that pushes the credit past 2^32-1 resets the stream with {@code flow_control};</li>
 *     <li>receive side: DATA beyond the receive window resets the stream with {@code flow_control}; credit is returned
 *     with one urgent WINDOW once half a window has been written to the socket (a whole window up to 8 KiB); the
 *     window doubles only when the socket has written everything queued and the tunnel's growth budget allows, and
 *     the growth goes back to the budget when the stream ends;</li>
 *     <li>v1 (no window): a WINDOW is dropped and counted.</li>
 * </ul>
 * {@link StreamWindowTest} covers the growth up to {@link BinaryCodec#MAX_WINDOW} under a bulk transfer.
 */
@Timeout(60)
class StreamFlowControlTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String CID = "c1";

    /** Frames the stream sent, with whether they went on the urgent lane. */
    private final LinkedBlockingQueue<Sent> sent = new LinkedBlockingQueue<>();
    private final Map<String, Integer> dropped = new ConcurrentHashMap<>();
    private final List<String> closed = new CopyOnWriteArrayList<>();
    private final StreamObserver observer = new StreamObserver() {
        @Override
        public void dropped(String reason) {
            dropped.merge(reason, 1, Integer::sum);
        }

        @Override
        public void closed(String connector, String result) {
            closed.add(result);
        }

        @Override
        public void wire(WireEvent event) {
            (event == WireEvent.CREDIT_WAIT ? creditWaits : event == WireEvent.FLOW_CONTROL_RESET ? flowControlResets
                    : other).increment();
        }
    };
    private final LongAdder creditWaits = new LongAdder();
    private final LongAdder flowControlResets = new LongAdder();
    private final LongAdder other = new LongAdder();
    private ServerSocket server;
    private Socket local;
    private Socket peer;
    private final MemoryBudget memory = MemoryBudget.create(64L << 20);
    private StreamTable table;

    private record Sent(Frame frame, boolean urgent) {
    }

    @AfterEach
    void close() throws IOException {
        if (table != null) {
            table.closeAll(ResetReason.RESET);
        }
        Harness.closeQuietly(peer, local, server);
    }

    /**
     * A table with the given window (0 = v1) and one started stream whose local socket is connected to {@link #peer}.
     *
     * @param window flow-control window
     * @param peerReceiveBuffer receive buffer of the peer socket (0 = default): small keeps the stream's writes blocked
     */
    private Stream stream(int window, int peerReceiveBuffer) throws Exception {
        table = StreamTable.create(new StreamSettings(BinaryCodec.MAX_DATA_PAYLOAD, 64, Duration.ofMinutes(5),
                                                      Duration.ofSeconds(5), 10),
                                   new RecordingSink((frame, urgent) -> sent.add(new Sent(frame, urgent))), Direction.A2C,
                                   observer,
                                   StreamBudget.create(10), Shares.of(memory).open("tenant"));
        table.enableFlowControl(window);
        server = new ServerSocket();
        if (peerReceiveBuffer > 0) {
            server.setReceiveBufferSize(peerReceiveBuffer);
        }
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 10);
        local = new Socket();
        if (peerReceiveBuffer > 0) {
            local.setSendBufferSize(peerReceiveBuffer);
        }
        local.connect(server.getLocalSocketAddress());
        peer = server.accept();
        peer.setSoTimeout((int) WAIT.toMillis());
        Stream stream = table.register(CID, "svc");
        stream.start(local);
        return stream;
    }

    private Sent next() throws InterruptedException {
        Sent s = sent.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertNotNull(s, "a frame from the stream within " + WAIT.toMillis() + " ms");
        return s;
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    @Test
    void dataNeverExceedsTheCreditAndAWindowLetsExactlyThatMuchMoreGo() throws Exception {
        int window = 100_000;
        Stream stream = stream(window, 0);
        assertTrue(stream.flowControlled());
        assertEquals(window, stream.credit(), "the initial window is the first credit");
        long waitsBefore = creditWaits.sum();
        // the local side has far more to send than the credit allows
        OutputStream out = peer.getOutputStream();
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                out.write(bytes(window * 3, 7));
                out.flush();
            } catch (IOException ignored) {
                // the stream ended
            }
        });
        Harness.await(WAIT, () -> stream.credit() == 0 && creditWaits.sum() > waitsBefore, "the reader waits for credit");
        assertEquals(window, dataBytes(), "exactly the credit was sent");

        table.dispatch(new Frame.Window(CID, 30_000));
        Harness.await(WAIT, () -> stream.credit() == 0 && creditWaits.sum() > waitsBefore + 1, "credit used up again");
        assertEquals(30_000, dataBytes(), "exactly the increment was sent");
        assertNull(sent.poll(200, TimeUnit.MILLISECONDS), "nothing beyond the credit");
        assertFalse(stream.isClosed());

        table.dispatch(new Frame.Window(CID, 2L * window));
        writer.join(WAIT.toMillis());
        peer.shutdownOutput();
        long rest = 0;
        while (true) {
            Sent s = next();
            if (s.frame() instanceof Frame.Fin fin) {
                assertEquals(Direction.A2C, fin.dir());
                break;
            }
            rest += ((Frame.Data) s.frame()).payload().length;
            assertFalse(s.urgent(), "DATA goes in order, not on the urgent lane");
        }
        assertEquals(3L * window - window - 30_000, rest, "the rest of the local side's bytes, then FIN");
        assertEquals(30_000, stream.credit(), "granted w + 30,000 + 2w, sent 3w: 30,000 left");
    }

    /** Sum of the DATA payloads sent so far (and queued now); fails on any other frame. */
    private long dataBytes() {
        long n = 0;
        Sent s;
        while ((s = sent.poll()) != null) {
            n += assertInstanceOf(Frame.Data.class, s.frame()).payload().length;
        }
        return n;
    }

    @Test
    void aWindowPastTwoToTheThirtyTwoResetsTheStream() throws Exception {
        Stream stream = stream(BinaryCodec.INITIAL_WINDOW, 0);
        long resets = flowControlResets.sum();
        table.dispatch(new Frame.Window(CID, BinaryCodec.MAX_UINT32 - BinaryCodec.INITIAL_WINDOW));
        assertFalse(stream.isClosed(), "credit of exactly 2^32-1 is allowed");
        table.dispatch(new Frame.Window(CID, 1));
        assertTrue(stream.isClosed(), "one more byte of credit is a violation");
        Sent rst = next();
        assertEquals(new Frame.Rst(CID, "flow_control"), rst.frame());
        assertTrue(rst.urgent(), "RST goes on the urgent lane");
        assertEquals(resets + 1, flowControlResets.sum());
        assertEquals(List.of("flow_control"), closed);
        assertEquals(-2, readOutcome(peer), "the local side sees a reset, not a clean end");
    }

    @Test
    void dataBeyondTheReceiveWindowResetsTheStream() throws Exception {
        int window = 60 * 1024; // window + 1 fits one frame (at most 65536 bytes)
        Stream stream = stream(window, 0);
        // exactly the window in one frame is legal
        data(CID, 0, bytes(window, 1));
        assertFalse(stream.isClosed());
        assertArrayEquals(bytes(window, 1), peer.getInputStream().readNBytes(window), "the bytes reach the local side");

        Stream second = table.register("c2", "svc");
        Socket l2 = new Socket();
        l2.connect(server.getLocalSocketAddress());
        try (Socket p2 = server.accept()) {
            second.start(l2);
            long resets = flowControlResets.sum();
            data("c2", 0, bytes(window + 1, 2));
            assertTrue(second.isClosed(), "one byte beyond the window is a violation");
            assertEquals(resets + 1, flowControlResets.sum());
            Sent rst;
            do {
                rst = next();
            } while (!(rst.frame() instanceof Frame.Rst));
            assertEquals(new Frame.Rst("c2", "flow_control"), rst.frame());
            assertTrue(rst.urgent());
            p2.setSoTimeout((int) WAIT.toMillis());
            assertEquals(-2, readOutcome(p2), "the local side of the reset stream sees a reset, not a clean end");
        }
        assertFalse(stream.isClosed(), "the other stream is untouched");
    }

    @Test
    void aSmallWindowIsReturnedWholeOnceItAllReachedTheSocket() throws Exception {
        int window = FlowControl.WHOLE_RETURN;
        Stream stream = stream(window, 0);
        InputStream in = peer.getInputStream();
        data(CID, 0, bytes(window / 2, 3));
        assertArrayEquals(bytes(window / 2, 3), in.readNBytes(window / 2));
        assertNull(sent.poll(300, TimeUnit.MILLISECONDS), "no WINDOW for half of a small window");
        data(CID, 1, bytes(window / 2, 4));
        assertArrayEquals(bytes(window / 2, 4), in.readNBytes(window / 2));
        // the whole window back, plus the doubling: the socket had written everything queued
        assertEquals(new Frame.Window(CID, 2L * window), next().frame());
        assertEquals(2 * window, stream.receiveWindow());

        // past the size, halves again: half of the doubled window brings a WINDOW
        data(CID, 2, bytes(window, 5));
        assertArrayEquals(bytes(window, 5), in.readNBytes(window));
        assertEquals(new Frame.Window(CID, window + 2L * window), next().frame(), "half the window, plus the doubling");
    }

    @Test
    void creditIsReturnedOnceHalfTheWindowReachedTheSocketAndTheWindowDoublesWhenTheSocketKeepsUp() throws Exception {
        int window = BinaryCodec.INITIAL_WINDOW;
        Stream stream = stream(window, 0);
        InputStream in = peer.getInputStream();
        int half = window / 2;
        data(CID, 0, bytes(half - 1, 3));
        assertArrayEquals(bytes(half - 1, 3), in.readNBytes(half - 1));
        data(CID, 1, bytes(1, 4));
        assertEquals(1, in.readNBytes(1).length);
        // one WINDOW for both frames (none after the first), granting what was written plus the doubling
        Sent w = next();
        assertTrue(w.urgent(), "WINDOW goes on the urgent lane");
        assertEquals(new Frame.Window(CID, half + window), w.frame());
        assertEquals(2 * window, stream.receiveWindow(), "the window doubled: the socket had written everything queued");
        assertNull(sent.poll(200, TimeUnit.MILLISECONDS), "one WINDOW only");

        // everything was returned: the peer may now have the doubled window unreturned, in one frame
        data(CID, 2, bytes(2 * window, 5));
        assertFalse(stream.isClosed(), "the grown window is honoured");
        assertArrayEquals(bytes(2 * window, 5), in.readNBytes(2 * window));

        // the growth comes from the tunnel's budget and goes back when the stream ends
        long grown = table.account().growth();
        assertTrue(grown >= window, "growth taken from the tenant's share: " + grown);
        assertEquals(memory.growthPool() - grown, memory.growthLeft(), "and from the budget's pool");
        stream.reset(io.nowconnect.protocol.ResetReason.RESET);
        assertEquals(0, table.account().growth(), "growth returned at close");
        assertEquals(memory.growthPool(), memory.growthLeft(), "growth back in the pool");
    }

    @Test
    void theWindowDoesNotGrowWhileTheSocketLags() throws Exception {
        int window = 128 * 1024; // half a window is one full frame
        Stream stream = stream(window, 4096);
        InputStream in = peer.getInputStream();
        // half a window that the small socket buffers cannot take at once: the writer blocks in write
        data(CID, 0, bytes(window / 2, 8));
        Harness.await(WAIT, () -> {
            try {
                return in.available() > 0;
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }, "the writer is writing");
        // queued behind the blocked write: when that write ends, the queue is not empty
        data(CID, 1, bytes(1, 9));
        assertArrayEquals(bytes(window / 2, 8), in.readNBytes(window / 2));
        assertEquals(1, in.readNBytes(1).length);
        Sent w = next();
        assertEquals(new Frame.Window(CID, window / 2), w.frame(), "exactly what was written, no growth");
        assertEquals(window, stream.receiveWindow(), "a lagging local side keeps the initial window");
    }

    @Test
    void withoutGrowthBudgetTheWindowStays() throws Exception {
        int window = BinaryCodec.INITIAL_WINDOW;
        Stream stream = stream(window, 0);
        assertTrue(memory.reserveGrowth(memory.growthPool()), "the test takes the whole budget");
        data(CID, 0, bytes(window / 2, 10));
        peer.getInputStream().readNBytes(window / 2);
        assertEquals(new Frame.Window(CID, window / 2), next().frame(), "credit returned, nothing granted beyond it");
        assertEquals(window, stream.receiveWindow());
        memory.releaseGrowth(memory.growthPool());
    }

    @Test
    void aResetWhileTheReaderWaitsForCreditEndsTheStream() throws Exception {
        int window = 10_000;
        Stream stream = stream(window, 0);
        long waitsBefore = creditWaits.sum();
        peer.getOutputStream().write(bytes(window + 1, 11));
        Harness.await(WAIT, () -> stream.credit() == 0 && creditWaits.sum() > waitsBefore, "the reader waits for credit");
        table.dispatch(new Frame.Rst(CID, "reset"));
        assertTrue(stream.isClosed());
        assertEquals(-2, readOutcome(peer), "the local side sees a reset");
        assertEquals(window, dataBytes(), "no DATA beyond the credit, and no RST back for the peer's RST");
        table.dispatch(new Frame.Window(CID, 1000));
        assertEquals(1, dropped.getOrDefault("unknown_cid", 0), "the stream is gone from the table");
        assertNull(sent.poll(200, TimeUnit.MILLISECONDS));
    }

    @Test
    void v1StreamsHaveNoCreditAndDropAWindow() throws Exception {
        Stream stream = stream(0, 0);
        assertFalse(stream.flowControlled());
        assertEquals(-1, stream.credit());
        assertEquals(0, stream.receiveWindow());
        table.dispatch(new Frame.Window(CID, 1000));
        assertEquals(1, dropped.getOrDefault("unexpected_window", 0));
        assertFalse(stream.isClosed(), "a stray WINDOW does not end a v1 stream");
        byte[] payload = bytes(60_000, 12);
        table.dispatch(new Frame.Data(CID, 0, payload));
        assertArrayEquals(payload, peer.getInputStream().readNBytes(payload.length), "v1 DATA has no window limit");
        assertNull(sent.poll(200, TimeUnit.MILLISECONDS), "and returns no WINDOW");
    }

    @Test
    void aFloodOfOneByteFramesIsChargedAboutItsPayload() throws Exception {
        Stream stream = stream(0, 4096); // v1, and a local side that reads nothing for now
        int frames = 200_000;
        for (int i = 0; i < frames; i++) {
            table.dispatch(new Frame.Data(CID, i, new byte[] {(byte) i}));
        }
        assertFalse(stream.isClosed(), "packed into chunks, the flood stays within the queue depth: no reset");
        long used = memory.used();
        assertTrue(used > 0 && used <= 2L * frames, "charged " + used + " bytes for " + frames
                + " one-byte frames (an array and a queue slot each would be about " + 65L * frames + ")");
        byte[] got = peer.getInputStream().readNBytes(frames);
        for (int i = 0; i < frames; i++) {
            assertEquals((byte) i, got[i], "byte " + i + " in order");
        }
        Harness.await(WAIT, () -> memory.used() == 0, "everything given back once written");
    }

    /** What a read on the local side returns now: -1 for EOF, -2 for a reset, else the byte. */
    private static int readOutcome(Socket s) {
        try {
            return s.getInputStream().read();
        } catch (IOException e) {
            return -2;
        }
    }

    /** DATA of any size as the peer sends it: frames of at most a full bin1 payload (larger ones are refused). */
    private void data(String cid, long firstSeq, byte[] payload) {
        long seq = firstSeq;
        for (int from = 0; from < payload.length; from += BinaryCodec.MAX_DATA_PAYLOAD) {
            int to = Math.min(payload.length, from + BinaryCodec.MAX_DATA_PAYLOAD);
            table.dispatch(new Frame.Data(cid, seq++, java.util.Arrays.copyOfRange(payload, from, to)));
        }
    }
}
