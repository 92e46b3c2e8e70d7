package io.nowconnect.tunnel;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.webclient.http1.Http1Client;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.log.Event;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.StreamSettings;

/**
 * Keeps the agent connected, and the only place that decides to connect, wait, move to a new tunnel or stop.
 *
 * <p>One tunnel is <em>active</em>. When it ends, the next one is started after a back-off. A graceful reconnect
 * (the token file changed, the token is about to expire, the configuration changed) is make-before-break: a
 * <em>candidate</em> tunnel is opened with the new token or settings while the active one keeps serving; once the hub
 * acknowledges the candidate it becomes active and the old tunnel <em>drains</em>: it sends DRAIN where the hub supports
 * it, keeps serving its open streams (and OPENs that still arrive) until they end or the drain timeout passes, then
 * closes normally. A candidate that fails (a refused token, a half-written file) changes nothing; it is retried with
 * its own back-off, and the failure is logged once.
 *
 * <p>Threads: every decision is taken on the supervisor thread, which owns all the fields below; tunnels, the file
 * watch and signal handlers only post events to its queue. Each tunnel runs on its own virtual thread.
 */
public final class Supervisor {
    private static final Logger LOGGER = Logger.getLogger(Supervisor.class.getName());
    /** A tunnel ready this long resets the back-off. */
    private static final Duration HEALTHY_AFTER = Duration.ofSeconds(5);
    private static final Duration WATCH_DEBOUNCE = Duration.ofMillis(200);
    private static final Duration WATCH_POLL = Duration.ofSeconds(10);

    private sealed interface Signal {
    }

    private record Ended(TunnelConnection connection, TunnelEnd end) implements Signal {
    }

    private record Ready(TunnelConnection connection) implements Signal {
    }

    private record Rotate(String why) implements Signal {
    }

    private record TlsFilesChanged(Path file) implements Signal {
    }

    private record Reconfigure(AgentConfig config) implements Signal {
    }

    private record Stop(Duration drainTimeout) implements Signal {
    }

    // supervisor thread only: rebuilt when the client certificate, key or CA bundle change
    private Http1Client client;
    private final TokenSource tokens;
    private final TunnelStatus status;
    private final StreamBudget budget;
    private final StreamObserver observer;
    private final String version;
    private final Backoff backoff;
    private final Backoff rotationBackoff;
    private final LinkedBlockingQueue<Signal> signals = new LinkedBlockingQueue<>();
    private final CountDownLatch stopped = new CountDownLatch(1);

    // supervisor thread only
    private AgentConfig config;
    private TunnelConnection.Settings settings;
    private TunnelConnection active;
    private TunnelConnection candidate;
    private final List<TunnelConnection> draining = new ArrayList<>();
    private long nextConnectNanos;
    private boolean rotationPending;
    private String rotationWhy;
    private long nextRotationNanos;
    private long refreshAtNanos;
    private String lastFailure;
    private String lastRotationFailure;
    private boolean stopping;
    private long stopDeadlineNanos;
    private long rotationStartNanos;

    private volatile boolean stopRequested;
    private volatile FileWatch tokenWatch;
    private volatile FileWatch tlsWatch;

    private Supervisor(AgentConfig config, String version, Http1Client client, TokenSource tokens, TunnelStatus status,
                       StreamBudget budget, StreamObserver observer) {
        this.config = config;
        this.version = version;
        this.settings = settings(config, version);
        this.client = client;
        this.tokens = tokens;
        this.status = status;
        this.budget = budget;
        this.observer = observer;
        this.backoff = Backoff.create(config.reconnectMin(), config.reconnectMax(), HEALTHY_AFTER, new Random());
        this.rotationBackoff = Backoff.create(config.reconnectMin(), config.reconnectMax(), Duration.ofDays(1), new Random());
    }

    /**
     * Create the supervisor of a premise agent.
     *
     * @param config agent configuration
     * @param version project version, sent in HELLO
     * @param status state tracker to feed
     * @param observer stream metrics
     * @return supervisor, not started
     * @throws io.nowconnect.config.ConfigException when the TLS material cannot be used
     */
    public static Supervisor create(AgentConfig config, String version, TunnelStatus status, StreamObserver observer) {
        return new Supervisor(config, version, HubClient.create(config), TokenSource.create(config.tokenFile()), status,
                              StreamBudget.create(config.maxInflight()), observer);
    }

