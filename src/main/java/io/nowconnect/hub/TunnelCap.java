package io.nowconnect.hub;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The cap on agent tunnels ({@code NC_HUB_MAX_TUNNELS}): a slot is taken at the upgrade, before the tunnel exists,
 * and given back when its connection ends, so the hub never holds more tunnels (acknowledged or still waiting for
 * HELLO) than its heap was sized for; {@link TunnelUpgrader} answers 503 beyond it.
 *
 * <p>Thread-safe: Helidon's connection threads take and return slots concurrently.
 */
final class TunnelCap {
    private final int max;
    private final AtomicInteger open = new AtomicInteger();
    private final LogThrottle refusals = new LogThrottle();

    /**
     * A cap.
     *
     * @param max most tunnels at once
     */
    TunnelCap(int max) {
        this.max = max;
    }

    /**
     * Take a slot for a new tunnel.
     *
     * @return whether one was free (if so, {@link #release} gives it back)
     */
    boolean tryAcquire() {
        while (true) {
            int n = open.get();
            if (n >= max) {
                refusals.count();
                return false;
            }
            if (open.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Give a slot back. */
    void release() {
        open.decrementAndGet();
    }

    /**
     * Tunnels open now.
     *
     * @return count
     */
    int open() {
        return open.get();
    }

    /**
     * The cap.
     *
     * @return most tunnels at once
     */
    int max() {
        return max;
    }

    /**
     * Whether a refusal should be logged now (at most once per {@link LogThrottle#PERIOD}), and how many were
     * refused since the last line.
     *
     * @return refusals since the last line (this one included), or 0 when this one is not to be logged
     */
    long refusalsToLog() {
        return refusals.due();
    }
}
