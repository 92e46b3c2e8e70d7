package io.nowconnect.tunnel;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.webclient.http1.Http1Client;

import io.nowconnect.log.Event;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamObserver;

/**
 * Keeps the agent connected: runs one {@link TunnelConnection} at a time, waits with back-off between attempts,
 * and drains on shutdown. The only place that decides to reconnect, wait or stop.
 *
 * <p>Threads: {@link #start()} runs the loop on one virtual thread (the supervisor thread), which owns the back-off;
 * {@link #shutdown(Duration)} may be called from any thread (a signal handler) and interrupts the loop's waits.
 */
public final class Supervisor {
    private static final Logger LOGGER = Logger.getLogger(Supervisor.class.getName());
    /** A tunnel ready this long resets the back-off. */
    private static final Duration HEALTHY_AFTER = Duration.ofSeconds(5);

    private final TunnelConnection.Settings settings;
    private final Http1Client client;
    private final TokenSource tokens;
    private final TunnelStatus status;
    private final StreamBudget budget;
    private final StreamObserver observer;
    private final Backoff backoff;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final CountDownLatch stopRequested = new CountDownLatch(1);

    private volatile boolean stopping;
    private volatile TunnelConnection current;
    private String lastFailure;

    private Supervisor(TunnelConnection.Settings settings, Http1Client client, TokenSource tokens, TunnelStatus status,
                       StreamBudget budget, StreamObserver observer, Backoff backoff) {
        this.settings = settings;
        this.client = client;
        this.tokens = tokens;
        this.status = status;
        this.budget = budget;
        this.observer = observer;
        this.backoff = backoff;
    }

    /**
     * Create a supervisor.
     *
     * @param settings what each tunnel needs
     * @param client HTTP/1 client that performs the upgrade (TLS and proxy settings live here)
     * @param tokens token file reader
     * @param status state tracker to feed
     * @param budget stream limit
     * @param observer stream metrics
     * @param reconnectMin back-off minimum
     * @param reconnectMax back-off maximum
     * @return supervisor, not started
     */
    static Supervisor create(TunnelConnection.Settings settings, Http1Client client, TokenSource tokens, TunnelStatus status,
                             StreamBudget budget, StreamObserver observer, Duration reconnectMin, Duration reconnectMax) {
        return new Supervisor(settings, client, tokens, status, budget, observer,
                              Backoff.create(reconnectMin, reconnectMax, HEALTHY_AFTER, new Random()));
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
    public static Supervisor create(io.nowconnect.config.AgentConfig config, String version, TunnelStatus status,
                                    StreamObserver observer) {
        io.nowconnect.stream.StreamSettings streams = new io.nowconnect.stream.StreamSettings(
                config.maxWsPayload(), config.queueDepth(), config.idleTimeout(), config.connectTimeout(),
                config.maxInflight());
        // a DATA frame of max payload is about 4/3 of it in base64 plus JSON; leave room for hubs with larger chunks
        int maxMessage = Math.max(1 << 20, config.maxWsPayload() * 4);
        TunnelConnection.Settings settings = new TunnelConnection.Settings(config.url(), config.agentId(), version,
                                                                           config.connectors(), streams,
                                                                           config.pingInterval(), config.pingTimeout(),
                                                                           maxMessage);
        return create(settings, HubClient.create(config), TokenSource.create(config.tokenFile()), status,
                      StreamBudget.create(config.maxInflight()), observer, config.reconnectMin(), config.reconnectMax());
    }

    /** Start the supervisor thread. */
    public void start() {
        Thread.ofVirtual().name("nc-supervisor").start(this::run);
    }

    /**
     * Stop gracefully: refuse new streams (sending DRAIN where the hub supports it), let open streams finish for up to
     * {@code drainTimeout}, close the tunnel normally and return once it is closed.
     *
     * @param drainTimeout longest wait for open streams
     */
    public void shutdown(Duration drainTimeout) {
        if (stopping) {
            awaitStopped(drainTimeout.plusSeconds(5));
            return;
        }
        stopping = true;
        status.stopping();
        TunnelConnection c = current;
        if (c != null && c.isReady()) {
            Event.of("shutdown").with("streams", c.activeStreams())
                    .log(LOGGER, Level.INFO, "Shutting down: draining " + c.activeStreams() + " streams for up to "
                            + drainTimeout.toSeconds() + " s");
            c.drain(drainTimeout, true);
        } else if (c != null) {
            c.kill(EndReason.SHUTDOWN, "agent stopping");
        }
        // wakes a back-off wait; never interrupt the loop thread, it may be in a socket read
        stopRequested.countDown();
        awaitStopped(drainTimeout.plusSeconds(5));
        if (c != null) {
            c.kill(EndReason.SHUTDOWN, "agent stopping");
        }
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
            while (!stopping) {
                TunnelConnection c = new TunnelConnection(settings, client, tokens, status, budget, observer);
                current = c;
                TunnelEnd end = runTunnel(c);
                current = null;
                status.countEnding(end.reason().label());
                status.tunnelEnded(!end.readyFor().isZero() || c.isReady(), end.reason().label() + ": " + end.detail());
                if (stopping) {
                    Event.of("disconnected").with("agent_id", settings.agentId()).with("reason", end.reason().label())
                            .log(LOGGER, Level.INFO, "Tunnel closed: " + end.detail());
                    break;
                }
                logEnd(c, end);
                Duration delay = backoff.next(end.readyFor());
                Event.of("reconnect_delay").with("agent_id", settings.agentId()).with("delay_ms", delay.toMillis())
                        .log(LOGGER, Level.INFO, "Reconnecting in " + delay.toMillis() + " ms");
                try {
                    if (stopRequested.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
                        break;
                    }
                } catch (InterruptedException e) {
                    break;
                }
            }
        } finally {
            stopped.countDown();
        }
    }

    private TunnelEnd runTunnel(TunnelConnection c) {
        if (stopping) {
            return new TunnelEnd(EndReason.SHUTDOWN, "agent stopping", Duration.ZERO);
        }
        // a shutdown that starts while this tunnel is being set up kills it once its socket exists
        return c.run();
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
        Event.of("disconnected").with("agent_id", settings.agentId()).with("reason", end.reason().label())
                .log(LOGGER, level, message);
    }
}
