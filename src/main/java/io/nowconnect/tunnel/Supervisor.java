package io.nowconnect.tunnel;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.random.RandomGenerator;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.log.Event;
import io.nowconnect.watch.FileWatch;

/**
 * Keeps the agent connected, and the only place that decides to connect, wait, move to a new tunnel or stop.
 *
 * <p>One tunnel is <em>active</em>. When it ends, the next one is started after a back-off. A graceful reconnect
 * ({@link ReconnectCause}: the token file changed, the token is about to expire, the configuration or the TLS files
 * changed) is make-before-break: a <em>candidate</em> tunnel is opened with the new token or settings while the active
 * one keeps serving; once the hub acknowledges the candidate it becomes active and the old tunnel <em>drains</em>: it
 * sends DRAIN where the hub supports it, keeps serving its open streams (and OPENs that still arrive) until they end or
 * the drain timeout passes, then closes normally. A candidate that fails (a refused token, a half-written file) changes
 * nothing; it is retried with its own back-off, and the failure is logged once.
 *
 * <p>Threads: every decision is taken on the supervisor thread, which owns all the mutable fields; tunnels, the file
 * watches and callers of the public methods only post a signal to its queue. Each tunnel runs on its own
 * virtual thread. Tunnels come from a {@link Tunnel.Factory}, and time is read from (and every wait taken on) a
 * {@link TimeSource}, so tests drive the supervisor with fakes of both.
 */
public final class Supervisor {
    private static final Logger LOGGER = Logger.getLogger(Supervisor.class.getName());
    /** A tunnel ready this long resets the back-off. */
    private static final Duration HEALTHY_AFTER = Duration.ofSeconds(5);
    /** Largest back-off after reaching a replica the pool already holds (the balancer is up; NC_RECONNECT_MAX_MS caps it). */
    static final Duration REPLICA_RETRY_MAX = Duration.ofSeconds(5);
    private static final Duration WATCH_DEBOUNCE = Duration.ofMillis(200);
    private static final Duration WATCH_POLL = Duration.ofSeconds(10);
    /** Longest wait for a signal when nothing is due sooner. */
    private static final long IDLE_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** The token check before {@code exp} comes at least this long after a tunnel is ready. */
    private static final long MIN_REFRESH_DELAY_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** A refresh further away than this (about 73 years) is not scheduled; keeps the arithmetic from overflowing. */
    private static final long MAX_REFRESH_DELAY_NANOS = Long.MAX_VALUE / 4;

    private sealed interface Signal {
    }

    private record Ended(Tunnel tunnel, TunnelEnd end) implements Signal {
    }

    private record Ready(Tunnel tunnel) implements Signal {
    }

    private record Rotate(ReconnectCause cause) implements Signal {
    }

    private record Reconfigure(AgentConfig config) implements Signal {
    }

    private record Stop(Duration drainTimeout) implements Signal {
    }