    /** Start the supervisor thread and, with a token file, the watch on it. */
    public void start() {
        tokens.file().ifPresent(file -> {
            try {
                tokenWatch = FileWatch.start(List.of(file), p -> signals.add(new Rotate("token file changed")),
                                             WATCH_DEBOUNCE, WATCH_POLL);
            } catch (IOException e) {
                Event.of("token_watch_failed").log(LOGGER, Level.WARNING,
                                                   "Cannot watch NC_TOKEN_FILE; a new token is used at the next reconnect", e);
            }
        });
        List<Path> tlsFiles = new ArrayList<>();
        config.clientCert().ifPresent(tlsFiles::add);
        config.clientKey().ifPresent(tlsFiles::add);
        config.caBundle().ifPresent(tlsFiles::add);
        if (!tlsFiles.isEmpty()) {
            try {
                tlsWatch = FileWatch.start(tlsFiles, p -> signals.add(new TlsFilesChanged(p)), WATCH_DEBOUNCE, WATCH_POLL);
            } catch (IOException e) {
                Event.of("tls_watch_failed").log(LOGGER, Level.WARNING,
                                                 "Cannot watch the TLS files; changes take effect at restart", e);
            }
        }
        Thread.ofVirtual().name("nc-supervisor").start(this::run);
    }

    /**
     * Move to a new tunnel gracefully (make-before-break), for example after a token rotation.
     *
     * @param why reason for the log
     */
    public void rotate(String why) {
        signals.add(new Rotate(why));
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
        stopRequested = true;
        status.stopping();
        signals.add(new Stop(drainTimeout));
        awaitStopped(drainTimeout.plusSeconds(5));
    }

    /**
     * Wait for the supervisor to stop.
     *
     * @param timeout how long
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

    /**
     * The tracker this supervisor feeds.
     *
     * @return status
     */
    public TunnelStatus status() {
        return status;
    }

    private void run() {
        try {
            loop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            for (FileWatch w : new FileWatch[] {tokenWatch, tlsWatch}) {
                if (w != null) {
                    w.close();
                }
            }
            for (TunnelConnection c : all()) {
                c.kill(EndReason.SHUTDOWN, "agent stopping");
            }
            stopped.countDown();
        }
    }

    private void loop() throws InterruptedException {
        while (true) {
            long now = System.nanoTime();
            if (stopping) {
                if (all().isEmpty()) {
                    return;
                }
                if (now - stopDeadlineNanos > 0) {
                    Event.of("shutdown_timeout").log(LOGGER, Level.WARNING, "Drain timed out: closing the remaining tunnels");
                    return;
                }
            } else {
                if (active == null && candidate == null && now - nextConnectNanos >= 0) {
                    active = launch();
                }
                if (rotationPending && candidate == null && active != null && active.isReady()
                        && now - nextRotationNanos >= 0) {
                    rotationPending = false;
                    rotationStartNanos = now;
                    Event.of("rotating").with("agent_id", config.agentId()).with("reason", rotationWhy)
                            .log(LOGGER, Level.INFO, "Opening a new tunnel (" + rotationWhy
                                    + "); the current one serves until it is ready");
                    candidate = launch();
                }
                if (refreshAtNanos != 0 && now - refreshAtNanos >= 0) {
                    refreshAtNanos = 0;
                    refreshDue();
                }
            }
            Signal signal = signals.poll(waitMillis(now), TimeUnit.MILLISECONDS);
            if (signal != null) {
                handle(signal);
            }
        }
    }

    private long waitMillis(long now) {
        long wait = 1000;
        if (stopping) {
            return 50;
        }
        if (active == null && candidate == null) {
            wait = Math.min(wait, (nextConnectNanos - now) / 1_000_000);
        }
        if (rotationPending) {
            wait = Math.min(wait, (nextRotationNanos - now) / 1_000_000);
        }
        if (refreshAtNanos != 0) {
            wait = Math.min(wait, (refreshAtNanos - now) / 1_000_000);
        }
        return Math.max(1, wait);
    }

    private void handle(Signal signal) {
        switch (signal) {
        case Ready r -> onReady(r.connection());
        case Ended e -> onEnded(e.connection(), e.end());
        case Rotate r -> requestRotation(r.why());
        case TlsFilesChanged t -> onTlsFilesChanged(t.file());
        case Reconfigure r -> {
            config = r.config();
            settings = settings(r.config(), version);
            requestRotation("configuration changed");
        }
        case Stop s -> onStop(s.drainTimeout());
        }
    }

    private TunnelConnection launch() {
        TunnelConnection c = new TunnelConnection(settings, client, tokens, status, budget, observer,
                                                  ready -> signals.add(new Ready(ready)));
        Thread.ofVirtual().name("nc-tunnel").start(() -> signals.add(new Ended(c, c.run())));
        return c;
    }

