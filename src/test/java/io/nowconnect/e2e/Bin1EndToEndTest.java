package io.nowconnect.e2e;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Direction;
import io.nowconnect.stream.WireEvent;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.testkit.Harness.await;
import static io.nowconnect.testkit.Harness.awaitReady;
import static io.nowconnect.testkit.Harness.client;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin1} between the project's own agent and hub on loopback: it is negotiated and binary DATA flows both ways;
 * a stalled reader is paced rather than reset while another stream moves 100 MiB, with bounded memory; 200 echo
 * streams of 1 MiB pass with a per-stream frame queue of 4 that would overflow v1; and a fast and a slow stream do not
 * starve each other.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class Bin1EndToEndTest {
    private static final WireCounts AGENT = new WireCounts("nowconnect_wire_frames_total");
    private static final WireCounts HUB = new WireCounts("nowconnect_hub_wire_frames_total");

    /** The agent's or the hub's wire counters ({@link WireEvent}) as served in {@code /metrics}. */
    private record WireCounts(String family) {
        Map<String, Long> snapshot() {
            Map<String, Long> out = new java.util.TreeMap<>();
            for (WireEvent e : WireEvent.values()) {
                out.put(e.label(), 0L);
            }
            for (io.helidon.metrics.api.Meter m : io.helidon.metrics.api.Metrics.globalRegistry().meters()) {
                if (m.id().name().equals(family) && m instanceof io.helidon.metrics.api.FunctionalCounter c) {
                    out.merge(m.id().tagsMap().getOrDefault("kind", "?"), c.count(), Long::sum);
                }
            }
            return out;
        }
    }

    private Harness harness;
    private ExecutorService pool;

    @BeforeEach
    void setUp(Harness harness) {
        this.harness = harness;
        pool = Executors.newVirtualThreadPerTaskExecutor();
        harness.closeLater(() -> pool.shutdownNow());
    }

    @Test
    void ourAgentAndHubNegotiateBin1AndDataFlowsAsBinaryBothWays() throws Exception {
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub("echo");
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("echo", echo.port())));
        awaitReady(agent, Duration.ofSeconds(10));
        Map<String, Long> agentBefore = AGENT.snapshot();
        Map<String, Long> hubBefore = HUB.snapshot();

        int size = 2 << 20;
        assertNull(echoStream(hub.listenerPorts().get("echo"), 1, size), "echo intact");

        Map<String, Long> a = delta(agentBefore, AGENT.snapshot());
        Map<String, Long> h = delta(hubBefore, HUB.snapshot());
        System.out.println("bin1 e2e wire counters: agent " + a + ", hub " + h);
        assertTrue(a.get("binary_data_sent") >= size / BinaryCodec.MAX_DATA_PAYLOAD, "agent sent binary DATA: " + a);
        assertTrue(h.get("binary_data_sent") >= size / BinaryCodec.MAX_DATA_PAYLOAD, "hub sent binary DATA: " + h);
        assertEquals(a.get("binary_data_sent"), h.get("binary_data_received"), "every binary DATA arrived at the hub");
        assertEquals(h.get("binary_data_sent"), a.get("binary_data_received"), "every binary DATA arrived at the agent");
        assertEquals(0, a.get("json_data_sent") + a.get("json_data_received") + h.get("json_data_sent")
                + h.get("json_data_received"), "no JSON DATA under bin1");
        // 2 MiB each way through windows of 256 KiB growing to 4 MiB: credit came back in both directions
        assertTrue(a.get("window_sent") >= 2 && h.get("window_sent") >= 2, "WINDOW frames both ways: " + a + " " + h);
        assertEquals(0, a.get("flow_control_resets") + h.get("flow_control_resets"));
    }

    @Test
    void anAgentWithoutBin1GetsJsonFromOurHub() throws Exception {
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub("echo");
        Agent agent;
        System.setProperty("nowconnect.bin1", "false");
        try {
            agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("echo", echo.port())));
            awaitReady(agent, Duration.ofSeconds(10));
        } finally {
            System.clearProperty("nowconnect.bin1");
        }
        Map<String, Long> agentBefore = AGENT.snapshot();
        Map<String, Long> hubBefore = HUB.snapshot();
        assertNull(echoStream(hub.listenerPorts().get("echo"), 2, 256 * 1024), "echo intact");
        Map<String, Long> a = delta(agentBefore, AGENT.snapshot());
        Map<String, Long> h = delta(hubBefore, HUB.snapshot());
        assertTrue(a.get("json_data_sent") > 0 && h.get("json_data_sent") > 0, "JSON DATA both ways: " + a + " " + h);
        assertEquals(0, a.get("binary_data_sent") + h.get("binary_data_sent") + a.get("window_sent")
                + h.get("window_sent"), "nothing binary without bin1: " + a + " " + h);
    }

    @Test
    void aReaderStalledForTenSecondsWhileAnotherStreamMovesOneHundredMebibytesNoResetBoundedMemory() throws Exception {
        long stallMillis = 10_000;
        long slowBytes = 16L << 20;
        long bulkBytes = 100L << 20;
        EchoServer echo = harness.echo();
        try (PatternStreams.SlowTarget slow = new PatternStreams.SlowTarget(11, slowBytes, stallMillis, 0, 0)) {
            Hub hub = harness.startHub("slow", "echo");
            Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("slow", slow.port(),
                                                                                  "echo", echo.port())));
            awaitReady(agent, Duration.ofSeconds(10));
            Map<String, Double> resultsBefore = Harness.streamResults();
            Map<String, Long> hubBefore = HUB.snapshot();
            long baseline = heapAfterGc();
            AtomicLong peak = new AtomicLong(baseline);
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = Thread.ofVirtual().start(() -> {
                while (sampling.get()) {
                    peak.accumulateAndGet(heapAfterGc(), Math::max);
                    try {
                        Thread.sleep(400);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });

            // stream A: 16 MiB toward a target that reads nothing for 10 s
            Socket a = client(hub.listenerPorts().get("slow"));
            a.setSoTimeout(60_000);
            Future<?> aWrite = pool.submit(() -> {
                PatternStreams.write(a.getOutputStream(), 11, slowBytes);
                a.shutdownOutput();
                return null;
            });
            Future<Integer> aEnd = pool.submit(() -> a.getInputStream().read());
            assertTrue(slow.accepted.await(10, TimeUnit.SECONDS), "target A connected");

            // stream B: 100 MiB each way through the echo target, meanwhile
            long start = System.nanoTime();
            String b = echoStream(hub.listenerPorts().get("echo"), 12, bulkBytes);
            long bDone = System.nanoTime();
            double seconds = (bDone - start) / 1e9;
            boolean duringStall = slow.readingSinceNanos.get() == 0 || bDone < slow.readingSinceNanos.get();
            System.out.printf("bin1 e2e: stream B moved %d MiB each way in %.2f s (%.1f MiB/s each way) %s stream A's "
                                      + "10 s stall%n", bulkBytes >> 20, seconds, (bulkBytes >> 20) / seconds,
                              duringStall ? "during" : "NOT within");
            assertNull(b, "stream B intact");

            assertTrue(slow.awaitDone(60), "target A finished reading");
            aWrite.get(30, TimeUnit.SECONDS);
            assertEquals(-1, aEnd.get(30, TimeUnit.SECONDS), "stream A ends with EOF (FIN), not a reset");
            a.close();
            sampling.set(false);
            sampler.join();
            peak.accumulateAndGet(heapAfterGc(), Math::max);
            assertNull(slow.result, "all of stream A's bytes arrived intact after the stall");

            long grownMiB = (peak.get() - baseline) >> 20;
            System.out.printf("bin1 e2e: heap after GC: baseline %d MiB, peak %d MiB (+%d MiB) for agent + hub + "
                                      + "test, bound +64 MiB%n", baseline >> 20, peak.get() >> 20, grownMiB);
            assertTrue(grownMiB < 64, "heap grew by " + grownMiB + " MiB");
            Map<String, Long> h = delta(hubBefore, HUB.snapshot());
            assertTrue(h.get("credit_waits") > 0, "the hub's reader for stream A waited for credit: " + h);
            await(Duration.ofSeconds(10), () -> hub.tunnelStreamCounts("slow").equals(List.of(0)), "streams closed");
            Map<String, Double> results = delta(resultsBefore, Harness.streamResults());
            System.out.println("bin1 e2e: stream results " + results);
            assertTrue(results.keySet().stream().allMatch(k -> k.endsWith("{ok}")), "only ok results: " + results);
        }
    }

    @Test
    void twoHundredEchoStreamsOfOneMebibytePassWithAFrameQueueOfFour() throws Exception {
        int streams = 200;
        int size = 1 << 20;
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub(0, Map.of("NC_HUB_QUEUE_DEPTH_PER_CID", "4"), "echo");
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("echo", echo.port()));
        // v1 resets a stream once 4 frames wait for its socket; bin1 is bounded by the window instead
        vars.put("NC_QUEUE_DEPTH_PER_CID", "4");
        Agent agent = harness.startAgent(vars);
        awaitReady(agent, Duration.ofSeconds(10));
        int port = hub.listenerPorts().get("echo");
        Map<String, Double> before = Harness.streamResults();
        long start = System.nanoTime();
        List<Future<String>> results = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            int id = 100 + i;
            results.add(pool.submit(() -> echoStream(port, id, size)));
        }
        List<String> failures = new ArrayList<>();
        for (Future<String> f : results) {
            String r = f.get(90, TimeUnit.SECONDS);
            if (r != null) {
                failures.add(r);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("bin1 e2e: %d echo streams x 1 MiB each way in %.2f s (%.1f MiB/s each way)%n",
                          streams, seconds, streams / seconds);
        assertEquals(List.of(), failures, "echo streams intact");
        await(Duration.ofSeconds(10), () -> hub.tunnelStreamCounts("echo").equals(List.of(0)), "all streams closed");
        // a stream leaves its table before its result is counted: wait for all 400 results (agent and hub)
        await(Duration.ofSeconds(10), () -> delta(before, Harness.streamResults()).values().stream()
                .mapToDouble(Double::doubleValue).sum() >= 2.0 * streams, "every stream's result counted");
        Map<String, Double> d = delta(before, Harness.streamResults());
        assertEquals(0.0, d.getOrDefault("nowconnect_streams_total{queue_overflow}", 0.0)
                + d.getOrDefault("nowconnect_hub_streams_total{queue_overflow}", 0.0), "no queue_overflow: " + d);
        assertTrue(d.keySet().stream().allMatch(k -> k.endsWith("{ok}")), "only ok results: " + d);
        assertEquals(2.0 * streams, d.values().stream().mapToDouble(Double::doubleValue).sum(), "results: " + d);
    }

    @Test
    void aFastAndASlowStreamDoNotStarveEachOther() throws Exception {
        // slow: 3 MiB read 32 KiB per 25 ms (~1.25 MiB/s); fast: 64 MiB each way through an echo; interactive:
        // 100 small round trips, all at the same time on one tunnel
        long slowBytes = 3L << 20;
        long fastBytes = 64L << 20;
        EchoServer echo = harness.echo();
        try (PatternStreams.SlowTarget slow = new PatternStreams.SlowTarget(21, slowBytes, 0, 32 * 1024, 25)) {
            Hub hub = harness.startHub("slow", "echo");
            Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("slow", slow.port(),
                                                                                  "echo", echo.port())));
            awaitReady(agent, Duration.ofSeconds(10));
            int echoPort = hub.listenerPorts().get("echo");
            Map<String, Double> before = Harness.streamResults();

            long start = System.nanoTime();
            Socket s = client(hub.listenerPorts().get("slow"));
            s.setSoTimeout(60_000);
            Future<?> slowWrite = pool.submit(() -> {
                PatternStreams.write(s.getOutputStream(), 21, slowBytes);
                s.shutdownOutput();
                return null;
            });
            Future<String> fast = pool.submit(() -> echoStream(echoPort, 22, fastBytes));
            Future<long[]> interactive = pool.submit(() -> roundTrips(echoPort, 100));

            assertNull(fast.get(60, TimeUnit.SECONDS), "fast stream intact");
            double fastSeconds = (System.nanoTime() - start) / 1e9;
            long[] rtts = interactive.get(60, TimeUnit.SECONDS);
            assertTrue(slow.awaitDone(60), "slow stream finished");
            double slowSeconds = (slow.doneAtNanos.get() - start) / 1e9;
            slowWrite.get(10, TimeUnit.SECONDS);
            assertEquals(-1, s.getInputStream().read(), "slow stream ends with EOF");
            s.close();
            assertNull(slow.result, "slow stream intact");

            Arrays.sort(rtts);
            double fastRate = (fastBytes >> 20) / fastSeconds;
            double slowRate = (slowBytes >> 20) / slowSeconds;
            System.out.printf("bin1 e2e fairness: fast %.1f MiB/s each way (%.2f s), slow %.2f MiB/s (%.2f s, paced at "
                                      + "~1.25), interactive round trip p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                              fastRate, fastSeconds, slowRate, slowSeconds, rtts[rtts.length / 2] / 1e6,
                              rtts[rtts.length * 99 / 100] / 1e6, rtts[rtts.length - 1] / 1e6);
            // the three complete intact side by side on one tunnel (asserted above and below); how fast each went is
            // printed for the record and measured in bench/, not asserted here
            // the slow stream is not starved by the fast one (it finished, intact, within the waits above) and the 100
            // small exchanges all got through while the bulk stream filled the tunnel; their pace and round trips are
            // the printed figures (on a loaded 2-core machine a fixed bound here fails for the load, not the code)
            await(Duration.ofSeconds(10), () -> hub.tunnelStreamCounts("echo").equals(List.of(0)), "streams closed");
            Map<String, Double> d = delta(before, Harness.streamResults());
            assertTrue(d.keySet().stream().allMatch(k -> k.endsWith("{ok}")), "only ok results: " + d);
        }
    }

    /** One stream through an echo target: write {@code size} bytes of pattern {@code id}, read them back. */
    private String echoStream(int port, int id, long size) throws Exception {
        try (Socket s = client(port)) {
            s.setSoTimeout(60_000);
            Future<String> back = pool.submit(() -> PatternStreams.verify(s.getInputStream(), id, size, 0, 0));
            PatternStreams.write(s.getOutputStream(), id, size);
            s.shutdownOutput();
            return back.get(90, TimeUnit.SECONDS);
        }
    }

    /** Round trips of 100 bytes on one echo stream; returns each one's nanoseconds. */
    private static long[] roundTrips(int port, int count) throws Exception {
        long[] rtts = new long[count];
        try (Socket s = client(port)) {
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            byte[] msg = new byte[100];
            for (int i = 0; i < count; i++) {
                Arrays.fill(msg, (byte) i);
                long t = System.nanoTime();
                out.write(msg);
                out.flush();
                byte[] got = in.readNBytes(msg.length);
                rtts[i] = System.nanoTime() - t;
                assertTrue(Arrays.equals(msg, got), "round trip " + i + " intact");
                Thread.sleep(10);
            }
            s.shutdownOutput();
            assertEquals(-1, in.read());
        }
        return rtts;
    }

    static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static <N extends Number> Map<String, N> delta(Map<String, N> before, Map<String, N> after) {
        Map<String, N> out = new java.util.TreeMap<>();
        after.forEach((k, v) -> {
            N b = before.get(k);
            if (v instanceof Long l) {
                @SuppressWarnings("unchecked")
                N d = (N) Long.valueOf(l - (b == null ? 0 : b.longValue()));
                out.put(k, d);
            } else {
                double d = v.doubleValue() - (b == null ? 0 : b.doubleValue());
                if (d != 0) {
                    @SuppressWarnings("unchecked")
                    N n = (N) Double.valueOf(d);
                    out.put(k, n);
                }
            }
        });
        return out;
    }
}
