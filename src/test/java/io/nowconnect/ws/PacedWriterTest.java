package io.nowconnect.ws;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The writer's pacing on a real loopback socket: a client {@link WsWriter} sends bulk from several streams of one
 * connector to a server end that reads slowly (answering pings, as every WebSocket end does), then one small frame of
 * another connector. What the reader got between that frame's send and its arrival is what queued ahead of it: with
 * pacing, about the pacer's window; without it, whatever the two kernels' socket buffers hold. And a peer that never
 * answers pings still gets every byte (pacing turns itself off).
 */
@Timeout(60)
class PacedWriterTest {
    private static final int FRAME = 64 * 1024;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables.reversed()) {
            c.close();
        }
    }

    /** The server end: reads every frame, slowly, and answers pings unless told not to. */
    private final class SlowPeer implements AutoCloseable {
        final AtomicLong bytes = new AtomicLong();
        final AtomicLong pings = new AtomicLong();
        volatile long markAt = -1;
        final CountDownLatch mark = new CountDownLatch(1);
        final Thread thread;
        final Socket socket;

        SlowPeer(Socket socket, boolean answer, long pauseNanosPerFrame) {
            this.socket = socket;
            thread = Thread.ofPlatform().name("slow-peer").start(() -> {
                try {
                    WsReader reader = WsReader.server(UpgradedSocket.of(socket.getInputStream(),
                                                                        socket.getOutputStream()), 1 << 20);
                    WsWriter out = WsWriter.server(socket.getOutputStream(), "slow-peer-writer");
                    WsReader.Event e;
                    while ((e = reader.next()) != null) {
                        switch (e) {
                        case WsReader.Ping p -> {
                            pings.incrementAndGet();
                            if (answer) {
                                out.pong(p.payload());
                            }
                        }
                        case WsReader.Message m -> {
                            if (m.length() == 1) {
                                markAt = bytes.get();
                                mark.countDown();
                            } else {
                                bytes.addAndGet(m.length());
                                if (pauseNanosPerFrame > 0) {
                                    TimeUnit.NANOSECONDS.sleep(pauseNanosPerFrame);
                                }
                            }
                        }
                        default -> {
                        }
                        }
                    }
                } catch (IOException | RuntimeException | InterruptedException ignored) {
                    // the socket closed at the end of the test
                }
            });
        }

        @Override
        public void close() throws Exception {
            socket.close();
            thread.join(5000);
        }
    }

    /** A client writer on one end of a loopback connection, the slow peer on the other; the writer's pongs read. */
    private record Pair(WsWriter writer, SlowPeer peer) {
    }

    private Pair connect(boolean answer, long pauseNanosPerFrame) throws Exception {
        ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        closeables.add(server);
        Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
        closeables.add(client);
        Socket accepted = server.accept();
        SlowPeer peer = new SlowPeer(accepted, answer, pauseNanosPerFrame);
        closeables.add(peer);
        WsWriter writer = WsWriter.client(client.getOutputStream(), "paced-writer");
        closeables.add(writer::stop);
        Thread pongs = Thread.ofPlatform().name("pong-reader").start(() -> {
            try {
                WsReader reader = WsReader.client(UpgradedSocket.of(client.getInputStream(), client.getOutputStream()),
                                                  1 << 20);
                WsReader.Event e;
                while ((e = reader.next()) != null) {
                    if (e instanceof WsReader.Pong p) {
                        writer.pongReceived(p.payload());
                    }
                }
            } catch (IOException | RuntimeException ignored) {
                // closed
            }
        });
        closeables.add(() -> pongs.join(5000));
        return new Pair(writer, peer);
    }

    /** Producers, one stream each, of one connector, sending {@code perStream} bytes each in 64 KiB frames. */
    private static List<Thread> bulk(WsWriter writer, int streams, long perStream) {
        List<Thread> threads = new ArrayList<>();
        byte[] payload = new byte[FRAME];
        for (int i = 0; i < streams; i++) {
            String queue = "s" + i;
            threads.add(Thread.ofVirtual().start(() -> {
                for (long sent = 0; sent < perStream; sent += FRAME) {
                    writer.binary(new byte[0], payload, FRAME, queue, "storm", null);
                }
            }));
        }
        return threads;
    }

    @Test
    void aSmallFrameOfAnotherConnectorWaitsForTheWindowNotForTheKernelsBuffers() throws Exception {
        // the peer takes about 32 MB/s: far slower than the writer can write
        Pair pair = connect(true, TimeUnit.MILLISECONDS.toNanos(2));
        bulk(pair.writer, 8, 16L << 20);
        // let the pacer learn the path and the buffers fill as far as they will
        Thread.sleep(1500);
        long before = pair.peer.bytes.get();
        assertTrue(before > 0, "bulk flows");
        pair.writer.binary(new byte[0], new byte[1], 1, "probe", "other", null);
        assertTrue(pair.peer.mark.await(20, TimeUnit.SECONDS), "the small frame arrived");
        long ahead = pair.peer.markAt - before;
        Pacer pacer = pair.writer.pacer();
        System.out.printf("PacedWriterTest: %d bytes read ahead of the small frame (window %d, %d probes)%n", ahead,
                          pacer.window(), pair.peer.pings.get());
        // ahead of it: the window (about 1 MiB at this rate) and a batch in progress: 0.9 MB measured; without pacing
        // (-Dnowconnect.pacing=false) the two kernels' buffers held 4.0 MB ahead of it
        assertTrue(ahead < 2L << 20, "bytes read ahead of the small frame: " + ahead + " (window " + pacer.window()
                + ", peer answered " + pair.peer.pings.get() + " probes)");
        assertTrue(pacer.enabled(), "the peer answers: pacing stays on");
        assertTrue(pair.peer.pings.get() > 3, "the writer probed: " + pair.peer.pings.get());
        // the producers end when the sockets close (no interrupt: it would close the socket under a direct write)
    }

    @Test
    void aPeerThatNeverAnswersStillGetsEveryByte() throws Exception {
        Pair pair = connect(false, 0);
        // as a tunnel with a 2 s ping timeout sets it
        pair.writer.probeTimeout(java.time.Duration.ofSeconds(1));
        long total = 4L << 20;
        List<Thread> producers = bulk(pair.writer, 2, total / 2);
        for (Thread t : producers) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(t.isAlive(), "every frame was taken");
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (pair.peer.bytes.get() < total && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(total, pair.peer.bytes.get(), "every byte arrived");
        assertFalse(pair.writer.pacer().enabled(), "the unanswered probe turned pacing off");
        assertEquals(1, pair.peer.pings.get(), "the peer got one probe");
    }
}