    private void onReady(TunnelConnection c) {
        if (c == candidate) {
            TunnelConnection old = active;
            active = c;
            candidate = null;
            rotationBackoff.reset();
            lastRotationFailure = null;
            long ms = (System.nanoTime() - rotationStartNanos) / 1_000_000;
            if (old != null) {
                old.drain(config.drainTimeout(), false, EndReason.ROTATED);
                draining.add(old);
            }
            Event.of("rotated").with("agent_id", config.agentId()).with("ready_ms", ms)
                    .with("draining_streams", old == null ? 0 : old.activeStreams())
                    .log(LOGGER, Level.INFO, "New tunnel ready in " + ms + " ms; the previous one drains");
        }
        if (c == active) {
            scheduleRefresh(c);
        }
        if (stopping) {
            c.drain(Duration.ofNanos(Math.max(0, stopDeadlineNanos - System.nanoTime())), true);
        }
    }

    private void onEnded(TunnelConnection c, TunnelEnd end) {
        boolean wasReady = !end.readyFor().isZero() || c.isReady();
        status.countEnding(end.reason().label());
        // an orderly ending (rotation, drain, shutdown) is no error: last_error keeps the last real failure
        status.tunnelEnded(wasReady, end.reason().isFailure() ? end.reason().label() + ": " + end.detail() : null);
        if (draining.remove(c)) {
            Event.of("disconnected").with("agent_id", config.agentId()).with("reason", end.reason().label())
                    .log(LOGGER, Level.INFO, "Previous tunnel closed: " + end.detail());
            return;
        }
        if (stopping) {
            if (c == active) {
                active = null;
            }
            if (c == candidate) {
                candidate = null;
            }
            Event.of("disconnected").with("agent_id", config.agentId()).with("reason", end.reason().label())
                    .log(LOGGER, Level.INFO, "Tunnel closed: " + end.detail());
            return;
        }
        if (c == candidate) {
            candidate = null;
            rotationPending = true;
            Duration delay = rotationBackoff.next(Duration.ZERO);
            nextRotationNanos = System.nanoTime() + delay.toNanos();
            String failure = end.reason().label() + ": " + end.detail();
            if (!failure.equals(lastRotationFailure)) {
                lastRotationFailure = failure;
                Event.of("rotation_failed").with("agent_id", config.agentId()).with("reason", end.reason().label())
                        .log(LOGGER, Level.WARNING, "New tunnel failed (" + end.detail() + "); the current tunnel keeps "
                                + "serving, retrying in " + delay.toMillis() + " ms");
            }
            return;
        }
        if (c == active) {
            active = null;
            logEnd(c, end);
            if (candidate != null) {
                // the replacement is on its way: it becomes the active tunnel when (if) it is ready
                active = candidate;
                candidate = null;
                return;
            }
            Duration delay = backoff.next(end.readyFor());
            nextConnectNanos = System.nanoTime() + delay.toNanos();
            Event.of("reconnect_delay").with("agent_id", config.agentId()).with("delay_ms", delay.toMillis())
                    .log(LOGGER, Level.INFO, "Reconnecting in " + delay.toMillis() + " ms");
        }
    }

    private void requestRotation(String why) {
        if (stopping) {
            return;
        }
        if (active == null || !active.isReady()) {
            // nothing to keep alive: the next connect uses the new token or settings; do not wait out a back-off
            nextConnectNanos = System.nanoTime();
            if (active != null && !active.isReady() && candidate == null) {
                active.kill(EndReason.ROTATED, why + " while connecting");
            }
            return;
        }
        if (why.equals("token file changed")) {
            Optional<String> token;
            try {
                token = tokens.read();
            } catch (TokenSource.TokenException e) {
                // half-written, emptied or unreadable: keep the current tunnel, wait for the next change
                Event.of("token_unusable").with("agent_id", config.agentId())
                        .log(LOGGER, Level.WARNING, "Token file changed but cannot be used yet: " + e.getMessage()
                                + "; the current tunnel keeps serving");
                return;
            }
            String fp = token.map(TokenSource::fingerprint).orElse(null);
            if (fp != null && fp.equals(active.tokenFingerprint()) && (candidate == null)) {
                return;
            }
        }
        rotationPending = true;
        rotationWhy = why;
        nextRotationNanos = Math.min(nextRotationNanos, System.nanoTime());
        if (candidate != null) {
            // a candidate with the previous token or settings is on its way: replace it
            TunnelConnection old = candidate;
            candidate = null;
            old.kill(EndReason.ROTATED, "superseded");
        }
    }

