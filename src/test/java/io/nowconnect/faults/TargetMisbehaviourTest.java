package io.nowconnect.faults;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.report;
import static io.nowconnect.faults.HubKillRestartTest.ms;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Targets that misbehave, against the project's hub and agent on loopback: a refused port, a port that never
 * completes the TCP handshake (its accept queue is full), a target that resets mid-stream, and a target that stops
 * reading while 20 other streams run at full speed.
 */
@Tag("faults")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class TargetMisbehaviourTest {
    private static final int CONNECT_TIMEOUT_MS = 1000;

    @Test
    void refusedHangingAndResettingTargetsEndOnlyTheirOwnStreams(Harness harness) throws Exception {
        EchoServer echo = harness.echo();
        int refusedPort = FaultKit.freePort();
        ServerSocket hanging = fullAcceptQueue(harness);
        ServerSocket resetting = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        harness.closeLater(resetting);
        Thread.ofVirtual().start(() -> {
            while (!resetting.isClosed()) {
                try {
                    Socket s = resetting.accept();
                    Thread.ofVirtual().start(() -> {
                        try {
                            s.getInputStream().readNBytes(5);
                            s.setSoLinger(true, 0);
                            s.close(); // RST
                        } catch (IOException ignored) {
                            // done
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });

        Hub hub = harness.startHub("echo", "refuse", "hang", "reset");
        Map<String, String> vars = new HashMap<>(harness.agentVars(hub.port(), Map.of(
                "echo", echo.port(), "refuse", refusedPort, "hang", hanging.getLocalPort(), "reset", resetting.getLocalPort())));
        vars.put("NC_CONNECT_TIMEOUT_MS", Integer.toString(CONNECT_TIMEOUT_MS));
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, Duration.ofSeconds(10));
        Map<String, Integer> ports = hub.listenerPorts();

        // a live echo stream doing round trips the whole time: its worst round trip is the "others unaffected" figure
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong worstRtt = new AtomicLong();
        AtomicInteger rounds = new AtomicInteger();
        Socket live = Harness.client(ports.get("echo"));
        Thread liveThread = Thread.ofVirtual().start(() -> {
            byte[] msg = new byte[100];
            try {
                while (running.get()) {
                    long t = System.nanoTime();
                    live.getOutputStream().write(msg);
                    if (live.getInputStream().readNBytes(100).length < 100) {
                        return;
                    }
                    worstRtt.accumulateAndGet(System.nanoTime() - t, Math::max);
                    rounds.incrementAndGet();
                    Thread.sleep(5);
                }
            } catch (IOException | InterruptedException e) {
                worstRtt.set(Long.MAX_VALUE);
            }
        });
        Map<String, Double> before = Harness.streamResults();

        long refusedMs = timeToEnd(ports.get("refuse"), null);
        long hangMs = timeToEnd(ports.get("hang"), null);
        long resetMs = timeToEnd(ports.get("reset"), "hello world".getBytes());

        // all three at once, 10 each, while the live stream goes on
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        List<Future<Long>> all = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            all.add(pool.submit(() -> timeToEnd(ports.get("refuse"), null)));
            all.add(pool.submit(() -> timeToEnd(ports.get("hang"), null)));
            all.add(pool.submit(() -> timeToEnd(ports.get("reset"), "hello world".getBytes())));
        }
        long worstConcurrent = 0;
        for (Future<Long> f : all) {
            worstConcurrent = Math.max(worstConcurrent, f.get(20, TimeUnit.SECONDS));
        }
        pool.shutdown();
        Map<String, Double> after = Harness.streamResults();

        double connectFailed = delta(before, after, "nowconnect_streams_total{connect_failed}");
        report("target refuses", "client closed " + refusedMs + " ms after connecting (connect_failed counted "
                + (long) connectFailed + " times over the whole test)");
        report("target hangs on connect", "stream reset after " + hangMs + " ms (NC_CONNECT_TIMEOUT_MS="
                + CONNECT_TIMEOUT_MS + ")");
        report("target resets mid-stream", "client closed " + resetMs + " ms after its first bytes");
        report("misbehaving targets vs a live stream", "30 concurrent bad streams ended, slowest in " + worstConcurrent
                + " ms; live echo stream: " + rounds.get() + " round trips, worst " + ms(worstRtt.get()) + " ms");

        // behaviour, not speed (bench/ measures that): every bad stream ended (timeToEnd fails one still open after
        // 15 s), the hanging one no sooner than the connect timeout, and the live stream never failed and kept going
        assertTrue(hangMs >= CONNECT_TIMEOUT_MS - 100, "hanging target: reset after " + hangMs + " ms, before the timeout");
        assertTrue(worstRtt.get() != Long.MAX_VALUE, "the live echo stream failed while bad streams ended around it");
        int roundsBefore = rounds.get();
        Harness.await(Duration.ofSeconds(10), () -> rounds.get() > roundsBefore, "the live stream still answers");
        assertTrue(connectFailed >= 22, "connect_failed counted " + connectFailed);
        assertTrue(agent.status().snapshot().ready() && agent.status().endings().isEmpty(),
                   "tunnel never dropped: " + agent.status().endings());
        running.set(false);
        liveThread.join(5000);
        live.close();
    }

    @Test
    void aTargetThatStopsReadingHurtsNoneOfTwentyOthers(Harness harness) throws Exception {
        int streams = 20;
        int size = 1 << 20;
        try (Bulk bulk = new Bulk(size); ServerSocket stall = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress())) {
            List<Socket> stalled = java.util.Collections.synchronizedList(new ArrayList<>());
            Thread.ofVirtual().start(() -> {
                while (!stall.isClosed()) {
                    try {
                        Socket s = stall.accept();
                        s.setReceiveBufferSize(4096);
                        stalled.add(s); // accepted, never read
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            Hub hub = harness.startHub("bulk", "stall");
            Map<String, String> vars = new HashMap<>(harness.agentVars(hub.port(), Map.of("bulk", bulk.port(), "stall",
                                                                                             stall.getLocalPort())));
            Agent agent = harness.startAgent(vars);
            Harness.awaitReady(agent, Duration.ofSeconds(10));
            int bulkPort = hub.listenerPorts().get("bulk");
            int stallPort = hub.listenerPorts().get("stall");

            // the 20 bulk streams alone, then again beside a target that stops reading: every stream of both runs must
            // come back intact (a reset or a cut-short reply fails the test); the MiB/s are reported, bench/ judges speed
            double base = run(bulkPort, streams, size, bulk);
            AtomicInteger stallStreams = new AtomicInteger();
            AtomicLong stallBytes = new AtomicLong();
            AtomicBoolean stalling = new AtomicBoolean(true);
            Thread staller = Thread.ofVirtual().start(() -> {
                byte[] junk = new byte[64 * 1024];
                while (stalling.get()) {
                    // a client sends up to 8 MiB to a target that never reads: its stream is held on credit (bin1) or
                    // reset (v1, queue_overflow); after a pause (so the pusher is not a 21st bulk stream eating the CPU
                    // of a 2-core machine) it opens another, for as long as the bulk run lasts
                    try (Socket s = Harness.client(stallPort)) {
                        stallStreams.incrementAndGet();
                        OutputStream out = s.getOutputStream();
                        for (int k = 0; k < 128 && stalling.get(); k++) {
                            out.write(junk);
                            stallBytes.addAndGet(junk.length);
                        }
                        s.setSoTimeout(200);
                        while (stalling.get()) {
                            try {
                                if (s.getInputStream().read() < 0) {
                                    break;
                                }
                            } catch (java.net.SocketTimeoutException stillOpen) {
                                // keep waiting
                            }
                        }
                    } catch (IOException e) {
                        // reset: go again
                    }
                    FaultKit.sleep(300);
                }
            });
            // positive control: the stalled target really holds bytes back before the bulk run starts
            Harness.await(Duration.ofSeconds(30), () -> stallBytes.get() >= 1 << 20, "a client pushing at the stalled target");
            double withStall = run(bulkPort, streams, size, bulk);
            stalling.set(false);
            staller.join(10_000);
            Map<String, Double> results = Harness.streamResults();
            report("slow consumer", String.format("20 streams x %d MiB each way: %.1f MiB/s without, %.1f MiB/s with a "
                    + "stalled target (%.0f %%); %d stalled streams opened, %.1f MiB pushed at them; queue_overflow "
                    + "resets so far %.0f", size >> 20, base, withStall, 100 * withStall / base, stallStreams.get(),
                    stallBytes.get() / 1048576.0, results.getOrDefault("nowconnect_streams_total{queue_overflow}", 0.0)));
            assertEquals(2 * streams, bulk.intact.get(), "every bulk stream of both runs intact");
            assertEquals(0, bulk.corrupt.get(), "bulk target connections that failed");
            assertTrue(agent.status().snapshot().ready() && agent.status().endings().isEmpty(),
                       "tunnel never dropped: " + agent.status().endings());
            for (Socket s : stalled) {
                s.close();
            }
        }
    }

    /**
     * 20 independent bulk transfers at once; aggregate MiB/s (one direction), for the report. A stream that came back
     * reset, cut short or different fails the test: a healthy stream must never be hurt by a misbehaving one.
     */
    private static double run(int port, int streams, int size, Bulk bulk) throws Exception {
        int intactBefore = bulk.intact.get();
        int corruptBefore = bulk.corrupt.get();
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        long start = System.nanoTime();
        List<Future<Boolean>> results = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            long seed = System.nanoTime() * 2 + i * 2L;
            results.add(pool.submit(() -> {
                try (Socket s = Harness.client(port)) {
                    Future<byte[]> reply = pool.submit(() -> Harness.readAll(s));
                    OutputStream out = s.getOutputStream();
                    out.write(ByteBuffer.allocate(8).putLong(seed).array());
                    Harness.sendAndFinish(s, Bulk.bytes(seed, size));
                    byte[] got = reply.get(60, TimeUnit.SECONDS);
                    byte[] want = Bulk.bytes(seed + 1, size);
                    if (!Arrays.equals(want, got)) {
                        boolean prefix = got.length < want.length && Arrays.equals(got, Arrays.copyOf(want, got.length));
                        System.out.println("fault: slow consumer: a bulk reply was " + (prefix ? "cut short (intact prefix of "
                                + got.length + " bytes, then EOF)" : "different (" + got.length + " bytes)"));
                        return false;
                    }
                    return true;
                } catch (java.util.concurrent.ExecutionException e) {
                    System.out.println("fault: slow consumer: a bulk reply failed: " + e.getCause());
                    return false;
                }
            }));
        }
        int broken = 0;
        for (Future<Boolean> f : results) {
            broken += f.get(90, TimeUnit.SECONDS) ? 0 : 1;
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        Harness.await(Duration.ofSeconds(10), () -> bulk.intact.get() + bulk.corrupt.get() - intactBefore - corruptBefore
                == streams, "every bulk target connection finished");
        assertEquals(0, broken, "healthy bulk streams reset or cut short (see the 'fault: slow consumer' lines)");
        assertEquals(intactBefore + streams, bulk.intact.get(), "bulk uploads intact");
        return Math.round(streams * (size / 1048576.0) / seconds * 10) / 10.0;
    }

    /** Connect a client, optionally send bytes, and time until the stream ends (EOF or reset). */
    private static long timeToEnd(int port, byte[] send) throws IOException {
        long start = System.nanoTime();
        Socket connected;
        try {
            connected = Harness.client(port);
            if (send != null) {
                connected.getOutputStream().write(send);
            }
        } catch (java.net.SocketException reset) {
            // the stream's reset (a refused target) can beat the client's own connect call or its first write
            return ms(System.nanoTime() - start);
        }
        try (Socket s = connected) {
            s.setSoTimeout(15_000);
            InputStream in = s.getInputStream();
            try {
                byte[] buf = new byte[1024];
                while (in.read(buf) >= 0) {
                    // drain
                }
            } catch (java.net.SocketTimeoutException e) {
                throw new AssertionError("stream still open after 15 s");
            } catch (IOException reset) {
                // ended by a reset
            }
        }
        return ms(System.nanoTime() - start);
    }

    /** A listening socket whose accept queue is full: connects to it never complete. */
    private ServerSocket fullAcceptQueue(Harness harness) throws IOException {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        harness.closeLater(s);
        for (int i = 0; i < 16; i++) {
            Socket c = new Socket();
            harness.closeLater(c);
            try {
                c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), s.getLocalPort()), 300);
            } catch (java.net.SocketTimeoutException full) {
                return s;
            }
        }
        throw new AssertionError("the accept queue of a backlog-1 listener never filled");
    }

    private static double delta(Map<String, Double> before, Map<String, Double> after, String key) {
        return after.getOrDefault(key, 0.0) - before.getOrDefault(key, 0.0);
    }

    /** Like the e2e BulkTarget: seed, then independent transfers both ways, checked. */
    static final class Bulk implements AutoCloseable {
        private final ServerSocket server;
        private final int size;
        final AtomicInteger intact = new AtomicInteger();
        final AtomicInteger corrupt = new AtomicInteger();

        Bulk(int size) throws IOException {
            this.size = size;
            this.server = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        Thread.ofVirtual().start(() -> serve(s));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        static byte[] bytes(long seed, int size) {
            byte[] b = new byte[size];
            new Random(seed).nextBytes(b);
            return b;
        }

        private void serve(Socket s) {
            try (s) {
                InputStream in = s.getInputStream();
                long seed = new DataInputStream(in).readLong();
                Thread writer = Thread.ofVirtual().start(() -> {
                    try {
                        s.getOutputStream().write(bytes(seed + 1, size));
                        s.shutdownOutput();
                    } catch (IOException ignored) {
                        // the client sees it
                    }
                });
                byte[] got = in.readAllBytes();
                writer.join();
                (Arrays.equals(got, bytes(seed, size)) ? intact : corrupt).incrementAndGet();
            } catch (IOException | InterruptedException e) {
                corrupt.incrementAndGet();
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
