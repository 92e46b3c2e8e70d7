package io.nowconnect.faults;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.demo.EchoServer;
import io.nowconnect.faults.OverloadKit.GaugeWatch;
import io.nowconnect.faults.OverloadKit.Node;
import io.nowconnect.faults.OverloadKit.Prober;
import io.nowconnect.faults.OverloadKit.StalledTarget;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.report;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Overload from a v1 hub without flow control (the test kit's {@link ScriptedHub}, acknowledging no capability)
 * against the agent as a child process with the launcher's options ({@code -Xmx128m}, a 32 MiB budget): 2,000 streams
 * into a target that never reads, 10 of them flooded with 8 MiB each (more than the socket buffers toward the target
 * and the budget take together) and 1,990 with 4 KiB each, while an echo stream on another connector is probed 20 times
 * a second and a 5 MiB echo runs beside the flood. The agent stays alive and within its budget, keeps the one tunnel,
 * and resets with {@code queue_overflow} only flooded streams (those that hold the most), never a light one, never the
 * probe and never the bulk echo, which comes back whole.
 */
@ExtendWith(TestKit.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class V1OverloadTest {
    /** Flooded streams: each gets more than the socket buffers toward its target take (about 3 MiB on Linux). */
    private static final int HEAVY = 10;
    private static final int LIGHT = 1990;
    private static final int HEAVY_FRAMES = 512;
    /** A bulk echo beside the flood: its target keeps reading, so it must come back whole. */
    private static final int ECHO_BYTES = 5 << 20;
    private static final int HEAVY_PAYLOAD = 16 * 1024;
    private static final int LIGHT_PAYLOAD = 4 * 1024;
    private static final Pattern RST = Pattern.compile("\\{\"t\":\"RST\",\"cid\":\"([^\"]*)\",\"err\":\"([^\"]*)\"}");
    private static final Pattern DATA = Pattern.compile("\\{\"t\":\"DATA\",\"cid\":\"probe\",\"seq\":\\d+,\"b64\":\"([^\"]*)\"}");
    private static final Pattern BULK = Pattern.compile("\\{\"t\":\"DATA\",\"cid\":\"bulkecho\",\"seq\":\\d+,\"b64\":\"([^\"]*)\"}");

    @Test
    void v1FloodResetsOnlyTheLargestHoldersNeverTheTunnelOrTheEchoStream(Harness harness) throws Exception {
        Path dir = harness.dir();
        ScriptedHub hub = harness.scriptedHub();
        Map<String, String> resets = new ConcurrentHashMap<>();
        BlockingQueue<byte[]> echoed = new LinkedBlockingQueue<>();
        List<String> unexpected = new CopyOnWriteArrayList<>();
        java.io.ByteArrayOutputStream bulkBack = new java.io.ByteArrayOutputStream();
        hub.onText((c, text) -> {
            Matcher r = RST.matcher(text);
            Matcher d = DATA.matcher(text);
            Matcher b = BULK.matcher(text);
            if (b.matches()) {
                bulkBack.writeBytes(Base64.getDecoder().decode(b.group(1)));
            } else if (r.matches()) {
                resets.put(r.group(1), r.group(2));
            } else if (d.matches()) {
                echoed.add(Base64.getDecoder().decode(d.group(1)));
            } else if (unexpected.size() < 20) {
                unexpected.add(text.length() > 200 ? text.substring(0, 200) : text);
            }
        });
        StalledTarget sink = harness.closeLater(new StalledTarget(false));
        EchoServer echo = harness.echo();
        int agentHttp = FaultKit.freePort();

        Map<String, Integer> targets = new java.util.LinkedHashMap<>();
        targets.put("sink", sink.port());
        targets.put("echo", echo.port());
        Map<String, String> env = OverloadKit.agentEnv(hub.url(), harness.tokenFile(Harness.AGENT_ID,
                                                                                    Duration.ofHours(1),
                                                                                    List.copyOf(targets.keySet())),
                                                       targets, agentHttp, 2010);
        // the budget, not the per-stream frame limit, is what the flood runs into
        env.put("NC_QUEUE_DEPTH_PER_CID", "100000");
        Node agent = harness.closeLater(new Node(dir, "agent", env));
        ScriptedHub.Conn conn = hub.awaitAcknowledged(Duration.ofSeconds(30));
        agent.awaitHttp(agentHttp, "/readyz", Duration.ofSeconds(30));

        List<String> heavy = new ArrayList<>();
        List<String> light = new ArrayList<>();
        for (int i = 0; i < HEAVY; i++) {
            heavy.add(String.format("heavy-%04d", i));
        }
        for (int i = 0; i < LIGHT; i++) {
            light.add(String.format("light-%04d", i));
        }
        for (String cid : heavy) {
            conn.send(open(cid, "sink"));
        }
        for (String cid : light) {
            conn.send(open(cid, "sink"));
        }
        conn.send(open("probe", "echo"));
        conn.send(open("bulkecho", "echo"));
        Harness.await(Duration.ofSeconds(60), () -> sink.accepted.get() >= HEAVY + LIGHT,
                          () -> "target accepted " + sink.accepted.get() + "; " + FaultKit.HubProcess.tail(agent.log));

        GaugeWatch gauge = new GaugeWatch(agentHttp, "nowconnect");
        Thread watcher = Thread.ofPlatform().name("v1-gauges").daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                gauge.sample();
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        long[] probeSeq = {0};
        Prober prober = harness.closeLater(new Prober(i -> {
            byte[] msg = String.format("probe %010d", i).getBytes(StandardCharsets.US_ASCII);
            conn.send(data("probe", probeSeq[0]++, msg));
            java.io.ByteArrayOutputStream back = new java.io.ByteArrayOutputStream();
            while (back.size() < msg.length) {
                byte[] part = echoed.poll(15, TimeUnit.SECONDS);
                if (part == null) {
                    throw new AssertionError("no echo within 15 s; resets " + resets.get("probe"));
                }
                back.writeBytes(part);
            }
            if (!Arrays.equals(msg, back.toByteArray())) {
                throw new AssertionError("wrong echo " + back);
            }
        }, 50));

        AtomicReference<Throwable> floodError = new AtomicReference<>();
        long t0 = System.nanoTime();
        Thread flood = Thread.ofPlatform().name("v1-flood").start(() -> {
            try {
                String lightB64 = Base64.getEncoder().encodeToString(new byte[LIGHT_PAYLOAD]);
                for (String cid : light) {
                    conn.send("{\"t\":\"DATA\",\"cid\":\"" + cid + "\",\"seq\":0,\"b64\":\"" + lightB64 + "\"}");
                }
                byte[] payload = new byte[HEAVY_PAYLOAD];
                new java.util.Random(14).nextBytes(payload);
                String heavyB64 = Base64.getEncoder().encodeToString(payload);
                int echoFrames = ECHO_BYTES / HEAVY_PAYLOAD;
                for (int seq = 0; seq < HEAVY_FRAMES; seq++) {
                    for (String cid : heavy) {
                        conn.send("{\"t\":\"DATA\",\"cid\":\"" + cid + "\",\"seq\":" + seq + ",\"b64\":\"" + heavyB64
                                          + "\"}");
                    }
                    if (seq < echoFrames) {
                        conn.send("{\"t\":\"DATA\",\"cid\":\"bulkecho\",\"seq\":" + seq + ",\"b64\":\"" + heavyB64
                                          + "\"}");
                    }
                }
            } catch (Throwable t) {
                floodError.set(t);
            }
        });
        flood.join(60_000);
        long floodMs = (System.nanoTime() - t0) / 1_000_000;
        // let the agent work through what is still in flight, then a few more probes
        FaultKit.sleep(3000);
        prober.close();
        watcher.interrupt();
        watcher.join(10_000);
        Map<String, Double> metrics = gauge.sample();
        double[] heap = agent.heapPeaksMib();

        long heavyReset = heavy.stream().filter(resets::containsKey).count();
        long lightReset = light.stream().filter(resets::containsKey).count();
        report("overload v1 flood", String.format("%.1f MiB to %d streams (%d x %d KiB frames to %d, %d KiB to %d) "
                + "in %d ms", (HEAVY * HEAVY_FRAMES * (double) HEAVY_PAYLOAD + LIGHT * (double) LIGHT_PAYLOAD)
                / 1048576, HEAVY + LIGHT, HEAVY_FRAMES, HEAVY_PAYLOAD >> 10, HEAVY, LIGHT_PAYLOAD >> 10, LIGHT, floodMs));
        report("overload v1 probe", prober.figure());
        report("overload v1 agent", gauge.figure() + String.format("; heap peak %.0f MiB, live after GC at most "
                + "%.0f MiB (-Xmx128m); %s", heap[0], heap[1], agent.heapInfo()));
        report("overload v1 resets", String.format("%d of %d flooded streams reset (%s), %d of %d light ones; agent "
                + "counted queue_overflow %.0f", heavyReset, HEAVY, resets.values().stream().distinct().toList(),
                lightReset, LIGHT, OverloadKit.sum(metrics, "nowconnect_streams_total", "queue_overflow")));

        agent.assertAlive("after the flood");
        assertNull(floodError.get(), "the flood was sent");
        assertEquals(1, conn.ended.getCount(), "the tunnel stayed up");
        assertEquals(1, hub.connectionCount(), "one tunnel all along");
        assertTrue(prober.failures.isEmpty(), "every probe answered: " + prober.failures);
        assertTrue(prober.count() > 20, "probes ran: " + prober.figure());
        assertNull(resets.get("probe"), "the echo stream is never reset");
        assertEquals(0, lightReset, "no light stream is reset: " + light.stream().filter(resets::containsKey).limit(5)
                .toList());
        assertTrue(heavyReset > 0, "the flood spent the budget: some flooded streams were reset");
        assertNull(resets.get("bulkecho"), "the bulk echo beside the flood is never reset");
        Harness.await(Duration.ofSeconds(30), () -> bulkBack.size() >= ECHO_BYTES,
                          () -> "the bulk echo came back: " + bulkBack.size() + " of " + ECHO_BYTES + " bytes");
        assertEquals(ECHO_BYTES, bulkBack.size(), "the bulk echo came back whole");
        assertTrue(resets.values().stream().allMatch("queue_overflow"::equals), "resets: " + resets.values().stream()
                .distinct().toList());
        assertTrue(gauge.samples > 5, "gauge scraped: " + gauge.figure());
        assertTrue(gauge.violations.isEmpty(), "agent memory within its budget: " + gauge.violations);
        assertTrue(unexpected.isEmpty(), "nothing but RSTs and the echo from the agent: " + unexpected);
    }

    private static String open(String cid, String connector) {
        return "{\"t\":\"OPEN\",\"cid\":\"" + cid + "\",\"connector\":\"" + connector + "\"}";
    }

    private static String data(String cid, long seq, byte[] bytes) {
        return "{\"t\":\"DATA\",\"cid\":\"" + cid + "\",\"seq\":" + seq + ",\"b64\":\""
                + Base64.getEncoder().encodeToString(bytes) + "\"}";
    }
}
