package io.nowconnect.stream;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The most streams allowed at once, shared by every tunnel of one process (during a graceful reconnect two tunnels
 * hold streams). Any thread; lock-free (one atomic counter).
 */
public final class StreamBudget {
    private final int max;
    private final AtomicInteger used = new AtomicInteger();

    private StreamBudget(int max) {
        this.max = max;
    }

    /**
     * Create a budget.
     *
     * @param max most concurrent streams
     * @return a new budget
     */
    public static StreamBudget create(int max) {
        return new StreamBudget(max);
    }

    boolean tryAcquire() {
        while (true) {
            int n = used.get();
            if (n >= max) {
                return false;
            }
            if (used.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    void release() {
        used.decrementAndGet();
    }

    /**
     * Streams in use.
     *
     * @return count
     */
    public int used() {
        return used.get();
    }
}
