package io.nowconnect.faults;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;


import io.nowconnect.Agent;
import io.nowconnect.testkit.ChildJvm;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ThreadCensus;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.fdCount;
import static io.nowconnect.faults.FaultKit.platformThreads;
import static io.nowconnect.faults.FaultKit.report;
import static io.nowconnect.faults.HubKillRestartTest.ms;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 10,000 concurrent streams on one tunnel, then all closed: the agent's threads (platform and virtual), open file
 * descriptors and heap return to their baseline. The agent runs in this JVM (so its own figures are measured); the
 * hub ({@code Main hub}), the 10,000 clients and the echo target each run in a child process, so no process holds
 * more than about 10,000 sockets.
 */
@Tag("faults")
@Timeout(value = 150, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class ManyStreamsTest {
    private static final int STREAMS = 10_000;

    @Test
    void tenThousandConcurrentStreamsThenAllClosedReturnToBaseline(Harness h) throws Exception {
        long limit = FaultKit.openFileLimit();
        Assumptions.assumeTrue(limit >= STREAMS + 2000,
                               "open-file limit " + limit + " is below " + (STREAMS + 2000) + " (each process here holds "
                                       + "about 10,000 sockets); run with ulimit -n 65536");
        List<Process> children = new ArrayList<>();
        try {
            Peer echo = Peer.start(children, "echo");
            int echoPort = Integer.parseInt(echo.expect("PORT (\\d+)", 30).group(1));

            int hubPort = FaultKit.freePort();
            int listen = FaultKit.freePort();
            FaultKit.HubProcess hub = new FaultKit.HubProcess(h.dir(), h.secret(), "127.0.0.1", hubPort,
                                                              Map.of("load", "127.0.0.1:" + listen),
                                                              Map.of("NC_HUB_MAX_CONNECTIONS", "20000",
                                                                     "NC_HUB_IDLE_TIMEOUT_MS", "0"),
                                                              List.of());
            try (hub) {
                hub.start(Duration.ofSeconds(30));
                Map<String, String> vars = new HashMap<>(h.agentVars(hubPort, Map.of("load", echoPort)));
                vars.put("NC_MAX_INFLIGHT_CIDS", "20000");
                vars.put("NC_IDLE_TIMEOUT_MS", "0");
                vars.put("NC_PING_TIMEOUT_SEC", "10");
                Agent agent = h.startAgent(vars);
                Harness.awaitReady(agent, Duration.ofSeconds(15));

                // warm-up: 300 streams opened and closed from this JVM (classes, pools)
                List<Socket> warm = new ArrayList<>();
                for (int i = 0; i < 300; i++) {
                    Socket s = Harness.client(listen);
                    s.getOutputStream().write('w');
                    warm.add(s);
                }
                for (Socket s : warm) {
                    assertEquals('w', s.getInputStream().read());
                    s.close();
                }
                Harness.await(Duration.ofSeconds(10), () -> echoOpen(echo) == 0, "warm-up streams closed");
                FaultKit.sleep(500);
                Figures base = Figures.now(h.dir(), "base");

                Peer clients = Peer.start(children, "clients", Integer.toString(listen), Integer.toString(STREAMS));
                Matcher ready = clients.expect("READY (\\d+) (\\d+)", 120);
                int opened = Integer.parseInt(ready.group(1));
                long openMs = Long.parseLong(ready.group(2));
                int targetsOpen = echoOpen(echo);
                Figures peak = Figures.now(h.dir(), "peak");
                assertTrue(agent.status().snapshot().ready() && agent.status().endings().isEmpty(),
                           "tunnel stayed up: " + agent.status().endings());

                long closeStart = System.nanoTime();
                clients.send("close");
                clients.expect("CLOSED", 30);
                Harness.await(Duration.ofSeconds(60), () -> echoOpen(echo) == 0, "every target connection closed");
                Harness.await(Duration.ofSeconds(30), () -> fdCount() <= base.fds + 20, "agent fds back to baseline");
                long closeMs = ms(System.nanoTime() - closeStart);
                FaultKit.sleep(500);
                Figures after = Figures.now(h.dir(), "after");

                report("10,000 streams", opened + " streams echoed end to end in " + openMs + " ms (" + targetsOpen
                        + " target connections open at once); all closed in " + closeMs + " ms");
                report("10,000 streams baseline/peak/after", "fds " + base.fds + " / " + peak.fds + " / " + after.fds
                        + "; platform threads " + base.platform + " / " + peak.platform + " / " + after.platform
                        + "; virtual threads " + base.virtual + " / " + peak.virtual + " / " + after.virtual
                        + "; heap after GC " + mib(base.heap) + " / " + mib(peak.heap) + " / " + mib(after.heap) + " MiB ("
                        + (peak.heap - base.heap) / Math.max(1, opened) + " bytes per open stream)");
                assertEquals(STREAMS, opened, "streams that echoed");
                assertTrue(after.fds <= base.fds + 20, "fds " + base.fds + " -> " + after.fds);
                assertTrue(after.platform <= base.platform + 5, "platform threads " + base.platform + " -> " + after.platform);
                assertTrue(after.virtual <= base.virtual + 20, "virtual threads " + base.virtual + " -> " + after.virtual);
                assertTrue(after.heap <= base.heap + (16 << 20), "heap " + mib(base.heap) + " -> " + mib(after.heap) + " MiB");
            }
        } finally {
            for (Process p : children) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static int echoOpen(Peer echo) {
        try {
            echo.send("?");
            return Integer.parseInt(echo.expect("OPEN (\\d+)", 10).group(1));
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static long mib(long b) {
        return b >> 20;
    }

    /** Threads, fds and heap of this JVM (the agent's process). */
    private record Figures(int fds, int platform, long virtual, long heap) {
        static Figures now(Path dir, String label) throws IOException {
            long heap = FaultKit.heapUsedAfterGc();
            return new Figures(fdCount(), platformThreads(), virtualThreads(dir, label), heap);
        }

        /** Virtual threads, from a JSON thread dump (the only view that lists them). */
        static long virtualThreads(Path dir, String label) {
            return ThreadCensus.virtual();
        }
    }

    /** A {@link LoadPeer} child process, talked to by lines. */
    private static final class Peer {
        private final Process process;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final OutputStream stdin;

        private Peer(Process process) {
            this.process = process;
            this.stdin = process.getOutputStream();
            Thread.ofVirtual().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                                                                                  StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // gone
                }
            });
        }

        static Peer start(List<Process> children, String... args) throws IOException {
            Process p = ChildJvm.main(LoadPeer.class.getName()).options("-Xmx512m", "-XX:+UseSerialGC").args(args)
                    .inheritErr().start();
            children.add(p);
            return new Peer(p);
        }

        void send(String line) throws IOException {
            stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        }

        Matcher expect(String regex, int seconds) throws InterruptedException {
            Pattern p = Pattern.compile(regex);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (true) {
                String line = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (line == null) {
                    throw new AssertionError("no line matching " + regex + " within " + seconds + " s (alive: "
                                                     + process.isAlive() + ")");
                }
                Matcher m = p.matcher(line);
                if (m.matches()) {
                    return m;
                }
            }
        }
    }
}