    private void onTlsFilesChanged(Path file) {
        Http1Client fresh;
        try {
            fresh = HubClient.create(config);
        } catch (RuntimeException e) {
            // a certificate written before its key, say: keep the working client until both make sense
            Event.of("tls_files_unusable").with("agent_id", config.agentId())
                    .log(LOGGER, Level.WARNING, file + " changed but the TLS material cannot be used yet ("
                            + e.getMessage() + "); the current tunnel keeps serving");
            return;
        }
        client = fresh;
        requestRotation("TLS file " + file.getFileName() + " changed");
    }

    private void refreshDue() {
        if (active == null) {
            return;
        }
        Optional<String> token;
        try {
            token = tokens.read();
        } catch (TokenSource.TokenException e) {
            Event.of("token_refresh_failed").with("agent_id", config.agentId())
                    .log(LOGGER, Level.WARNING, "Token expires soon and the token file cannot be read: " + e.getMessage());
            return;
        }
        String fp = token.map(TokenSource::fingerprint).orElse(null);
        if (fp != null && fp.equals(active.tokenFingerprint())) {
            Event.of("token_rotation_overdue").with("agent_id", config.agentId())
                    .log(LOGGER, Level.WARNING, "The token expires at "
                            + active.tokenLifetime().map(l -> l.expiresAt().toString()).orElse("?")
                            + " and NC_TOKEN_FILE still holds it: rotation is overdue");
            return;
        }
        requestRotation("token expires soon");
    }

    private void scheduleRefresh(TunnelConnection c) {
        refreshAtNanos = 0;
        c.tokenLifetime().ifPresent(life -> {
            Instant now = Instant.now();
            Instant at = life.refreshAt(now);
            long delayNanos = Math.max(0, Duration.between(now, at).toNanos());
            refreshAtNanos = System.nanoTime() + Math.max(delayNanos, 1_000_000_000L);
        });
    }

    private void onStop(Duration drainTimeout) {
        stopping = true;
        stopDeadlineNanos = System.nanoTime() + drainTimeout.plusSeconds(3).toNanos();
        if (candidate != null) {
            candidate.kill(EndReason.SHUTDOWN, "agent stopping");
        }
        for (TunnelConnection c : all()) {
            if (c.isReady()) {
                Event.of("shutdown").with("streams", c.activeStreams())
                        .log(LOGGER, Level.INFO, "Shutting down: draining " + c.activeStreams() + " streams for up to "
                                + drainTimeout.toSeconds() + " s");
                c.drain(drainTimeout, true);
            } else {
                c.kill(EndReason.SHUTDOWN, "agent stopping");
            }
        }
    }

    private List<TunnelConnection> all() {
        List<TunnelConnection> all = new ArrayList<>(draining);
        if (active != null) {
            all.add(active);
        }
        if (candidate != null) {
            all.add(candidate);
        }
        return all;
    }

    private void logEnd(TunnelConnection c, TunnelEnd end) {
        String failure = end.reason().label() + ": " + end.detail();
        boolean repeated = failure.equals(lastFailure) && !c.isReady();
        lastFailure = c.isReady() ? null : failure;
        Level level = c.isReady() ? Level.INFO : repeated ? Level.FINE : Level.WARNING;
        String message = switch (end.reason()) {
        case AUTH_FAILED -> "Authentication failed: " + end.detail() + " (check NC_TOKEN_FILE and NC_AGENT_ID)";
        case TOKEN_ERROR -> "Token unavailable: " + end.detail();
        default -> (c.isReady() ? "Tunnel lost: " : "Connection failed: ") + end.detail();
        };
        Event.of("disconnected").with("agent_id", config.agentId()).with("reason", end.reason().label())
                .with("error", end.reason().isFailure() ? end.detail() : null)
                .log(LOGGER, level, message);
    }

    static TunnelConnection.Settings settings(AgentConfig config, String version) {
        StreamSettings streams = new StreamSettings(config.maxWsPayload(), config.queueDepth(), config.idleTimeout(),
                                                    config.connectTimeout(), config.maxInflight());
        // a DATA frame of max payload is about 4/3 of it in base64 plus JSON; leave room for hubs with larger chunks
        int maxMessage = Math.max(1 << 20, config.maxWsPayload() * 4);
        return new TunnelConnection.Settings(config.url(), config.agentId(), version, config.connectors(), streams,
                                             config.pingInterval(), config.pingTimeout(), maxMessage);
    }
}
