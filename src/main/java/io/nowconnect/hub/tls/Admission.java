package io.nowconnect.hub.tls;

import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The hub port's connection accounting on a TLS hub: one slot of {@code NC_HUB_MAX_TCP_CONNECTIONS} per connection
 * from the moment {@link FrontDoor} accepts it until it is closed, whatever happens to it, and one of
 * {@link #MAX_HANDSHAKES} while its TLS handshake runs. The counts feed the hub's gauges
 * ({@code nowconnect_hub_connections_open}, {@code nowconnect_hub_tls_handshakes_in_progress}).
 *
 * <p>Thread-safe: semaphores and atomic counters, no lock.
 */
public final class Admission {
    /**
     * Most TLS handshakes in progress at once; beyond it new connections wait in the listen backlog (each handshake
     * holds a virtual thread and the JDK's TLS buffers for at most the handshake deadline).
     */
    public static final int MAX_HANDSHAKES = 1024;

    private final int maxOpen;
    private final Duration handshakeTimeout;
    private final Consumer<String> onCut;
    private final Semaphore slots;
    private final Semaphore handshakes;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger handshaking = new AtomicInteger();

    /**
     * Accounting for one hub port.
     *
     * @param maxOpen most connections open at once ({@code NC_HUB_MAX_TCP_CONNECTIONS})
     * @param handshakeTimeout how long a TLS handshake may take from accept ({@code NC_HUB_TLS_HANDSHAKE_TIMEOUT_SEC})
     * @param onCut told the reason of each connection closed before its handshake completed ({@code tls_handshake_timeout},
     *              {@code tls_handshake_failed}, {@code tls_handshake_closed}); must not block
     */
    public Admission(int maxOpen, Duration handshakeTimeout, Consumer<String> onCut) {
        this.maxOpen = maxOpen;
        this.handshakeTimeout = handshakeTimeout;
        this.onCut = onCut;
        this.slots = new Semaphore(maxOpen);
        this.handshakes = new Semaphore(Math.min(MAX_HANDSHAKES, maxOpen));
    }

    /**
     * Connections accepted and not yet closed.
     *
     * @return count
     */
    public int open() {
        return open.get();
    }

    /**
     * Connections whose TLS handshake runs now.
     *
     * @return count
     */
    public int handshaking() {
        return handshaking.get();
    }

    /**
     * Most connections open at once.
     *
     * @return the cap
     */
    public int maxOpen() {
        return maxOpen;
    }

    Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    /** Wait for a connection slot and a handshake slot (before {@code accept}). */
    void acquire() throws InterruptedException {
        slots.acquire();
        try {
            handshakes.acquire();
        } catch (InterruptedException e) {
            slots.release();
            throw e;
        }
    }

    /** The slots taken by {@link #acquire()} were not used ({@code accept} failed). */
    void unused() {
        handshakes.release();
        slots.release();
    }

    /** {@code accept} returned a connection: its handshake starts. */
    void accepted() {
        open.incrementAndGet();
        handshaking.incrementAndGet();
    }

    /** The connection's handshake ended, completed or not. */
    void handshakeEnded() {
        handshaking.decrementAndGet();
        handshakes.release();
    }

    /** The connection is closed: its slot is free. Called exactly once per accepted connection. */
    void closed() {
        open.decrementAndGet();
        slots.release();
    }

    void cut(String reason) {
        onCut.accept(reason);
    }
}
