package io.nowconnect.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.nowconnect.Agent;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ThreadCensus;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.fdCount;
import static io.nowconnect.faults.FaultKit.freePort;
import static io.nowconnect.faults.FaultKit.namedThreads;
import static io.nowconnect.faults.FaultKit.platformThreads;
import static io.nowconnect.faults.FaultKit.report;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hub ({@code io.nowconnect.Main hub}, a child process) is killed with SIGKILL while 20 streams move bytes, then
 * started again on the same port, three times: the agent notices at once, every stream of the dead tunnel is closed
 * toward its target and its client, the agent is READY within 2 s of the hub's return, nothing leaks.
 */
@Tag("faults")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class HubKillRestartTest {
    private static final int STREAMS = 20;
    private static final int CYCLES = 3;

    @Test
    void hubKilledMidStreamAndRestartedOnTheSamePort(Harness h) throws Exception {
        try (FaultKit.TrackingTarget target = new FaultKit.TrackingTarget()) {
            int hubPort = freePort();
            int listen = freePort();
            try (FaultKit.HubProcess hub = new FaultKit.HubProcess(h.dir(), h.secret(), "127.0.0.1", hubPort,
                                                                   Map.of("echo", "127.0.0.1:" + listen), Map.of(),
                                                                   List.of())) {
                hub.start(Duration.ofSeconds(30));
                Agent agent = h.startAgent(h.agentVars(hubPort, Map.of("echo", target.port())));
                Harness.awaitReady(agent, Duration.ofSeconds(15));
                roundTrip(listen);
                Harness.await(Duration.ofSeconds(5), target.open::isEmpty, "warm-up stream closed");
                FaultKit.sleep(300);
                int fd0 = fdCount();
                int threads0 = platformThreads();
                // streams, dials and closes run on virtual threads: count the project's threads of both kinds
                long nc0 = namedThreads("nc-");

                long worstReady = 0;
                for (int cycle = 1; cycle <= CYCLES; cycle++) {
                    List<Socket> clients = new ArrayList<>();
                    CountDownLatch clientsEnded = new CountDownLatch(STREAMS);
                    for (int i = 0; i < STREAMS; i++) {
                        Socket c = Harness.client(listen);
                        clients.add(c);
                        byte[] hello = ("stream " + i).getBytes();
                        c.getOutputStream().write(hello);
                        assertArrayEquals(hello, c.getInputStream().readNBytes(hello.length));
                    }
                    int before = target.ended.get();
                    Harness.await(Duration.ofSeconds(5), () -> target.open.size() == STREAMS, "20 target connections");
                    for (Socket c : clients) {
                        Thread.ofVirtual().start(() -> pump(c, clientsEnded));
                    }
                    FaultKit.sleep(300); // mid-stream: bytes flow both ways on every stream

                    long killed = System.nanoTime();
                    hub.kill();
                    Harness.await(Duration.ofSeconds(5), () -> !agent.status().snapshot().ready(), "agent notices");
                    long noticed = System.nanoTime();
                    String health = Harness.health(agent.healthPort());
                    assertTrue(health.startsWith("OK"), "health port after the kill: " + health);
                    Harness.await(Duration.ofSeconds(5), () -> target.ended.get() - before >= STREAMS,
                                  "every target socket of the dead tunnel sees EOF or reset (ended "
                                          + (target.ended.get() - before) + ")");
                    long targetsClosed = System.nanoTime();
                    assertTrue(clientsEnded.await(5, TimeUnit.SECONDS), "every client socket sees EOF or reset");
                    long clientsClosed = System.nanoTime();

                    long back = hub.start(Duration.ofSeconds(30));
                    Harness.awaitReady(agent, Duration.ofSeconds(10));
                    long readyMs = ms(System.nanoTime() - back);
                    worstReady = Math.max(worstReady, readyMs);
                    roundTrip(listen);
                    for (Socket c : clients) {
                        c.close();
                    }
                    report("hub SIGKILL cycle " + cycle, "agent noticed in " + ms(noticed - killed) + " ms; "
                            + STREAMS + " target sockets closed in " + ms(targetsClosed - killed) + " ms; clients closed in "
                            + ms(clientsClosed - killed) + " ms; READY " + readyMs + " ms after the hub accepted again");
                    assertTrue(readyMs < 2000, "READY within 2 s of the hub's return, was " + readyMs + " ms");
                }
                Harness.await(Duration.ofSeconds(5), target.open::isEmpty, "all target sockets closed");
                long settle = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                int fd1 = fdCount();
                int threads1 = platformThreads();
                long nc1 = namedThreads("nc-");
                while ((fd1 > fd0 + 10 || threads1 > threads0 + 5 || nc1 > nc0) && System.nanoTime() < settle) {
                    FaultKit.sleep(100);
                    fd1 = fdCount();
                    threads1 = platformThreads();
                    nc1 = namedThreads("nc-");
                }
                report("hub SIGKILL leaks", "after " + CYCLES + " kill/restart cycles: fds " + fd0 + " -> " + fd1
                        + ", platform threads " + threads0 + " -> " + threads1 + ", nc-* threads (virtual included) " + nc0
                        + " -> " + nc1 + ", worst READY after return "
                        + worstReady + " ms, reconnects " + agent.status().endings());
                assertTrue(fd1 <= fd0 + 10, "fd leak: " + fd0 + " -> " + fd1);
                assertTrue(threads1 <= threads0 + 5, "platform thread leak: " + threads0 + " -> " + threads1);
                assertTrue(nc1 <= nc0, "nc-* thread leak (virtual included): " + nc0 + " -> " + nc1 + " "
                        + ThreadCensus.kinds("nc-"));
            }
        }
    }

    /** Echo traffic until the socket ends. */
    private static void pump(Socket c, CountDownLatch ended) {
        byte[] chunk = new byte[1024];
        Arrays.fill(chunk, (byte) 'x');
        try {
            OutputStream out = c.getOutputStream();
            InputStream in = c.getInputStream();
            while (true) {
                out.write(chunk);
                if (in.readNBytes(chunk.length).length < chunk.length) {
                    break;
                }
            }
        } catch (IOException expected) {
            // the tunnel died
        } finally {
            ended.countDown();
        }
    }

    static void roundTrip(int port) throws IOException {
        try (Socket s = Harness.client(port)) {
            byte[] data = "round trip".getBytes();
            Harness.sendAndFinish(s, data);
            assertArrayEquals(data, Harness.readAll(s));
        }
    }

    static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }
}
