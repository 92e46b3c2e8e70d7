package io.nowconnect.tunnel;

import java.time.Duration;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exponential back-off with full jitter, reset after a healthy connection. */
@Timeout(60)
class BackoffTest {
    private static final Duration MIN = Duration.ofMillis(500);
    private static final Duration MAX = Duration.ofMillis(30_000);

    @Test
    void delaysGrowExponentiallyWithinBoundsAndAreCappedAtTheMaximum() {
        Backoff b = Backoff.create(MIN, MAX, Duration.ofSeconds(5), new SplittableRandom(42));
        long ceiling = MIN.toMillis();
        for (int i = 0; i < 12; i++) {
            long d = b.next(Duration.ZERO).toMillis();
            assertTrue(d >= MIN.toMillis() && d <= Math.min(ceiling, MAX.toMillis()),
                       "attempt " + i + ": " + d + " ms outside [" + MIN.toMillis() + ", " + ceiling + "]");
            ceiling *= 2;
        }
        assertEquals(MIN, Backoff.create(MIN, MAX, Duration.ofSeconds(5), new SplittableRandom(1)).next(Duration.ZERO),
                     "the first delay is the minimum");
    }

    @Test
    void jitterSpreadsTheDelays() {
        Backoff b = Backoff.create(MIN, MAX, Duration.ofSeconds(5), new SplittableRandom(7));
        for (int i = 0; i < 6; i++) {
            b.next(Duration.ZERO);
        }
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (int i = 0; i < 20; i++) {
            seen.add(b.next(Duration.ZERO).toMillis());
        }
        assertTrue(seen.size() > 10, "full jitter gives different delays: " + seen);
    }

    @Test
    void aConnectionThatStayedUpResetsTheSequenceAShortOneDoesNot() {
        Backoff b = Backoff.create(MIN, MAX, Duration.ofSeconds(5), new SplittableRandom(3));
        for (int i = 0; i < 8; i++) {
            b.next(Duration.ZERO);
        }
        assertEquals(8, b.attempts());
        b.next(Duration.ofSeconds(1));
        assertEquals(9, b.attempts(), "ready for 1 s is not healthy");
        assertEquals(MIN, b.next(Duration.ofSeconds(6)), "ready for 6 s resets: back to the minimum");
        assertEquals(1, b.attempts());
    }
}
