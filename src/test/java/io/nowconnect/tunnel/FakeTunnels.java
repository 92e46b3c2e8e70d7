package io.nowconnect.tunnel;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.mux.End;

/**
 * A {@link Tunnel.Factory} of {@link Fake} tunnels that do what the test says: become ready, end with a given reason.
 * Like a real tunnel, a fake reads the token file when it is opened and feeds the {@link TunnelStatus} when ready.
 */
final class FakeTunnels implements Tunnel.Factory {
    private static final Duration REAL_LIMIT = Duration.ofSeconds(20);

    private final TokenSource tokens;
    private final TunnelStatus status;
    private final FakeClock clock;
    private final BlockingQueue<Fake> opened = new LinkedBlockingQueue<>();
    private final List<Fake> all = new CopyOnWriteArrayList<>();
    /** What {@link #reloadTls} throws, null to accept the files. */
    volatile RuntimeException tlsProblem;
    volatile int tlsReloads;

    FakeTunnels(TokenSource tokens, TunnelStatus status, FakeClock clock) {
        this.tokens = tokens;
        this.status = status;
        this.clock = clock;
    }

    @Override
    public Tunnel open(TunnelConnection.Settings settings, Consumer<Tunnel> onReady) {
        String fingerprint;
        try {
            fingerprint = tokens.read().map(TokenSource::fingerprint).orElse(null);
        } catch (TokenSource.TokenException e) {
            fingerprint = null;
        }
        Fake f = new Fake(settings, fingerprint, onReady);
        all.add(f);
        opened.add(f);
        return f;
    }

    @Override
    public void reloadTls(AgentConfig config) {
        if (tlsProblem != null) {
            throw tlsProblem;
        }
        tlsReloads++;
    }

    /**
     * The next tunnel the supervisor opens, waiting for it (real time, bounded).
     *
     * @return the tunnel
     * @throws InterruptedException when interrupted
     */
    Fake next() throws InterruptedException {
        Fake f = opened.poll(REAL_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
        if (f == null) {
            throw new AssertionError("no tunnel opened within " + REAL_LIMIT + " (opened so far: " + all.size() + ")");
        }
        return f;
    }

    /**
     * Tunnels opened so far.
     *
     * @return count
     */
    int count() {
        return all.size();
    }

    /**
     * Every tunnel opened so far.
     *
     * @return tunnels
     */
    List<Fake> all() {
        return List.copyOf(all);
    }

    /**
     * How a fake was drained.
     *
     * @param timeout drain timeout
     * @param refuse whether new OPENs are refused
     * @param reason end reason once drained
     */
    record Drain(Duration timeout, boolean refuse, EndReason reason) {
    }

    /** One fake tunnel: ready and ended on cue; drain and kill are recorded (kill also ends it, as the real one does). */
    final class Fake implements Tunnel {
        final TunnelConnection.Settings settings;
        private final Consumer<Tunnel> onReady;
        private final CompletableFuture<TunnelEnd> end = new CompletableFuture<>();
        private final CountDownLatch started = new CountDownLatch(1);
        private volatile Thread runner;
        private volatile boolean ready;
        private volatile long readyAtNanos;
        volatile String fingerprint;
        volatile Optional<TokenSource.Lifetime> lifetime = Optional.empty();
        volatile int streams;
        volatile Drain drained;
        volatile EndReason killed;

        private Fake(TunnelConnection.Settings settings, String fingerprint, Consumer<Tunnel> onReady) {
            this.settings = settings;
            this.fingerprint = fingerprint;
            this.onReady = onReady;
        }

        @Override
        public TunnelEnd run() {
            runner = Thread.currentThread();
            started.countDown();
            return end.join();
        }

        /** The hub acknowledged HELLO. */
        void ready() {
            readyAtNanos = clock.nanoTime();
            ready = true;
            status.tunnelReady();
            onReady.accept(this);
        }

        /**
         * End on its own (hub closed, failure), and wait until the supervisor has been told.
         *
         * @param reason why
         * @param detail detail
         * @throws InterruptedException when interrupted
         */
        void end(End.Reason reason, String detail) throws InterruptedException {
            synchronized (this) {
                end.complete(new TunnelEnd(reason, detail, readyFor()));
            }
            awaitEnded();
        }

        /**
         * Wait until {@link #run()} returned and the supervisor was told (its thread posts the end, then finishes).
         *
         * @throws InterruptedException when interrupted
         */
        void awaitEnded() throws InterruptedException {
            if (!started.await(REAL_LIMIT.toMillis(), TimeUnit.MILLISECONDS)
                    || !runner.join(REAL_LIMIT) || !end.isDone()) {
                throw new AssertionError("the tunnel did not end within " + REAL_LIMIT);
            }
        }

        boolean ended() {
            return end.isDone();
        }

        private Duration readyFor() {
            return ready ? Duration.ofNanos(clock.nanoTime() - readyAtNanos) : Duration.ZERO;
        }

        @Override
        public boolean isReady() {
            return ready;
        }

        @Override
        public int activeStreams() {
            return streams;
        }

        @Override
        public String tokenFingerprint() {
            return fingerprint;
        }

        @Override
        public Optional<TokenSource.Lifetime> tokenLifetime() {
            return lifetime;
        }

        @Override
        public void drain(Duration timeout, boolean refuse, EndReason reason) {
            drained = new Drain(timeout, refuse, reason);
        }

        @Override
        public synchronized void kill(EndReason reason, String detail) {
            if (!end.isDone()) {
                // before the end is seen: whoever sees it ended also sees why
                killed = reason;
                end.complete(new TunnelEnd(reason, detail, readyFor()));
            }
        }
    }
}
