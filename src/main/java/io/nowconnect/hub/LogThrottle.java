package io.nowconnect.hub;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * At most one log line per period for events that can come in floods (refused upgrades, cut connections): each event
 * is counted, and the line that is due says how many there were since the last one. Thread-safe, lock-free.
 */
final class LogThrottle {
    /** The period of the hub's throttled lines. */
    static final Duration PERIOD = Duration.ofSeconds(10);

    private final long periodNanos;
    private final AtomicLong nextNanos = new AtomicLong(System.nanoTime());
    private final AtomicLong counted = new AtomicLong();

    /**
     * A throttle of {@link #PERIOD}.
     */
    LogThrottle() {
        this.periodNanos = PERIOD.toNanos();
    }

    /** Count an event. */
    void count() {
        counted.incrementAndGet();
    }

    /**
     * Count an event and tell whether a line is due now, as {@link #count()} then {@link #due()}.
     *
     * @return events since the last line (this one included), or 0 when no line is to be written now
     */
    long countAndDue() {
        count();
        return due();
    }

    /**
     * Whether a line is due now (an event was counted and the period since the last line is over), and for how many.
     *
     * @return events since the last line, or 0 when no line is to be written now
     */
    long due() {
        long now = System.nanoTime();
        long next = nextNanos.get();
        if (counted.get() > 0 && now - next >= 0 && nextNanos.compareAndSet(next, now + periodNanos)) {
            return counted.getAndSet(0);
        }
        return 0;
    }
}
