package io.nowconnect.tunnel;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Exponential back-off with full jitter: the n-th consecutive failure waits a uniformly random time between the
 * minimum and {@code min * 2^n}, capped at the maximum. A connection that stayed ready for at least
 * {@code resetAfter} resets the sequence. Not thread-safe: owned by the supervisor thread.
 */
final class Backoff {
    private final long minMillis;
    private final long maxMillis;
    private final long resetAfterMillis;
    private final RandomGenerator random;
    private int attempt;

    private Backoff(Duration min, Duration max, Duration resetAfter, RandomGenerator random) {
        this.minMillis = Math.max(1, min.toMillis());
        this.maxMillis = Math.max(minMillis, max.toMillis());
        this.resetAfterMillis = resetAfter.toMillis();
        this.random = random;
    }

    /**
     * Create a back-off.
     *
     * @param min smallest delay and first ceiling
     * @param max largest ceiling
     * @param resetAfter a connection ready this long resets the sequence
     * @param random source of jitter (inject a seeded one in tests)
     * @return back-off
     */
    public static Backoff create(Duration min, Duration max, Duration resetAfter, RandomGenerator random) {
        return new Backoff(min, max, resetAfter, random);
    }

    /**
     * Delay before the next attempt, given how long the last connection was ready.
     *
     * @param readyFor time the ended connection was ready (zero if it never was)
     * @return delay
     */
    public Duration next(Duration readyFor) {
        if (readyFor.toMillis() >= resetAfterMillis) {
            attempt = 0;
        }
        long ceiling = minMillis << Math.min(attempt, 30);
        if (ceiling <= 0 || ceiling > maxMillis) {
            ceiling = maxMillis;
        }
        attempt++;
        return Duration.ofMillis(ceiling <= minMillis ? minMillis : random.nextLong(minMillis, ceiling + 1));
    }

    /**
     * Consecutive attempts since the last reset.
     *
     * @return attempts
     */
    int attempts() {
        return attempt;
    }

    /** Start over, as after a healthy connection. */
    public void reset() {
        attempt = 0;
    }
}
