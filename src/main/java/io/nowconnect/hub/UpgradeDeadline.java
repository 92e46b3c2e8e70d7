package io.nowconnect.hub;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.common.buffers.BufferData;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.webserver.spi.ServerConnectionSelector;

import io.nowconnect.log.Event;

/**
 * The deadline for a connection to the hub's port ({@code NC_HUB_REQUEST_TIMEOUT_SEC}): within it after it was
 * accepted (and its TLS handshake done), a connection must have become an agent tunnel; any other connection (a
 * health check, a metrics scrape, a client that sends its request headers a byte at a time, one that sends nothing) is
 * closed then. Helidon 4.2.0 has no read deadline on the server side, and a slow request would otherwise hold a
 * connection, a virtual thread and one of {@code NC_HUB_MAX_TCP_CONNECTIONS} for as long as it likes.
 *
 * <p>It wraps the HTTP/1 connection selector (the hub's only one, see {@link #watch}): Helidon asks it for a connection
 * as soon as one is accepted, and {@link TunnelUpgrader} calls {@link #upgraded} once the upgrade succeeded. A sweep on one
 * virtual thread, every 250 ms, closes the connections past their deadline; each costs an entry in a set until its
 * connection ends.
 *
 * <p>Thread-safe.
 */
final class UpgradeDeadline implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(UpgradeDeadline.class.getName());
    private static final long SWEEP_MILLIS = 250;

    private final Duration timeout;
    private final HubMetrics metrics;
    private final Set<Watched> watched = ConcurrentHashMap.newKeySet();
    private final ConcurrentHashMap<ConnectionContext, Watched> byContext = new ConcurrentHashMap<>();
    private final ScheduledExecutorService sweeper;
    private final LogThrottle cuts = new LogThrottle();

    /**
     * Start the sweep.
     *
     * @param timeout how long a connection may take to become a tunnel
     * @param metrics where cut connections are counted
     */
    UpgradeDeadline(Duration timeout, HubMetrics metrics) {
        this.timeout = timeout;
        this.metrics = metrics;
        this.sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("nc-hub-deadline").factory());
        sweeper.scheduleWithFixedDelay(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    /**
     * Put every connection that a selector makes under watch.
     *
     * @param delegate the HTTP/1 selector (its upgrader calls {@link #upgraded})
     * @return the selector to give Helidon
     */
    ServerConnectionSelector watch(ServerConnectionSelector delegate) {
        return new Selector(delegate);
    }

    /**
     * The connection became an agent tunnel: no deadline from now on.
     *
     * @param ctx its context
     */
    void upgraded(ConnectionContext ctx) {
        Watched w = byContext.remove(ctx);
        if (w != null) {
            watched.remove(w);
        }
    }

    /**
     * Connections under watch now (for tests).
     *
     * @return count
     */
    int watching() {
        return watched.size();
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Watched w : watched) {
            if (now - w.deadlineNanos() > 0 && watched.remove(w)) {
                byContext.remove(w.ctx());
                metrics.connectionCut("request_timeout");
                cuts.count();
                // closing a TLS socket may write: not on the sweeper
                Thread.ofVirtual().name("nc-hub-deadline-close").start(() -> w.ctx().serverSocket().close());
            }
        }
        long cut = cuts.due();
        if (cut > 0) {
            Event.of("connection_timed_out").with("count", cut).with("timeout_sec", timeout.toSeconds())
                    .log(LOGGER, Level.WARNING, cut + " connection(s) to the hub's port closed: not an agent tunnel within "
                            + timeout.toSeconds() + " s (NC_HUB_REQUEST_TIMEOUT_SEC)");
        }
    }

    /** The wrapped selector: each connection it makes is watched from the start. */
    private final class Selector implements ServerConnectionSelector {
        private final ServerConnectionSelector delegate;

        Selector(ServerConnectionSelector delegate) {
            this.delegate = delegate;
        }

        @Override
        public int bytesToIdentifyConnection() {
            return delegate.bytesToIdentifyConnection();
        }

        @Override
        public Support supports(BufferData data) {
            return delegate.supports(data);
        }

        @Override
        public Set<String> supportedApplicationProtocols() {
            return delegate.supportedApplicationProtocols();
        }

        @Override
        public ServerConnection connection(ConnectionContext ctx) {
            Watched w = new Watched(ctx, System.nanoTime() + timeout.toNanos());
            watched.add(w);
            byContext.put(ctx, w);
            return OnEnd.wrap(delegate.connection(ctx), () -> {
                watched.remove(w);
                byContext.remove(ctx);
            });
        }
    }

    /** A connection under watch; it leaves the watch when it ends or is upgraded. */
    private record Watched(ConnectionContext ctx, long deadlineNanos) {
    }
}
