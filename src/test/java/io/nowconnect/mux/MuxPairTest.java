package io.nowconnect.mux;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import io.helidon.websocket.WsCloseCodes;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.stream.MemoryBudget;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.Stream;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.StreamSettings;
import io.nowconnect.stream.WireEvent;
import io.nowconnect.testkit.Harness;
import io.nowconnect.ws.UpgradedSocket;
import io.nowconnect.ws.WsReader;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two {@link Mux}es, a hub end and an agent end, over one real loopback TCP connection, with no hub or agent around
 * them: each end's {@link Role} is a few lines of this test (HELLO and its ack, OPEN dialled to a loopback target). The
 * streams' local sides are real loopback sockets too: the test holds the client's end on the hub side and the
 * target's end on the agent side. Covers the multiplexer's own rules: open, data both ways (v1 JSON and {@code bin1}),
 * half-close, reset both ways, window exhaustion (a target that stops reading holds its sender on credit, not the
 * tunnel nor memory), the ping timeout (a peer that falls silent), and the close handshake (a close is answered with a
 * close, both ends end).
 */
@Timeout(120)
class MuxPairTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String CONNECTOR = "svc";
    private static final StreamSettings STREAMS = new StreamSettings(16 * 1024, 64, Duration.ZERO,
                                                                     Duration.ofSeconds(5), 100);
    /** Pings that never matter: only the ping-timeout test pings often. */
    private static final Duration QUIET_PING = Duration.ofSeconds(30);

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final BlockingQueue<Socket> targets = new LinkedBlockingQueue<>();
    private final AtomicInteger cids = new AtomicInteger();
    private ServerSocket target;

    @AfterEach
    void tearDown() {
        for (AutoCloseable c : closeables.reversed()) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
        targets.forEach(MuxPairTest::closeQuietly);
    }

    @Test
    void v1CarriesDataBothWaysAndHalfCloses() throws Exception {
        Pair pair = pair(List.of(), QUIET_PING, Duration.ofSeconds(60));
        dataBothWaysAndHalfClose(pair);
        assertEquals(0, pair.hub.wire(WireEvent.BINARY_DATA_SENT));
        assertTrue(pair.hub.wire(WireEvent.JSON_DATA_SENT) > 0, "v1: DATA went as JSON");
    }

    @Test
    void bin1CarriesDataBothWaysAndHalfCloses() throws Exception {
        Pair pair = pair(List.of(Capability.BIN1), QUIET_PING, Duration.ofSeconds(60));
        assertTrue(pair.hub.mux.has(Capability.BIN1) && pair.agent.mux.has(Capability.BIN1));
        dataBothWaysAndHalfClose(pair);
        assertEquals(0, pair.hub.wire(WireEvent.JSON_DATA_SENT));
        assertTrue(pair.hub.wire(WireEvent.BINARY_DATA_SENT) > 0 && pair.agent.wire(WireEvent.BINARY_DATA_SENT) > 0,
                   "bin1: DATA went as binary both ways");
    }

    /** Bytes both ways on several streams at once, each direction ended on its own (half-close), then a clean end. */
    private void dataBothWaysAndHalfClose(Pair pair) throws Exception {
        List<Opened> streams = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            streams.add(pair.open());
        }
        Random random = new Random(42);
        for (Opened s : streams) {
            byte[] up = new byte[100_000 + random.nextInt(100_000)];
            byte[] down = new byte[50_000 + random.nextInt(100_000)];
            random.nextBytes(up);
            random.nextBytes(down);
            // client -> target, then the client half-closes: the target reads to its end of stream...
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> writeAndShutdown(s.client, up));
            assertArrayEquals(up, s.target.getInputStream().readAllBytes(), "client to target");
            sent.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            // ...while the other direction stays open: the target still answers through it
            writeAndShutdown(s.target, down);
            assertArrayEquals(down, s.client.getInputStream().readAllBytes(), "target to client after the half-close");
        }
        // both FINs went both ways: every stream ends cleanly on both ends, the tunnel stays up
        Harness.await(WAIT, () -> pair.hub.mux.streams().size() == 0 && pair.agent.mux.streams().size() == 0,
                      "both stream tables empty");
        // a stream leaves its table before its end is counted (both on the closing thread): wait for the counts too
        Harness.await(WAIT, () -> pair.hub.closed.values().stream().mapToLong(LongAdder::sum).sum() >= streams.size()
                && pair.agent.closed.values().stream().mapToLong(LongAdder::sum).sum() >= streams.size(),
                      "every end counted");
        assertEquals(streams.size(), pair.hub.closed("ok"), "hub: clean ends " + pair.hub.closed);
        assertEquals(streams.size(), pair.agent.closed("ok"), "agent: clean ends " + pair.agent.closed);
        assertFalse(pair.hub.mux.isEnded() || pair.agent.mux.isEnded(), "the tunnel outlives its streams");
        // nothing dropped but, under bin1, a WINDOW that crossed the stream's last FIN (credit returned just as the peer
        // finished: the peer has forgotten the cid and counts it, as RFC 9113 6.9 lets a closed stream's WINDOW_UPDATE
        // arrive); at most one per stream and direction
        for (Peer p : List.of(pair.hub, pair.agent)) {
            Map<String, Long> other = new java.util.HashMap<>(p.dropped);
            long lateWindows = other.getOrDefault("unknown_cid", 0L);
            other.remove("unknown_cid");
            assertEquals(Map.of(), other, "nothing else dropped");
            assertTrue(lateWindows <= streams.size(), "late WINDOWs: " + lateWindows);
        }
    }

    @Test
    void aResetOnEitherEndReachesTheOtherAsAReset() throws Exception {
        Pair pair = pair(List.of(Capability.BIN1), QUIET_PING, Duration.ofSeconds(60));
        // the target resets: the agent sends RST, the hub resets its client (not a clean end of stream)
        Opened fromTarget = pair.open();
        roundTrip(fromTarget);
        fromTarget.target.setSoLinger(true, 0);
        fromTarget.target.close();
        assertThrows(SocketException.class, () -> fromTarget.client.getInputStream().readAllBytes(),
                     "the client sees a reset, not an end of stream it could take for a whole answer");
        // the hub resets a stream itself: the agent resets its target
        Opened fromHub = pair.open();
        roundTrip(fromHub);
        pair.hub.mux.streams().get(fromHub.cid).orElseThrow().reset(ResetReason.IDLE_TIMEOUT);
        assertThrows(SocketException.class, () -> fromHub.target.getInputStream().readAllBytes(),
                     "the target sees a reset");
        Harness.await(WAIT, () -> pair.hub.mux.streams().size() == 0 && pair.agent.mux.streams().size() == 0,
                      "both stream tables empty");
        // each end counts its own reason, or "reset" for the peer's: no reset ended cleanly
        assertEquals(Map.of("reset", 1L, "idle_timeout", 1L), pair.hub.closedCounts(), "hub");
        assertEquals(Map.of("reset", 2L), pair.agent.closedCounts(), "agent");
        // a reset ends the stream, never the tunnel
        assertFalse(pair.hub.mux.isEnded() || pair.agent.mux.isEnded());
        roundTrip(pair.open());
    }

    /**
     * Bulk on 8 streams at once, both ways, every byte checked: full payloads are decoded into arrays of a pool that
     * each stream's writer gives back once written, so an array given back too early or to two takers would show
     * here as bytes of one stream in another, or overwritten before they were written.
     */
    @Test
    void bin1BulkOnSeveralStreamsAtOnceArrivesByteForByteBothWays() throws Exception {
        Pair pair = pair(List.of(Capability.BIN1), QUIET_PING, Duration.ofSeconds(60));
        int streams = 8;
        int bytes = 6 << 20;
        // a thread per writer and reader: each blocks until its peer reads
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> all = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                Opened s = pair.open();
                byte[] up = new byte[bytes];
                byte[] down = new byte[bytes];
                new Random(100 + i).nextBytes(up);
                new Random(200 + i).nextBytes(down);
                all.add(threads.submit(() -> writeAndShutdown(s.client, up)));
                all.add(threads.submit(() -> writeAndShutdown(s.target, down)));
                all.add(threads.submit(() -> assertArrayEquals(up, readAll(s.target), "client to target")));
                all.add(threads.submit(() -> assertArrayEquals(down, readAll(s.client), "target to client")));
            }
            for (Future<?> f : all) {
                f.get(60, TimeUnit.SECONDS);
            }
        }
        Harness.await(WAIT, () -> pair.hub.mux.streams().size() == 0 && pair.agent.mux.streams().size() == 0,
                      "both stream tables empty");
        for (Peer p : List.of(pair.hub, pair.agent)) {
            assertEquals(Map.of("ok", (long) streams), p.closedCounts(), p.name + ": every stream ended cleanly");
        }
    }

    private static byte[] readAll(Socket s) {
        try {
            return s.getInputStream().readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void anExhaustedWindowHoldsItsSenderNotTheTunnelNorMemory() throws Exception {
        Pair pair = pair(List.of(Capability.BIN1), QUIET_PING, Duration.ofSeconds(60));
        Opened bulk = pair.open();
        // the client sends far more than the window and the growth pool allow while the target does not read
        byte[] data = new byte[8 << 20];
        new Random(7).nextBytes(data);
        AtomicLong written = new AtomicLong();
        CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
            try {
                OutputStream out = bulk.client.getOutputStream();
                for (int off = 0; off < data.length; off += 8192) {
                    out.write(data, off, Math.min(8192, data.length - off));
                    written.addAndGet(Math.min(8192, data.length - off));
                }
                bulk.client.shutdownOutput();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Harness.await(WAIT, () -> pair.hub.wire(WireEvent.CREDIT_WAIT) > 0, "the hub's stream waits for credit");
        Harness.awaitStalled(written, "the client's writes");
        assertFalse(sender.isDone(), "the client is held up before it wrote everything: " + written.get());
        // what the agent holds for the target stays within its budget; nothing was reset to make room
        assertTrue(pair.agent.memory.used() <= pair.agent.memory.limit(),
                   "agent memory " + pair.agent.memory.used() + " of " + pair.agent.memory.limit());
        // the tunnel carries other streams meanwhile: one stream's window is not the tunnel's
        Opened other = pair.open();
        roundTrip(other);
        other.client.shutdownOutput();
        other.target.shutdownOutput();
        // the target reads at last: every byte arrives, in order, and the stream ends cleanly
        byte[] got = bulk.target.getInputStream().readAllBytes();
        sender.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertArrayEquals(data, got, "bytes after the window was exhausted");
        bulk.target.shutdownOutput();
        assertEquals(-1, bulk.client.getInputStream().read());
        Harness.await(WAIT, () -> pair.hub.mux.streams().size() == 0 && pair.agent.mux.streams().size() == 0,
                      "both stream tables empty");
        for (Peer p : List.of(pair.hub, pair.agent)) {
            assertEquals(0, p.wire(WireEvent.FLOW_CONTROL_RESET), p.name + ": flow-control resets");
            assertEquals(Map.of("ok", 2L), p.closedCounts(), p.name + ": every stream ended cleanly");
        }
        assertTrue(pair.agent.wire(WireEvent.WINDOW_SENT) > 0, "the agent returned credit as the target read");
    }

    @Test
    void aSilentPeerEndsTheTunnelWithAPingTimeout() throws Exception {
        Duration interval = Duration.ofMillis(100);
        Duration timeout = Duration.ofMillis(1500);
        // the agent, whose writes will be held, waits far longer: it must not end the tunnel first (write_stalled)
        Pair pair = pair(List.of(), interval, timeout, Duration.ofSeconds(60));
        // positive control: with the peer answering, several timeouts pass and both ends see their pings answered
        Harness.await(WAIT, () -> pair.hub.pongs.get() >= 3 && pair.agent.pongs.get() >= 3, "pings answered");
        long quietSince = System.nanoTime();
        Harness.await(WAIT, () -> System.nanoTime() - quietSince > 2 * timeout.toNanos(), "two ping timeouts");
        assertFalse(pair.hub.mux.isEnded() || pair.agent.mux.isEnded(), "a peer that answers is alive");
        // the agent's writes stop reaching the wire: the hub hears nothing more, its pings go unanswered
        pair.agent.gate.pause();
        End hubEnd = pair.hub.ended.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(MuxReason.PING_TIMEOUT, hubEnd.reason(), "hub: " + hubEnd);
        pair.agent.gate.resume();
        // the hub closed the connection: the agent ends too, and both tables are empty
        End agentEnd = pair.agent.ended.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(agentEnd != null, "the agent's tunnel ended");
    }

    @Test
    void aCloseIsAnsweredWithACloseAndBothEndsEnd() throws Exception {
        Pair pair = pair(List.of(Capability.BIN1), QUIET_PING, Duration.ofSeconds(60));
        Opened open = pair.open();
        roundTrip(open);
        pair.hub.tap.start();
        pair.hub.mux.close(WsCloseCodes.NORMAL_CLOSE, "going", TestReason.DONE, "test close");
        End agentEnd = pair.agent.ended.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        End hubEnd = pair.hub.ended.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(TestReason.DONE, hubEnd.reason(), "hub: the first cause wins");
        assertEquals(MuxReason.CLOSED, agentEnd.reason(), "agent: " + agentEnd);
        assertTrue(agentEnd.detail().contains("1000") && agentEnd.detail().contains("going"), agentEnd.detail());
        // the agent answered with a close frame of the same code: the last frame the hub read is it (RFC 6455 5.5.1)
        WsReader.Event last = lastEvent(pair.hub.tap.bytes());
        WsReader.Close close = assertInstanceOf(WsReader.Close.class, last, "the last frame from the agent");
        assertEquals(WsCloseCodes.NORMAL_CLOSE, close.code());
        // the streams went with the tunnel, and their local sockets were closed
        assertEquals(0, pair.hub.mux.streams().size() + pair.agent.mux.streams().size());
        assertEquals(-1, readOrEnd(open.client));
        assertEquals(-1, readOrEnd(open.target));
    }

    // ------------------------------------------------------------------ the pair

    private Pair pair(List<String> caps, Duration pingInterval, Duration pingTimeout) throws IOException {
        return pair(caps, pingInterval, pingTimeout, pingTimeout);
    }

    private Pair pair(List<String> caps, Duration pingInterval, Duration hubPingTimeout, Duration agentPingTimeout)
            throws IOException {
        if (target == null) {
            target = new ServerSocket();
            // small buffers: a target that stops reading holds back its stream soon
            target.setReceiveBufferSize(16 * 1024);
            target.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            closeables.add(target);
            Thread.ofVirtual().name("test-target-accept").start(() -> {
                try {
                    while (true) {
                        targets.add(target.accept());
                    }
                } catch (IOException closed) {
                    // test over
                }
            });
        }
        Socket[] tcp = socketPair();
        Peer hub = new Peer("hub", Side.HUB, caps, pingInterval, hubPingTimeout);
        Peer agent = new Peer("agent", Side.AGENT, caps, pingInterval, agentPingTimeout);
        hub.start(tcp[0]);
        agent.start(tcp[1]);
        Pair pair = new Pair(hub, agent);
        Harness.await(WAIT, () -> hub.mux.isReady() && agent.mux.isReady(), "HELLO answered");
        return pair;
    }

    /** The two ends of one tunnel. */
    private final class Pair {
        final Peer hub;
        final Peer agent;

        Pair(Peer hub, Peer agent) {
            this.hub = hub;
            this.agent = agent;
        }

        /** A client connection carried as a new stream, as the hub's listener does, and the target's end of it. */
        Opened open() throws Exception {
            String cid = "s" + cids.incrementAndGet();
            Socket[] local = socketPair();
            local[0].setSoTimeout((int) WAIT.toMillis());
            Stream stream = hub.mux.streams().register(cid, CONNECTOR);
            hub.mux.send(new Frame.Open(cid, CONNECTOR), false);
            stream.start(local[1]);
            Socket t = targets.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertTrue(t != null, "the agent dialled the target");
            t.setSoTimeout((int) WAIT.toMillis());
            return new Opened(cid, local[0], t);
        }
    }

    /** A stream as the test sees it: the client's end on the hub side, the target's end on the agent side. */
    private record Opened(String cid, Socket client, Socket target) {
    }

    /** One end: its multiplexer and role, what its observer counted, how it ended. */
    private final class Peer implements Role {
        final String name;
        final Side side;
        final List<String> caps;
        final Mux mux;
        final MemoryBudget memory = MemoryBudget.create(4 << 20);
        final CompletableFuture<End> ended = new CompletableFuture<>();
        final AtomicInteger pongs = new AtomicInteger();
        final Map<String, LongAdder> closed = new ConcurrentHashMap<>();
        final Map<String, Long> dropped = new ConcurrentHashMap<>();
        final Map<WireEvent, LongAdder> wire = new ConcurrentHashMap<>();
        final Gate gate = new Gate();
        final Tap tap = new Tap();

        Peer(String name, Side side, List<String> caps, Duration pingInterval, Duration pingTimeout) {
            this.name = name;
            this.side = side;
            this.caps = caps;
            StreamObserver observer = new StreamObserver() {
                @Override
                public void closed(String connector, String result) {
                    closed.computeIfAbsent(result, k -> new LongAdder()).increment();
                }

                @Override
                public void dropped(String reason) {
                    dropped.merge(reason, 1L, Long::sum);
                }

                @Override
                public void wire(WireEvent event) {
                    wire.computeIfAbsent(event, k -> new LongAdder()).increment();
                }
            };
            this.mux = Mux.create(new MuxSettings(side, STREAMS, pingInterval, pingTimeout, BinaryCodec.MAX_MESSAGE),
                                  this, observer, StreamBudget.create(100),
                                  Shares.of(memory).open(side.threadName()));
        }

        void start(Socket socket) throws IOException {
            closeables.add(socket);
            closeables.add(gate::resume);
            mux.attach(UpgradedSocket.of(tap.wrap(socket.getInputStream()), gate.wrap(socket.getOutputStream())),
                       () -> closeQuietly(socket));
            Thread.ofVirtual().name("test-" + name + "-mux").start(() -> {
                try {
                    ended.complete(mux.run());
                } catch (Throwable e) {
                    ended.completeExceptionally(e);
                }
            });
            closeables.add(() -> {
                mux.kill(TestReason.DONE, "test over");
                ended.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            });
        }

        long wire(WireEvent event) {
            LongAdder n = wire.get(event);
            return n == null ? 0 : n.sum();
        }

        long closed(String result) {
            LongAdder n = closed.get(result);
            return n == null ? 0 : n.sum();
        }

        Map<String, Long> closedCounts() {
            Map<String, Long> out = new java.util.TreeMap<>();
            closed.forEach((k, v) -> out.put(k, v.sum()));
            return out;
        }

        @Override
        public void started() throws IOException {
            if (!side.server()) {
                mux.send(new Frame.Hello("agent-1", List.of(CONNECTOR), "test", caps, 0), true);
            }
        }

        @Override
        public void onControl(Frame frame) {
            switch (frame) {
            case Frame.Hello hello -> {
                List<String> agreed = mux.agree(caps, hello.caps(), hello.window());
                if (mux.sendUrgent(new Frame.HelloAck(agreed, -1, 0, 0, "", List.of()))) {
                    mux.ready();
                }
            }
            case Frame.HelloAck ack -> {
                mux.agree(caps, ack.caps(), ack.window());
                mux.ready();
            }
            case Frame.Open open -> dial(open);
            default -> throw new AssertionError(name + ": unexpected " + frame);
            }
        }

        /** The agent's answer to OPEN: connect to the target on a thread of its own, then start the stream. */
        private void dial(Frame.Open open) {
            Stream stream;
            try {
                stream = mux.streams().register(open.cid(), open.connector());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            Thread.ofVirtual().name("test-dial-" + open.cid()).start(() -> {
                Socket s = new Socket();
                try {
                    s.setSendBufferSize(16 * 1024);
                    s.connect(target.getLocalSocketAddress(), 5000);
                    stream.start(s);
                } catch (IOException e) {
                    closeQuietly(s);
                    stream.reset(ResetReason.CONNECT_FAILED);
                }
            });
        }

        @Override
        public void pingAnswered(long rttNanos) {
            pongs.incrementAndGet();
        }
    }

    /** A reason of the test's own. */
    private enum TestReason implements End.Reason {
        DONE;

        @Override
        public String label() {
            return "done";
        }
    }

    /** Holds every write while paused: the end's bytes stop reaching the wire (a peer that fell silent). */
    private static final class Gate {
        private volatile CountDownLatch paused;

        void pause() {
            paused = new CountDownLatch(1);
        }

        void resume() {
            CountDownLatch p = paused;
            paused = null;
            if (p != null) {
                p.countDown();
            }
        }

        OutputStream wrap(OutputStream out) {
            return new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    hold();
                    out.write(b, off, len);
                }

                @Override
                public void write(int b) throws IOException {
                    hold();
                    out.write(b);
                }

                private void hold() throws IOException {
                    CountDownLatch p = paused;
                    if (p != null) {
                        try {
                            p.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IOException("interrupted", e);
                        }
                    }
                }
            };
        }
    }

    /** Records what an end reads once started (small exchanges only). */
    private static final class Tap {
        private final ByteArrayOutputStream seen = new ByteArrayOutputStream();
        private volatile boolean on;

        void start() {
            on = true;
        }

        synchronized byte[] bytes() {
            return seen.toByteArray();
        }

        private synchronized void record(byte[] b, int off, int n) {
            if (on && n > 0) {
                seen.write(b, off, n);
            }
        }

        InputStream wrap(InputStream in) {
            return new FilterInputStream(in) {
                @Override
                public int read() throws IOException {
                    int b = in.read();
                    if (b >= 0) {
                        record(new byte[] {(byte) b}, 0, 1);
                    }
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = in.read(b, off, len);
                    record(b, off, n);
                    return n;
                }
            };
        }
    }

    // ------------------------------------------------------------------ helpers

    /** The last WebSocket event in bytes an agent sent (masked frames), read from a frame boundary. */
    private static WsReader.Event lastEvent(byte[] fromAgent) throws IOException {
        WsReader reader = WsReader.server(UpgradedSocket.of(new ByteArrayInputStream(fromAgent),
                                                            OutputStream.nullOutputStream()), BinaryCodec.MAX_MESSAGE);
        WsReader.Event last = null;
        for (WsReader.Event e = reader.next(); e != null; e = reader.next()) {
            last = e;
        }
        return last;
    }

    private static void roundTrip(Opened s) throws IOException {
        byte[] ping = ("ping " + s.cid).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        s.client.getOutputStream().write(ping);
        assertArrayEquals(ping, s.target.getInputStream().readNBytes(ping.length), "client to target");
        byte[] pong = ("pong " + s.cid).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        s.target.getOutputStream().write(pong);
        assertArrayEquals(pong, s.client.getInputStream().readNBytes(pong.length), "target to client");
    }

    /** -1 at end of stream or when the peer reset the connection: the socket is gone either way. */
    private static int readOrEnd(Socket s) throws IOException {
        try {
            return s.getInputStream().read();
        } catch (SocketException reset) {
            return -1;
        }
    }

    private static void writeAndShutdown(Socket s, byte[] data) {
        try {
            s.getOutputStream().write(data);
            s.shutdownOutput();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Both ends of a fresh loopback TCP connection: [accepted, connecting]. */
    private Socket[] socketPair() throws IOException {
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Socket connecting = new Socket();
            connecting.connect(server.getLocalSocketAddress(), 5000);
            Socket accepted = server.accept();
            for (Socket s : List.of(accepted, connecting)) {
                s.setTcpNoDelay(true);
                closeables.add(s);
            }
            return new Socket[] {accepted, connecting};
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