    private final TokenSource tokens;
    private final TunnelStatus status;
    private final Tunnel.Factory factory;
    private final TimeSource time;
    private final String version;
    private final Backoff backoff;
    private final Backoff rotationBackoff;
    private final Backoff replicaBackoff;
    private final LinkedBlockingQueue<Signal> signals = new LinkedBlockingQueue<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** Filled by {@link #start()} before the supervisor thread starts, closed by that thread. */
    private final List<FileWatch> watches = new ArrayList<>();

    // supervisor thread only
    private AgentConfig config;
    private TunnelConnection.Settings settings;
    private Tunnel active;
    private Tunnel candidate;
    private final List<Tunnel> draining = new ArrayList<>();
    private long nextConnectNanos;
    private boolean rotationPending;
    private ReconnectCause rotationCause;
    private long nextRotationNanos;
    private long rotationStartNanos;
    private boolean refreshScheduled;
    private long refreshAtNanos;
    private String lastFailure;
    private String lastRotationFailure;
    private boolean stopping;
    private long stopDeadlineNanos;

    /**
     * A supervisor with its parts given (tests give fakes).
     *
     * @param config agent configuration
     * @param version project version, sent in HELLO
     * @param tokens the token file, read to tell whether it holds a new token
     * @param status state tracker to feed
     * @param factory makes the tunnels
     * @param time clock and waits
     * @param random jitter of the back-off
     */
    Supervisor(AgentConfig config, String version, TokenSource tokens, TunnelStatus status, Tunnel.Factory factory,
               TimeSource time, RandomGenerator random) {
        this.config = config;
        this.version = version;
        this.settings = ConnectionFactory.settings(config, version);
        this.tokens = tokens;
        this.status = status;
        this.factory = factory;
        this.time = time;
        this.backoff = Backoff.create(config.reconnectMin(), config.reconnectMax(), HEALTHY_AFTER, random);
        this.rotationBackoff = Backoff.create(config.reconnectMin(), config.reconnectMax(), Duration.ofDays(1), random);
        Duration replicaMax = config.reconnectMax().compareTo(REPLICA_RETRY_MAX) < 0 ? config.reconnectMax() : REPLICA_RETRY_MAX;
        Duration replicaMin = config.reconnectMin().compareTo(replicaMax) < 0 ? config.reconnectMin() : replicaMax;
        this.replicaBackoff = Backoff.create(replicaMin, replicaMax, Duration.ofDays(1), random);
        this.nextConnectNanos = time.nanoTime();
        this.nextRotationNanos = nextConnectNanos;
    }

    /** Start the supervisor thread and the watches on the token file and the TLS files, when there are such files. */
    public void start() {
        tokens.file().ifPresent(file -> watch(List.of(file), p -> ReconnectCause.TOKEN_FILE_CHANGED, "token_watch_failed",
                                              "Cannot watch NC_TOKEN_FILE; a new token is used at the next reconnect"));
        List<Path> tlsFiles = java.util.stream.Stream.of(config.clientCert(), config.clientKey(), config.caBundle())
                .flatMap(Optional::stream).toList();
        if (!tlsFiles.isEmpty()) {
            watch(tlsFiles, ReconnectCause.TlsFileChanged::new, "tls_watch_failed",
                  "Cannot watch the TLS files; changes take effect at restart");
        }
        Thread.ofVirtual().name("nc-supervisor").start(this::run);
    }

    /**
     * Use new connectors, targets or tunnel settings: a new tunnel says HELLO with them, the old one drains.
     *
     * @param newConfig validated configuration (URL, agent id and stream limit must be unchanged)
     */
    public void reconfigure(AgentConfig newConfig) {
        signals.add(new Reconfigure(newConfig));
    }

    /**
     * Stop gracefully: refuse new streams (sending DRAIN where the hub supports it), let open streams finish for up to
     * {@code drainTimeout}, close the tunnels normally and return once they are closed.
     *
     * @param drainTimeout longest wait for open streams
     */
    public void shutdown(Duration drainTimeout) {
        status.stopping();
        signals.add(new Stop(drainTimeout));
        awaitStopped(drainTimeout.plusSeconds(5));
    }

    /**
     * Wait for the supervisor to stop.
     *
     * @param timeout how long (real time)
     * @return whether it stopped
     */
    public boolean awaitStopped(Duration timeout) {
        try {
            return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Whether the supervisor thread still runs (liveness).
     *
     * @return true until it stopped
     */
    public boolean isRunning() {
        return stopped.getCount() > 0;
    }

    private void watch(List<Path> files, Function<Path, ReconnectCause> cause, String failEvent, String failMessage) {
        try {
            watches.add(FileWatch.start(files, p -> signals.add(new Rotate(cause.apply(p))), WATCH_DEBOUNCE, WATCH_POLL));
        } catch (IOException e) {
            Event.of(failEvent).log(LOGGER, Level.WARNING, failMessage, e);
        }
    }

    private void run() {
        try {
            loop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            watches.forEach(FileWatch::close);
            for (Tunnel t : all()) {
                t.kill(EndReason.SHUTDOWN, "agent stopping");
            }
            stopped.countDown();
        }
    }

    private void loop() throws InterruptedException {
        while (true) {
            long now = time.nanoTime();
            if (stopping) {
                if (all().isEmpty()) {
                    return;
                }
                if (now - stopDeadlineNanos > 0) {
                    Event.of("shutdown_timeout").log(LOGGER, Level.WARNING, "Drain timed out: closing the remaining tunnels");
                    return;
                }
            } else {
                startWhatIsDue(now);
            }
            Signal signal = time.poll(signals, waitNanos(now));
            if (signal != null) {
                handle(signal);
            }
        }
    }

    /** Open the next tunnel after its back-off, a candidate for a pending graceful reconnect; check the token before exp. */
    private void startWhatIsDue(long now) {
        if (active == null && candidate == null && now - nextConnectNanos >= 0) {
            active = launch();
        }
        if (refreshScheduled && now - refreshAtNanos >= 0) {
            refreshScheduled = false;
            refreshDue();
        }
        if (mayRotate() && now - nextRotationNanos >= 0) {
            rotationPending = false;
            rotationStartNanos = now;
            Event.of("rotating").with("agent_id", config.agentId()).with("reason", rotationCause.describe())
                    .log(LOGGER, Level.INFO, "Opening a new tunnel (" + rotationCause.describe()
                            + "); the current one serves until it is ready");
            candidate = launch();
        }
    }

    private boolean mayRotate() {
        return rotationPending && candidate == null && active != null && active.isReady();
    }

    /** Until the next due time of what may start now; a tunnel that ends or becomes ready posts a signal anyway. */
    private long waitNanos(long now) {
        if (stopping) {
            // tunnels that end post a signal; otherwise wake just after the deadline
            return Math.max(0, stopDeadlineNanos - now + 1);
        }
        long wait = IDLE_WAIT_NANOS;
        if (active == null && candidate == null) {
            wait = Math.min(wait, nextConnectNanos - now);
        }
        if (mayRotate()) {
            wait = Math.min(wait, nextRotationNanos - now);
        }
        if (refreshScheduled) {
            wait = Math.min(wait, refreshAtNanos - now);
        }
        return Math.max(0, wait);
    }

    private void handle(Signal signal) {
        switch (signal) {
        case Ready r -> onReady(r.tunnel());
        case Ended e -> onEnded(e.tunnel(), e.end());
        case Rotate r -> requestRotation(r.cause());
        case Reconfigure r -> {
            config = r.config();
            settings = ConnectionFactory.settings(r.config(), version);
            requestRotation(ReconnectCause.CONFIG_CHANGED);
        }
        case Stop s -> onStop(s.drainTimeout());
        }
    }

    private Tunnel launch() {
        Tunnel t = factory.open(settings, ready -> signals.add(new Ready(ready)));
        Thread.ofVirtual().name("nc-tunnel").start(() -> signals.add(new Ended(t, t.run())));
        return t;
    }

    private void onReady(Tunnel t) {
        if (t == candidate) {
            Tunnel old = active;
            active = t;
            candidate = null;
            rotationBackoff.reset();
            lastRotationFailure = null;
            long ms = TimeUnit.NANOSECONDS.toMillis(time.nanoTime() - rotationStartNanos);
            if (old != null) {
                old.drain(config.drainTimeout(), false, EndReason.ROTATED);
                draining.add(old);
            }
            Event.of("rotated").with("agent_id", config.agentId()).with("ready_ms", ms)
                    .with("draining_streams", old == null ? 0 : old.activeStreams())
                    .log(LOGGER, Level.INFO, "New tunnel ready in " + ms + " ms; the previous one drains");
        }
        if (t == active) {
            replicaBackoff.reset();
            scheduleRefresh(t);
        }
        if (stopping) {
            t.drain(Duration.ofNanos(Math.max(0, stopDeadlineNanos - time.nanoTime())), true, EndReason.DRAINED);
        }
    }

    private void onEnded(Tunnel t, TunnelEnd end) {
        boolean wasReady = !end.readyFor().isZero() || t.isReady();
        String failure = end.reason().label() + ": " + end.detail();
        status.countEnding(end.reason().label());
        boolean held = end.reason() == EndReason.REPLICA_HELD;
        // an orderly ending (rotation, drain, shutdown, a tunnel to a replica held elsewhere) is no error: last_error
        // keeps the last real failure; the pool logs when a replica stays out of reach
        status.tunnelEnded(wasReady, held || !EndReason.isFailure(end.reason()) ? null : failure);
        boolean wasDraining = draining.remove(t);
        if (wasDraining || stopping) {
            if (t == active) {
                active = null;
            } else if (t == candidate) {
                candidate = null;
            }
            Event.of("disconnected").with("agent_id", config.agentId()).with("reason", end.reason().label())
                    .log(LOGGER, Level.INFO, (wasDraining ? "Previous tunnel closed: " : "Tunnel closed: ") + end.detail());
        } else if (t == candidate) {
            candidate = null;
            rotationPending = true;
            Duration delay = rotationBackoff.next(Duration.ZERO);
            nextRotationNanos = time.nanoTime() + delay.toNanos();
            if (!failure.equals(lastRotationFailure)) {
                lastRotationFailure = failure;
                Event.of("rotation_failed").with("agent_id", config.agentId()).with("reason", end.reason().label())
                        .log(LOGGER, Level.WARNING, "New tunnel failed (" + end.detail() + "); the current tunnel keeps "
                                + "serving, retrying in " + delay.toMillis() + " ms");
            }
        } else if (t == active && held) {
            active = candidate;
            candidate = null;
            if (active == null) {
                Duration delay = replicaBackoff.next(Duration.ZERO);
                nextConnectNanos = time.nanoTime() + delay.toNanos();
                Event.of("replica_held").with("agent_id", config.agentId()).with("delay_ms", delay.toMillis())
                        .log(LOGGER, Level.FINE, "Reached a replica another tunnel holds (closed after " + end.detail()
                                + "); dialling again in " + delay.toMillis() + " ms");
            }
        } else if (t == active) {
            logEnd(t, end);
            // a replacement on its way becomes the active tunnel when (if) it is ready
            active = candidate;
            candidate = null;
            if (active == null) {
                // killed while connecting because a new token or settings arrived: no reason to wait
                Duration delay = end.reason() == EndReason.ROTATED ? Duration.ZERO : backoff.next(end.readyFor());
                nextConnectNanos = time.nanoTime() + delay.toNanos();
                Event.of("reconnect_delay").with("agent_id", config.agentId()).with("delay_ms", delay.toMillis())
                        .log(LOGGER, Level.INFO, "Reconnecting in " + delay.toMillis() + " ms");
            }
        }
    }

    private void requestRotation(ReconnectCause cause) {
        if (stopping || cause instanceof ReconnectCause.TlsFileChanged tls && !reloadTls(tls.file())) {
            return;
        }
        if (active == null || !active.isReady()) {
            // nothing to keep alive: the next connect uses the new token or settings; do not wait out a back-off
            nextConnectNanos = time.nanoTime();
            if (active != null && candidate == null) {
                active.kill(EndReason.ROTATED, cause.describe() + " while connecting");
            }
            return;
        }
        if (cause instanceof ReconnectCause.TokenFileChanged && !newTokenInFile()) {
            return;
        }
        rotationPending = true;
        rotationCause = cause;
        nextRotationNanos = time.nanoTime();
        if (candidate != null) {
            // a candidate with the previous token or settings is on its way: replace it
            Tunnel old = candidate;
            candidate = null;
            old.kill(EndReason.ROTATED, "superseded");
        }
    }

    /** Whether a tunnel opened now would use a token other than the active one's; false (logged) if the file is unusable. */
    private boolean newTokenInFile() {
        try {
            String fp = tokens.read().map(TokenSource::fingerprint).orElse(null);
            // a candidate on its way may hold an older token than the file: replace it even with the active one's token
            return fp == null || !fp.equals(active.tokenFingerprint()) || candidate != null;
        } catch (TokenSource.TokenException e) {
            // half-written, emptied or unreadable: keep the current tunnel, wait for the next change
            Event.of("token_unusable").with("agent_id", config.agentId())
                    .log(LOGGER, Level.WARNING, "Token file changed but cannot be used yet: " + e.getMessage()
                            + "; the current tunnel keeps serving");
            return false;
        }
    }

    private boolean reloadTls(Path file) {
        try {
            factory.reloadTls(config);
            return true;
        } catch (RuntimeException e) {
            // a certificate written before its key, say: keep the working client until both make sense
            Event.of("tls_files_unusable").with("agent_id", config.agentId())
                    .log(LOGGER, Level.WARNING, file + " changed but the TLS material cannot be used yet ("
                            + e.getMessage() + "); the current tunnel keeps serving");
            return false;
        }
    }

    private void refreshDue() {
        if (active == null) {
            return;
        }
        try {
            String fp = tokens.read().map(TokenSource::fingerprint).orElse(null);
            if (fp == null || !fp.equals(active.tokenFingerprint())) {
                requestRotation(ReconnectCause.TOKEN_EXPIRING);
                return;
            }
            Event.of("token_rotation_overdue").with("agent_id", config.agentId())
                    .log(LOGGER, Level.WARNING, "The token expires at "
                            + active.tokenLifetime().map(l -> l.expiresAt().toString()).orElse("?")
                            + " and NC_TOKEN_FILE still holds it: rotation is overdue");
        } catch (TokenSource.TokenException e) {
            Event.of("token_refresh_failed").with("agent_id", config.agentId())
                    .log(LOGGER, Level.WARNING, "Token expires soon and the token file cannot be read: " + e.getMessage());
        }
    }

    private void scheduleRefresh(Tunnel t) {
        refreshScheduled = false;
        status.tokenExpiresAt(t.tokenLifetime().map(TokenSource.Lifetime::expiresAt));
        t.tokenLifetime().ifPresent(life -> {
            Instant now = time.now();
            Duration delay = Duration.between(now, life.refreshAt(now));
            if (delay.compareTo(Duration.ofNanos(MAX_REFRESH_DELAY_NANOS)) < 0) {
                refreshAtNanos = time.nanoTime() + Math.max(delay.toNanos(), MIN_REFRESH_DELAY_NANOS);
                refreshScheduled = true;
            }
        });
    }

    private void onStop(Duration drainTimeout) {
        stopping = true;
        stopDeadlineNanos = time.nanoTime() + drainTimeout.plusSeconds(3).toNanos();
        for (Tunnel t : all()) {
            if (t != candidate && t.isReady()) {
                Event.of("shutdown").with("streams", t.activeStreams())
                        .log(LOGGER, Level.INFO, "Shutting down: draining " + t.activeStreams() + " streams for up to "
                                + drainTimeout.toSeconds() + " s");
                t.drain(drainTimeout, true, EndReason.DRAINED);
            } else {
                t.kill(EndReason.SHUTDOWN, "agent stopping");
            }
        }
    }

    private List<Tunnel> all() {
        List<Tunnel> all = new ArrayList<>(draining);
        if (active != null) {
            all.add(active);
        }
        if (candidate != null) {
            all.add(candidate);
        }
        return all;
    }

    private void logEnd(Tunnel t, TunnelEnd end) {
        String failure = end.reason().label() + ": " + end.detail();
        boolean repeated = failure.equals(lastFailure) && !t.isReady();
        lastFailure = t.isReady() ? null : failure;
        Level level = t.isReady() ? Level.INFO : repeated ? Level.FINE : Level.WARNING;
        String message = switch (end.reason()) {
        case EndReason.AUTH_FAILED -> "Authentication failed: " + end.detail() + " (check NC_TOKEN_FILE and NC_AGENT_ID)";
        case EndReason.TOKEN_ERROR -> "Token unavailable: " + end.detail();
        default -> (t.isReady() ? "Tunnel lost: " : "Connection failed: ") + end.detail();
        };
        Event.of("disconnected").with("agent_id", config.agentId()).with("reason", end.reason().label())
                .with("error", EndReason.isFailure(end.reason()) ? end.detail() : null)
                .log(LOGGER, level, message);
    }
}
