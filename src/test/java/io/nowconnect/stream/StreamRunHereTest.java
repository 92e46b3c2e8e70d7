package io.nowconnect.stream;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ThreadCensus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Stream#run}: the thread that dialled (agent) or accepted (hub) a stream's socket goes on as one of its pumps,
 * so the stream's first bytes do not wait for a new thread to be scheduled. With the test as the tunnel peer and a real
 * loopback socket as the local side: the calling thread is the named pump for as long as that pump runs (it writes
 * the DATA that came while the socket was connected, or reads the socket and sends DATA and FIN), returns when that
 * pump ends, and the other pump works on a thread of its own. A writer exists only from the first bytes received until
 * the idle sweep finds the stream quiet: an idle stream holds its reader alone (the thread census shows it).
 */
@Timeout(30)
class StreamRunHereTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String CID = "c1";

    private final LinkedBlockingQueue<Frame> sent = new LinkedBlockingQueue<>();
    private ServerSocket server;
    private Socket local;
    private Socket peer;
    private StreamTable table;

    @AfterEach
    void close() throws IOException {
        if (table != null) {
            table.closeAll(ResetReason.RESET);
        }
        Harness.closeQuietly(peer, local, server);
    }

    @Test
    void theDiallingThreadWritesWhatCameMeanwhileThenLaterBytesStartWritersOfTheirOwn() throws Exception {
        Stream stream = stream();
        // the client's first bytes arrive before the target is connected: they wait in the queue
        table.dispatch(new Frame.Data(CID, 0, bytes("first")));
        PumpThread caller = PumpThread.run(stream, local, Stream.Pump.WRITER);

        assertArrayEquals(bytes("first"), read(peer, 5));
        // nothing more queued: the calling thread, named as the writer, returns; the stream stays open
        caller.awaitEnd();
        assertEquals("nc-w-" + CID, caller.thread.getName(), "the calling thread ran the writer");
        assertFalse(stream.isClosed(), "the stream is open");
        awaitNoWriter();

        // later DATA starts a writer of its own, which waits for more until the idle sweep finds the stream quiet
        table.dispatch(new Frame.Data(CID, 1, bytes("second")));
        assertArrayEquals(bytes("second"), read(peer, 6));
        table.sweepIdle();
        assertEquals(1, writers(), () -> "a writer that just wrote is not retired: " + ThreadCensus.kinds("nc-"));
        awaitNoWriter();
        table.dispatch(new Frame.Data(CID, 2, bytes("third")));
        assertArrayEquals(bytes("third"), read(peer, 5));

        // the other pump runs on its own thread: the target's answer goes out as DATA
        peer.getOutputStream().write(bytes("answer"));
        Frame.Data answer = assertInstanceOf(Frame.Data.class, next());
        assertArrayEquals(bytes("answer"), answer.payload());

        // both directions finish: a writer started for the FIN half-closes the socket, and the stream ends
        peer.shutdownOutput();
        assertInstanceOf(Frame.Fin.class, next());
        table.dispatch(new Frame.Fin(CID, Direction.C2A));
        assertEquals(-1, peer.getInputStream().read(), "the writer applied the FIN as a half-close");
        // the last of the two pumps to finish ends the stream: the reader may still be on its way from sending FIN
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!stream.isClosed() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(stream.isClosed(), "the stream ended cleanly");
    }

    /** Live threads named as this stream's writer. */
    private static long writers() {
        return ThreadCensus.threads().stream().filter(t -> t.name().equals("nc-w-" + CID)).count();
    }

    /**
     * An idle stream holds its socket reader and no writer thread (the census sees the reader: it can see both), once
     * the idle sweep (run here as the tunnel's timer runs it, every second) found it quiet.
     */
    private void awaitNoWriter() {
        Harness.await(WAIT, () -> {
            table.sweepIdle();
            List<ThreadCensus.Live> threads = ThreadCensus.threads();
            return threads.stream().anyMatch(t -> t.name().equals("nc-r-" + CID))
                   && threads.stream().noneMatch(t -> t.name().equals("nc-w-" + CID));
        }, () -> "an idle stream's threads: the reader, no writer: " + ThreadCensus.kinds("nc-"));
    }

    @Test
    void theAcceptingThreadGoesOnAsTheSocketReader() throws Exception {
        Stream stream = stream();
        peer.getOutputStream().write(bytes("request"));
        PumpThread caller = PumpThread.run(stream, local, Stream.Pump.READER);

        Frame.Data request = assertInstanceOf(Frame.Data.class, next());
        assertArrayEquals(bytes("request"), request.payload());
        caller.awaitNamed("nc-r-" + CID);
        assertTrue(caller.thread.isAlive(), "the calling thread still reads while the local side sends");

        // the other pump runs on its own thread, once there is something to write: DATA from the tunnel reaches the
        // socket, and the writer ends with its queue empty
        table.dispatch(new Frame.Data(CID, 0, bytes("reply")));
        assertArrayEquals(bytes("reply"), read(peer, 5));
        awaitNoWriter();

        // the local side finishes: FIN goes out and the reading thread returns, the stream still open the other way
        peer.shutdownOutput();
        assertInstanceOf(Frame.Fin.class, next());
        caller.awaitEnd();
        table.dispatch(new Frame.Data(CID, 1, bytes("more")));
        assertArrayEquals(bytes("more"), read(peer, 4));
    }

    @Test
    void aStreamResetBeforeItsSocketCameClosesTheSocketAndReturnsAtOnce() throws Exception {
        Stream stream = stream();
        table.dispatch(new Frame.Rst(CID, "reset"));
        PumpThread caller = PumpThread.run(stream, local, Stream.Pump.WRITER);
        caller.awaitEnd();
        assertTrue(local.isClosed(), "the socket of a stream reset before it started is closed");
    }

    @Test
    void theLocalSocketsSendBufferIsTheSettingsWhenSet() throws Exception {
        Stream stream = stream(0);
        stream.start(local);
        int kernels = local.getSendBufferSize();
        close();

        stream = stream(8192);
        stream.start(local);
        int capped = local.getSendBufferSize();
        // Linux doubles what is asked (bookkeeping); on loopback its own sizing gives megabytes
        assertTrue(capped >= 8192 && capped <= 2 * 8192, "send buffer with the setting: " + capped);
        assertTrue(kernels > 2 * 8192, "send buffer the kernel sized: " + kernels);
    }

    private Stream stream() throws Exception {
        return stream(0);
    }

    /**
     * A table (bin1, 64 KiB windows) with one registered stream whose local socket is connected to {@link #peer}.
     *
     * @param sendBuffer the settings' send buffer of local sockets, 0 for the kernel's own sizing
     */
    private Stream stream(int sendBuffer) throws Exception {
        table = StreamTable.create(new StreamSettings(BinaryCodec.MAX_DATA_PAYLOAD, 64, Duration.ofMinutes(5),
                                                      Duration.ofSeconds(5), 10, sendBuffer),
                                   new RecordingSink((frame, urgent) -> sent.add(frame)), Direction.A2C,
                                   new StreamObserver() { }, StreamBudget.create(10),
                                   Shares.of(MemoryBudget.create(64L << 20)).open("tenant"));
        table.enableFlowControl(64 * 1024);
        server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 10);
        local = new Socket();
        local.connect(server.getLocalSocketAddress());
        peer = server.accept();
        peer.setSoTimeout((int) WAIT.toMillis());
        return table.register(CID, "svc");
    }

    /** The next frame the stream sent other than a WINDOW (credit returned as its socket writes). */
    private Frame next() throws InterruptedException {
        while (true) {
            Frame f = sent.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(f, "a frame from the stream within " + WAIT.toMillis() + " ms");
            if (!(f instanceof Frame.Window)) {
                return f;
            }
        }
    }

    private static byte[] read(Socket s, int n) throws IOException {
        return s.getInputStream().readNBytes(n);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** A virtual thread, named as a dialling or accepting thread, that calls {@link Stream#run}. */
    private record PumpThread(Thread thread, AtomicReference<Throwable> failure) {
        static PumpThread run(Stream stream, Socket socket, Stream.Pump here) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread t = Thread.ofVirtual().name("caller").start(() -> {
                try {
                    stream.run(socket, here);
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            return new PumpThread(t, failure);
        }

        void awaitNamed(String name) throws InterruptedException {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!thread.getName().equals(name) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(name, thread.getName(), "the calling thread runs the pump");
        }

        void awaitEnd() throws InterruptedException {
            assertTrue(thread.join(WAIT), "the calling thread returns once its pump ended");
            assertEquals(null, failure.get(), "run threw");
        }
    }
}
