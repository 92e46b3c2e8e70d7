package io.nowconnect.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
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

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ThreadCensus;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.testkit.Harness.await;
import static io.nowconnect.testkit.Harness.awaitReady;
import static io.nowconnect.testkit.Harness.client;
import static io.nowconnect.testkit.Harness.health;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The project's hub, agent and real targets on loopback: the flows of the agent issue end to end. */
@ExtendWith(TestKit.class)
@Timeout(300)
class AgentHubEndToEndTest {
    @Test
    void twoHundredConcurrentStreamsMoveOneMebibyteEachWayIntact(Harness harness) throws Exception {
        int streams = 200;
        int size = 1 << 20;
        try (BulkTarget target = new BulkTarget(size)) {
            Hub hub = harness.startHub("bulk");
            Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("bulk", target.port())));
            awaitReady(agent, Duration.ofSeconds(10));
            int port = hub.listenerPorts().get("bulk");

            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            long start = System.nanoTime();
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                long seed = i * 2L;
                results.add(pool.submit(() -> {
                    try (Socket s = client(port)) {
                        Future<byte[]> reply = pool.submit(() -> Harness.readAll(s));
                        OutputStream out = s.getOutputStream();
                        out.write(java.nio.ByteBuffer.allocate(8).putLong(seed).array());
                        Harness.sendAndFinish(s, BulkTarget.bytes(seed, size));
                        return Arrays.equals(BulkTarget.bytes(seed + 1, size), reply.get(60, TimeUnit.SECONDS));
                    }
                }));
            }
            int intact = 0;
            for (Future<Boolean> f : results) {
                intact += f.get(90, TimeUnit.SECONDS) ? 1 : 0;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            pool.shutdown();
            System.out.printf("e2e: %d streams x 1 MiB each way in %.2f s (%.1f MiB/s each way)%n",
                              streams, seconds, streams / seconds);
            assertEquals(streams, intact, "streams whose target-to-client bytes arrived intact");
            await(Duration.ofSeconds(10), () -> target.intact() == streams, "client-to-target bytes intact");
            assertEquals(0, target.corrupt());
            await(Duration.ofSeconds(10), () -> hub.tunnelStreamCounts("bulk").equals(List.of(0)), "all streams closed");
        }
    }

    @Test
    void twoHundredConcurrentEchoStreamsComeBackIntact(Harness harness) throws Exception {
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub("echo");
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("echo", echo.port())));
        awaitReady(agent, Duration.ofSeconds(10));
        int port = hub.listenerPorts().get("echo");
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        List<Future<Boolean>> results = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            long seed = i;
            results.add(pool.submit(() -> {
                byte[] data = BulkTarget.bytes(seed, 64 * 1024);
                try (Socket s = client(port)) {
                    Future<byte[]> reply = pool.submit(() -> Harness.readAll(s));
                    Harness.sendAndFinish(s, data);
                    return Arrays.equals(data, reply.get(60, TimeUnit.SECONDS));
                }
            }));
        }
        int intact = 0;
        for (Future<Boolean> f : results) {
            intact += f.get(90, TimeUnit.SECONDS) ? 1 : 0;
        }
        pool.shutdown();
        assertEquals(200, intact, "echoed streams intact");
    }

    @Test
    void halfCloseFromTheClientStillDeliversTheTargetsReply(Harness harness) throws Exception {
        // target reads until EOF, then answers and closes: needs the client's FIN (c2a) to reach it as a half-close
        try (ServerSocket target = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                try (Socket s = target.accept()) {
                    byte[] all = s.getInputStream().readAllBytes();
                    s.getOutputStream().write(("got " + all.length).getBytes());
                } catch (IOException ignored) {
                    // test fails on the client side
                }
            });
            Hub hub = harness.startHub("svc");
            Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("svc", target.getLocalPort())));
            awaitReady(agent, Duration.ofSeconds(10));
            try (Socket c = client(hub.listenerPorts().get("svc"))) {
                Harness.sendAndFinish(c, new byte[100_000]);
                assertEquals("got 100000", new String(Harness.readAll(c)));
            }
        }
    }

    @Test
    void halfCloseFromTheTargetKeepsTheClientsDirectionOpen(Harness harness) throws Exception {
        // target greets and half-closes at once, then keeps reading: the client must still be able to send
        try (ServerSocket target = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            byte[][] received = new byte[1][];
            Thread reader = Thread.ofVirtual().start(() -> {
                try (Socket s = target.accept()) {
                    s.getOutputStream().write("hello".getBytes());
                    s.shutdownOutput();
                    received[0] = s.getInputStream().readAllBytes();
                } catch (IOException ignored) {
                    // asserted below
                }
            });
            Hub hub = harness.startHub("svc");
            Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("svc", target.getLocalPort())));
            awaitReady(agent, Duration.ofSeconds(10));
            try (Socket c = client(hub.listenerPorts().get("svc"))) {
                InputStream in = c.getInputStream();
                assertArrayEquals("hello".getBytes(), in.readNBytes(5));
                assertEquals(-1, in.read(), "client sees the target's EOF");
                OutputStream out = c.getOutputStream();
                out.write("after the target's FIN".getBytes());
                c.shutdownOutput();
                reader.join(10_000);
            }
            assertEquals("after the target's FIN", new String(received[0]));
        }
    }

    @Test
    void unreachableTargetClosesTheClient(Harness harness) throws Exception {
        int closedPort = Harness.freePort();
        Hub hub = harness.startHub("down");
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("down", closedPort)));
        awaitReady(agent, Duration.ofSeconds(10));
        Socket c;
        try {
            c = client(hub.listenerPorts().get("down"));
        } catch (java.net.SocketException resetWhileConnecting) {
            // the whole round (OPEN, the refused dial, RST, the reset client) can beat the client's own connect call on
            // a loaded machine: that is the reset this test expects
            c = null;
        }
        if (c != null) {
            try (Socket open = c) {
                // connect_failed is a reset: the client sees a reset, not an end of stream it could take for an empty
                // answer
                org.junit.jupiter.api.Assertions.assertThrows(java.net.SocketException.class,
                                                              () -> open.getInputStream().read(),
                                                              "client reset after connect_failed");
            }
        }
        await(Duration.ofSeconds(5), () -> hub.tunnelStreamCounts("down").equals(List.of(0)), "stream gone on the hub");
    }

    @Test
    void hubRestartIsNoticedAndTheAgentIsReadyAgainWithinTwoSeconds(Harness harness) throws Exception {
        EchoServer echo = harness.echo();
        int hubPort = Harness.freePort();
        Hub hub = harness.startHub(hubPort, Map.of(), "echo");
        Agent agent = harness.startAgent(harness.agentVars(hubPort, Map.of("echo", echo.port())));
        int healthPort = agent.healthPort();
        awaitReady(agent, Duration.ofSeconds(10));
        assertEquals("READY\n", health(healthPort));

        Socket open = client(hub.listenerPorts().get("echo"));
        open.getOutputStream().write(1);
        assertEquals(1, open.getInputStream().read());

        hub.close();
        await(Duration.ofSeconds(2), () -> !agent.status().snapshot().ready(), "agent notices the hub is gone");
        assertEquals("OK\n", health(healthPort));
        assertEquals(-1, readOrEof(open), "stream of the dead tunnel closed on the client side");
        open.close();

        Thread.sleep(1500);
        long back = System.nanoTime();
        Hub again = harness.startHub(hubPort, Map.of(), "echo");
        await(Duration.ofSeconds(5), () -> agent.status().snapshot().ready(), "agent ready again");
        long ms = (System.nanoTime() - back) / 1_000_000;
        System.out.println("e2e: hub restart to agent READY in " + ms + " ms");
        assertTrue(ms <= 2000, "READY within 2 s of the hub's return, took " + ms + " ms");
        assertEquals("READY\n", health(healthPort));
        try (Socket c = client(again.listenerPorts().get("echo"))) {
            Harness.sendAndFinish(c, "x".getBytes());
            assertEquals("x", new String(Harness.readAll(c)));
        }
    }

    @Test
    void aThousandStreamsLeaveNoThreadOrSocketBehind(Harness harness) throws Exception {
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub("echo");
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("echo", echo.port())));
        awaitReady(agent, Duration.ofSeconds(10));
        int port = hub.listenerPorts().get("echo");
        // warm up, then take the baseline
        roundTrips(port, 50, 10);
        await(Duration.ofSeconds(5), () -> hub.tunnelStreamCounts("echo").equals(List.of(0)), "warm-up streams closed");
        int threadsBefore = Thread.activeCount();
        long ncBefore = ThreadCensus.named("nc-");
        long fdsBefore = openFileDescriptors();
        // positive control: the census sees a stream's virtual threads (its pumps), so the leak check below can fail
        try (Socket held = client(port)) {
            held.getOutputStream().write("held".getBytes());
            assertEquals("held", new String(held.getInputStream().readNBytes(4)));
            // (its socket readers: a writer runs only while something waits to be written)
            assertTrue(ThreadCensus.threads().stream().anyMatch(t -> t.virtual() && t.name().startsWith("nc-r-")),
                       "an open stream's pump threads in the thread dump: " + ThreadCensus.kinds("nc-"));
        }
        await(Duration.ofSeconds(5), () -> hub.tunnelStreamCounts("echo").equals(List.of(0)), "held stream closed");

        long start = System.nanoTime();
        roundTrips(port, 1000, 50);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("e2e: 1000 streams opened, echoed and closed in %.2f s (%.0f streams/s)%n",
                          seconds, 1000 / seconds);

        await(Duration.ofSeconds(10), () -> hub.tunnelStreamCounts("echo").equals(List.of(0)), "all streams closed");
        await(Duration.ofSeconds(10), () -> Thread.activeCount() <= threadsBefore + 2, "platform threads back to baseline");
        // streams run on virtual threads: none of the project's threads (nc-*, platform or virtual) may stay behind
        await(Duration.ofSeconds(10), () -> ThreadCensus.named("nc-") <= ncBefore,
              "nc-* threads (virtual included) back to baseline " + ncBefore);
        if (fdsBefore >= 0) {
            await(Duration.ofSeconds(10), () -> openFileDescriptors() <= fdsBefore + 5,
                  "file descriptors back to baseline (" + fdsBefore + ")");
        }
    }

    private static void roundTrips(int port, int count, int parallel) throws Exception {
        try (ExecutorService pool = Executors.newFixedThreadPool(parallel, Thread.ofVirtual().factory())) {
            List<Future<?>> all = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                all.add(pool.submit(() -> {
                    try (Socket c = client(port)) {
                        Harness.sendAndFinish(c, "ping".getBytes());
                        assertEquals("ping", new String(Harness.readAll(c)));
                    }
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get(60, TimeUnit.SECONDS);
            }
        }
    }

    private static int readOrEof(Socket s) {
        try {
            s.setSoTimeout(5000);
            return s.getInputStream().read();
        } catch (IOException e) {
            return -1;
        }
    }

    static long openFileDescriptors() {
        String[] fds = new java.io.File("/proc/self/fd").list();
        return fds == null ? -1 : fds.length;
    }
}
