package io.nowconnect.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hub stopped gracefully (SIGTERM's path, {@link Hub#stop}) while clients connect to its listener back to back, as
 * a balancer's clients do: every client connection that the kernel had taken when the stop began (in the listen
 * backlog, or accepted and still being set up) is carried to its end. Closing a listening socket resets what its
 * backlog holds: to a balancer those connections looked established, so it cannot retry them elsewhere, and their
 * clients see their connections closed. A connection that arrives after the stop began is refused at connect (which a
 * balancer retries), or, when its handshake completes in the instant between the listener's last accept and its
 * close, reset: those are counted apart and printed, not asserted (the kernel cannot be told to stop completing
 * handshakes without closing the socket).
 *
 * <p>And the lame-duck period ({@code NC_HUB_LAMEDUCK_MS}): {@code /readyz} answers 503 at once while the listeners go
 * on accepting, so a balancer's health check takes the replica out before its ports close.
 */
@Timeout(120)
@ExtendWith(TestKit.class)
class HubStopTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final int THREADS = 8;
    private static final int ROUNDS = 10;

    @Test
    void noClientTheListenerTookIsDroppedByAStop(Harness h) throws Exception {
        EchoServer echo = h.echo();
        // a stop is tried several times: each catches the clients in flight at one moment
        int dropped = 0;
        int raced = 0;
        long carried = 0;
        long refused = 0;
        List<String> details = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++) {
            Hub hub = h.startHub("echo");
            Agent agent = h.agent(hub.port()).target("echo", echo.port()).start();
            Harness.awaitReady(agent, WAIT);
            try (Load load = new Load(hub.listenerPorts().get("echo"))) {
                load.awaitCarried(300);
                load.stopAt = System.nanoTime();
                hub.stop(WAIT);
                load.awaitRefused(THREADS);
                load.close();
                dropped += load.dropped.get();
                raced += load.raced.get();
                carried += load.carried.get();
                refused += load.refused.get();
                details.addAll(load.details);
            }
            h.stopAgent(agent, Duration.ZERO);
        }
        System.out.printf("[hub-stop] %d stops under %d connecting threads: %d connections carried, %d refused at connect,"
                          + " %d connected before a stop began and dropped, %d connected after it began and reset%n",
                          ROUNDS, THREADS, carried, refused, dropped, raced);
        assertEquals(0, dropped, "client connections the kernel had taken when the stop began, then dropped: "
                + details);
    }

    @Test
    void lameDuckAnswersNotReadyWhileTheListenersStillCarry(Harness h) throws Exception {
        EchoServer echo = h.echo();
        Hub hub = h.hub().connectors("echo").env(Map.of("NC_HUB_LAMEDUCK_MS", "1500")).start();
        Agent agent = h.agent(hub.port()).target("echo", echo.port()).start();
        Harness.awaitReady(agent, WAIT);
        int listener = hub.listenerPorts().get("echo");
        assertTrue(hub.ready());
        long start = System.nanoTime();
        Thread stopper = Thread.ofVirtual().start(() -> hub.stop(WAIT));
        Harness.await(WAIT, () -> !hub.ready(), "not ready once the stop began");
        assertEquals(503, readyz(hub.port()), "/readyz while the hub stops");
        // still carried while the balancer's checks notice
        for (int i = 0; i < 5; i++) {
            assertEquals("ok", echoOnce(listener, "ok"));
        }
        assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) < 1500, "the checks above ran in the lame duck");
        assertTrue(stopper.join(Duration.ofSeconds(20)), "stopped after its lame-duck period");
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(took >= 1500, "the listeners stayed open for the lame-duck period: " + took + " ms");
        assertFalse(accepts(listener), "listener closed after the lame-duck period");
        h.stopAgent(agent, Duration.ZERO);
    }

    private static String echoOnce(int port, String text) throws IOException {
        try (Socket s = Harness.client(port)) {
            s.setSoTimeout((int) WAIT.toMillis());
            s.getOutputStream().write(text.getBytes());
            return new String(s.getInputStream().readNBytes(text.length()));
        }
    }

    private static int readyz(int port) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz")).build(),
                             HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Short client connections, back to back: connect, echo 32 bytes, close; sorted into carried, refused at connect,
     * and failed after connecting, before or after {@link #stopAt}.
     */
    private static final class Load implements AutoCloseable {
        final AtomicLong carried = new AtomicLong();
        final AtomicLong refused = new AtomicLong();
        final AtomicInteger dropped = new AtomicInteger();
        final AtomicInteger raced = new AtomicInteger();
        /** {@link System#nanoTime} when the stop began; 0 before. */
        volatile long stopAt;
        final ConcurrentLinkedQueue<String> details = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final List<Thread> threads = new ArrayList<>();
        private final int port;

        Load(int port) {
            this.port = port;
            for (int i = 0; i < THREADS; i++) {
                threads.add(Thread.ofVirtual().name("stop-load-" + i).start(this::loop));
            }
        }

        private void loop() {
            byte[] payload = new byte[32];
            long n = 0;
            while (running.get()) {
                Arrays.fill(payload, (byte) ('a' + (n++ % 26)));
                try (Socket s = new Socket()) {
                    try {
                        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                    } catch (ConnectException e) {
                        refused.incrementAndGet();
                        Thread.sleep(20);
                        continue;
                    }
                    // on loopback the server's kernel has queued the connection when connect returns
                    long connected = System.nanoTime();
                    s.setSoTimeout((int) WAIT.toMillis());
                    OutputStream out = s.getOutputStream();
                    InputStream in = s.getInputStream();
                    try {
                        out.write(payload);
                        byte[] back = in.readNBytes(payload.length);
                        if (Arrays.equals(payload, back)) {
                            carried.incrementAndGet();
                        } else {
                            throw new IOException("echo returned " + back.length + " of " + payload.length + " bytes");
                        }
                    } catch (IOException e) {
                        long stop = stopAt;
                        if (stop != 0 && connected - stop > 0) {
                            raced.incrementAndGet();
                        } else {
                            dropped.incrementAndGet();
                            if (details.size() < 10) {
                                details.add(e.toString());
                            }
                        }
                    }
                } catch (IOException e) {
                    dropped.incrementAndGet();
                    if (details.size() < 10) {
                        details.add("connect: " + e);
                    }
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        void awaitCarried(long n) {
            Harness.await(WAIT, () -> carried.get() >= n, n + " carried connections");
        }

        void awaitRefused(long n) {
            Harness.await(WAIT, () -> refused.get() >= n, n + " refused connections after the stop");
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            for (Thread t : threads) {
                t.join(15_000);
            }
        }
    }
}
