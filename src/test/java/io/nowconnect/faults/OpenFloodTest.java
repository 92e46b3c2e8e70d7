package io.nowconnect.faults;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
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
 * A hostile hub floods the agent with 50,000 OPENs for connectors it does not export (names that look like its
 * connectors, host:port strings, path tricks, long names) while one real stream runs: every OPEN gets an RST
 * {@code unknown_connector}, nothing outside the connector map is dialled (a sentinel target counts accepts), heap used
 * after GC stays under 256 MiB, the live stream keeps flowing and the tunnel stays up.
 */
@Tag("faults")
@Timeout(value = 90, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class OpenFloodTest {
    private static final int FLOOD = 50_000;
    private static final long HEAP_LIMIT = 256L << 20;

    @Test
    void fiftyThousandOpensForUnexportedConnectors(Harness h, ScriptedHub hub) throws Exception {
        try (ServerSocket sentinel = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            AtomicInteger sentinelAccepts = new AtomicInteger();
            Thread.ofVirtual().start(() -> {
                while (!sentinel.isClosed()) {
                    try (Socket s = sentinel.accept()) {
                        sentinelAccepts.incrementAndGet();
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            EchoServer echo = h.echo();
            AtomicInteger unknownRsts = new AtomicInteger();
            AtomicInteger otherFrames = new AtomicInteger();
            BlockingQueue<String> liveData = new LinkedBlockingQueue<>();
            hub.onText((c, text) -> {
                if (text.startsWith("{\"t\":\"RST\"") && text.endsWith("\"err\":\"unknown_connector\"}")) {
                    unknownRsts.incrementAndGet();
                } else if (text.startsWith("{\"t\":\"DATA\",\"cid\":\"live\"")) {
                    liveData.add(text);
                } else {
                    otherFrames.incrementAndGet();
                }
            });
            Map<String, String> vars = new HashMap<>(h.agentVars(1, Map.of("echo", echo.port())));
            vars.put("NC_AGENT_URL", hub.url());
            vars.put("NC_TARGET_echo_HOST", "127.0.0.1");
            Agent agent = h.startAgent(vars);
            ScriptedHub.Conn conn = hub.awaitAcknowledged(Duration.ofSeconds(10));
            Harness.awaitReady(agent, Duration.ofSeconds(5));
            long heapBefore = FaultKit.heapUsedAfterGc();

            // the live stream
            conn.send("{\"t\":\"OPEN\",\"cid\":\"live\",\"connector\":\"echo\"}");
            AtomicLong seq = new AtomicLong();
            roundTrip(conn, seq, liveData); // dialled and echoing

            List<String> names = List.of("sentinel", "127.0.0.1:" + sentinel.getLocalPort(), "localhost:" + sentinel.getLocalPort(),
                                         "../echo", "echo ", " echo", "echo\u0000", "Echo", "echo,sentinel", "",
                                         "x".repeat(4096), "NC_TARGET_echo_HOST", "${echo}", "echo/..", "é");
            AtomicBoolean flooding = new AtomicBoolean(true);
            AtomicLong peakHeap = new AtomicLong();
            Thread sampler = Thread.ofVirtual().start(() -> {
                while (flooding.get()) {
                    peakHeap.accumulateAndGet(FaultKit.heapUsedAfterGc(), Math::max);
                    FaultKit.sleep(200);
                }
            });
            long start = System.nanoTime();
            Thread flood = Thread.ofVirtual().start(() -> {
                for (int i = 0; i < FLOOD; i++) {
                    String name = i % 10 == 0 ? names.get((i / 10) % names.size()) : "nope-" + i;
                    conn.send("{\"t\":\"OPEN\",\"cid\":\"f" + i + "\",\"connector\":" + json(name) + "}");
                }
            });
            // the live stream keeps flowing during the flood
            long worstRtt = 0;
            int rounds = 0;
            while (flood.isAlive() || unknownRsts.get() < FLOOD) {
                long t = System.nanoTime();
                roundTrip(conn, seq, liveData);
                worstRtt = Math.max(worstRtt, System.nanoTime() - t);
                rounds++;
                if (System.nanoTime() - start > TimeUnit.SECONDS.toNanos(40)) {
                    break;
                }
            }
            long floodMs = ms(System.nanoTime() - start);
            flooding.set(false);
            sampler.join(5000);
            long heapAfter = FaultKit.heapUsedAfterGc();
            report("OPEN flood", FLOOD + " OPENs for unexported connectors answered with " + unknownRsts.get()
                    + " RST unknown_connector in " + floodMs + " ms; sentinel accepts " + sentinelAccepts.get()
                    + "; heap used after GC " + mib(heapBefore) + " MiB before, peak " + mib(peakHeap.get()) + " MiB, "
                    + mib(heapAfter) + " MiB after; live stream " + rounds + " round trips, worst " + ms(worstRtt)
                    + " ms; tunnels " + hub.connectionCount() + ", endings " + agent.status().endings());
            assertEquals(FLOOD, unknownRsts.get(), "every OPEN answered with RST unknown_connector");
            assertEquals(0, sentinelAccepts.get(), "dials outside the connector map");
            assertTrue(peakHeap.get() < HEAP_LIMIT && heapAfter < HEAP_LIMIT, "heap after GC " + mib(peakHeap.get()));
            assertEquals(1, hub.connectionCount(), "the tunnel stayed up: " + agent.status().endings());
            assertTrue(agent.status().snapshot().ready());
            assertEquals(0, otherFrames.get(), "unexpected frames from the agent");
        }
    }

    private static void roundTrip(ScriptedHub.Conn conn, AtomicLong seq, BlockingQueue<String> liveData) throws InterruptedException {
        byte[] msg = ("ping " + seq.get()).getBytes(StandardCharsets.UTF_8);
        conn.send("{\"t\":\"DATA\",\"cid\":\"live\",\"seq\":" + seq.getAndIncrement() + ",\"b64\":\""
                          + Base64.getEncoder().encodeToString(msg) + "\"}");
        StringBuilder got = new StringBuilder();
        String expected = new String(msg, StandardCharsets.UTF_8);
        while (got.length() < expected.length()) {
            String frame = liveData.poll(10, TimeUnit.SECONDS);
            if (frame == null) {
                throw new AssertionError("live stream stalled: got \"" + got + "\" of \"" + expected + "\"");
            }
            String b64 = frame.substring(frame.indexOf("\"b64\":\"") + 7, frame.lastIndexOf('"'));
            got.append(new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8));
        }
        assertEquals(expected, got.toString(), "live stream bytes");
    }

    static String json(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    static long mib(long bytes) {
        return bytes >> 20;
    }
}
