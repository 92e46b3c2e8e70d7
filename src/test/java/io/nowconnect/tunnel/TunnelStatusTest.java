package io.nowconnect.tunnel;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;

import io.nowconnect.health.TcpHealthServer;
import io.nowconnect.tunnel.TunnelStatus.State;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent's state tracker: transitions, readiness through a rotation, counters, and what the health port reads. */
@Timeout(60)
class TunnelStatusTest {
    private static final String HUB = "wss://hub.example.com/tunnel";

    @Test
    void aTunnelGoesFromStartingThroughConnectingToReadyAndBackToDisconnected() {
        TunnelStatus status = TunnelStatus.create(HUB);
        TunnelStatus.Snapshot s = status.snapshot();
        assertEquals(State.STARTING, s.state());
        assertEquals(HUB, s.hub());
        assertFalse(s.ready());
        assertEquals(Optional.empty(), s.lastError());
        assertEquals(Optional.empty(), s.readySince());

        status.connecting();
        assertEquals(State.CONNECTING, status.snapshot().state());
        assertFalse(status.snapshot().ready());

        Instant before = Instant.now();
        status.tunnelReady();
        s = status.snapshot();
        assertEquals(State.READY, s.state());
        assertTrue(s.ready());
        assertEquals(1, s.readyTunnels());
        assertFalse(s.since().isBefore(before), "ready since the ack");
        assertEquals(Optional.of(s.since()), s.readySince());
        assertEquals(1, status.connects());

        status.tunnelEnded(true, "io_error: connection reset");
        s = status.snapshot();
        assertEquals(State.DISCONNECTED, s.state());
        assertFalse(s.ready());
        assertEquals(Optional.of("io_error: connection reset"), s.lastError());
        assertEquals(Optional.empty(), s.readySince());

        status.connecting();
        assertEquals(State.CONNECTING, status.snapshot().state());
        assertEquals(Optional.of("io_error: connection reset"), status.snapshot().lastError(), "the last error stays");
    }

    @Test
    void aFailedAttemptCountsNoReadyTunnelAway() {
        TunnelStatus status = TunnelStatus.create(HUB);
        status.connecting();
        status.tunnelEnded(false, "auth_failed: 401");
        status.tunnelEnded(false, "auth_failed: 401");
        TunnelStatus.Snapshot s = status.snapshot();
        assertEquals(State.DISCONNECTED, s.state());
        assertEquals(0, s.readyTunnels(), "never below zero");
        assertEquals(0, status.connects());
        status.tunnelReady();
        assertEquals(1, status.snapshot().readyTunnels());
    }

    @Test
    void aRotationKeepsTheAgentReadyThroughout() {
        TunnelStatus status = TunnelStatus.create(HUB);
        status.connecting();
        status.tunnelReady();
        TunnelStatus.Snapshot first = status.snapshot();

        status.connecting();
        assertSame(first, status.snapshot(), "a second tunnel connecting changes nothing while one is ready");
        status.tunnelReady();
        TunnelStatus.Snapshot both = status.snapshot();
        assertEquals(State.READY, both.state());
        assertEquals(2, both.readyTunnels());
        assertEquals(first.since(), both.since(), "still the same ready period");
        assertEquals(first.readySince(), both.readySince());

        status.tunnelEnded(true, "rotation: drained");
        TunnelStatus.Snapshot after = status.snapshot();
        assertEquals(State.READY, after.state());
        assertEquals(1, after.readyTunnels());
        assertEquals(first.readySince(), after.readySince(), "ready without a gap since the first tunnel");
        assertEquals(2, status.connects());
    }

    @Test
    void stoppingStaysStoppingWhateverTheTunnelsDo() {
        TunnelStatus status = TunnelStatus.create(HUB);
        status.tunnelReady();
        status.stopping();
        assertEquals(State.STOPPING, status.snapshot().state());
        assertTrue(status.snapshot().ready(), "still serving while it drains");
        status.connecting();
        status.tunnelReady();
        status.tunnelEnded(true, "drained: done");
        status.tunnelEnded(true, "drained: done");
        TunnelStatus.Snapshot s = status.snapshot();
        assertEquals(State.STOPPING, s.state());
        assertFalse(s.ready());
        assertEquals(Optional.of("drained: done"), s.lastError());
    }

    @Test
    void recentErrorsKeepTheLastTenOldestFirst() {
        TunnelStatus status = TunnelStatus.create("wss://hub.example/tunnel");
        assertEquals(List.of(), status.recentErrors());
        for (int i = 0; i < 25; i++) {
            status.connecting();
            status.tunnelEnded(false, i % 5 == 4 ? null : "connect_failed: attempt " + i);
        }
        List<String> errors = status.recentErrors().stream().map(TunnelStatus.Failure::error).toList();
        assertEquals(TunnelStatus.RECENT_ERRORS, errors.size());
        assertEquals("connect_failed: attempt 12", errors.getFirst());
        assertEquals("connect_failed: attempt 23", errors.getLast());
    }

    @Test
    void endingsAreCountedByReasonAndToldToListeners() {
        TunnelStatus status = TunnelStatus.create(HUB);
        List<String> told = new CopyOnWriteArrayList<>();
        status.addEndingListener(told::add);
        status.countEnding("auth_failed");
        status.countEnding("io_error");
        status.countEnding("auth_failed");
        assertEquals(Map.of("auth_failed", 2L, "io_error", 1L), status.endings());
        assertEquals(List.of("auth_failed", "io_error", "auth_failed"), told);
        assertEquals(-1, status.pingRttNanos(), "no pong yet");
        status.pingRtt(1_500_000);
        assertEquals(1_500_000, status.pingRttNanos());
    }

    @Test
    void concurrentTunnelsKeepTheCountExact() throws Exception {
        TunnelStatus status = TunnelStatus.create(HUB);
        int threads = 8;
        int rounds = 2_000;
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int r = 0; r < rounds; r++) {
                    status.connecting();
                    status.tunnelReady();
                    status.tunnelEnded(true, "closed: by hub");
                }
            }));
        }
        go.countDown();
        for (Thread t : workers) {
            assertTrue(t.join(Duration.ofSeconds(30)));
        }
        assertEquals(0, status.snapshot().readyTunnels(), "every ready was matched by its end");
        assertEquals(State.DISCONNECTED, status.snapshot().state());
        assertEquals((long) threads * rounds, status.connects());
    }

    @Test
    void theHealthPortAnswersFromTheSnapshot() throws Exception {
        TunnelStatus status = TunnelStatus.create(HUB);
        // wired as the agent wires it
        try (TcpHealthServer health = TcpHealthServer.start("127.0.0.1", 0, () -> status.snapshot().ready())) {
            String starting = health(health.port());
            status.connecting();
            status.tunnelReady();
            String ready = health(health.port());
            status.tunnelEnded(true, "ping_timeout: no pong");
            String lost = health(health.port());
            assertEquals(List.of("OK\n", "READY\n", "OK\n"), List.of(starting, ready, lost));
        }
    }

    private static String health(int port) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(5000);
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        }
    }
}
