package io.nowconnect.ws;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pacer's arithmetic on its own, with the clock given: when it holds bytes back, when it probes, how answers move
 * the window, and what an unanswering peer gets. {@code PacedWriterTest} runs it on a real socket.
 */
@Timeout(30)
class PacerTest {
    private static final long MS = 1_000_000L;
    private static final int PING = 14;

    /** Fill the window, probe, and answer after {@code rttNanos}; returns the time of the answer. */
    private static long fullRound(Pacer p, long now, long rttNanos) {
        long batch = Math.max(1, p.allowance(now));
        byte[] probe = p.probe(batch, PING, now);
        assertNotNull(probe, "a batch that fills the window carries a probe");
        p.wrote(batch + PING);
        assertTrue(p.allowance(now) <= 0, "the window is full");
        assertTrue(p.answered(probe, now + rttNanos));
        return now + rttNanos;
    }

    /** A batch that fills the initial window, with the probe it carries. */
    private static byte[] fillInitialWindow(Pacer p, long now) {
        byte[] probe = p.probe(Pacer.INITIAL_WINDOW, PING, now);
        assertNotNull(probe, "a batch that fills the window carries a probe");
        p.wrote(Pacer.INITIAL_WINDOW + PING);
        return probe;
    }

    @Test
    void aFullWindowHoldsBackUntilItsProbeIsAnswered() {
        Pacer p = Pacer.create();
        long now = 1_000 * MS;
        assertEquals(Pacer.INITIAL_WINDOW, p.allowance(now));
        byte[] probe = fillInitialWindow(p, now);
        assertTrue(p.allowance(now) <= 0);
        assertTrue(p.waitNanos(now) > 0, "the writer waits for the answer");
        assertFalse(p.mayWriteDirect(64 * 1024, now), "no direct write past the window");
        assertNull(p.probe(1000, PING, now), "one probe at a time");
        byte[] other = probe.clone();
        other[7] ^= 1;
        assertFalse(p.answered(other, now + MS), "a pong to another ping does not count");
        assertFalse(p.answered(new byte[4], now + MS));
        assertTrue(p.answered(probe, now + MS));
        assertFalse(p.answered(probe, now + 2 * MS), "a probe is answered once");
        assertEquals(0, p.inflight(), "what was written before the probe was read");
        assertTrue(p.allowance(now + MS) > 0);
        assertEquals(0, p.waitNanos(now + MS));
    }

    @Test
    void probesComeEveryQuarterWindowAndNotWithNothingInFlight() {
        Pacer p = Pacer.create();
        long now = 1_000 * MS;
        assertNull(p.probe(0, PING, now), "nothing in flight: nothing to learn");
        assertNull(p.probe(Pacer.PROBE_EVERY_BYTES, PING, now), "below a quarter of the window");
        p.wrote(Pacer.PROBE_EVERY_BYTES);
        byte[] probe = p.probe(Pacer.INITIAL_WINDOW / 4, PING, now);
        assertNotNull(probe, "a quarter of the window since the last");
        p.wrote(Pacer.INITIAL_WINDOW / 4 + PING);
        assertTrue(p.answered(probe, now + MS));
        // room in the window, a quarter more written: the next waits for the probe interval
        assertNull(p.probe(Pacer.INITIAL_WINDOW / 4, PING, now + MS), "not within the probe interval");
        assertNotNull(p.probe(Pacer.INITIAL_WINDOW / 4, PING, now + Pacer.PROBE_INTERVAL_NANOS), "after it");
    }

    @Test
    void lowQueueingDelayGrowsAUsedWindowAndHighDelayShrinksIt() {
        Pacer p = Pacer.create();
        long now = 1_000 * MS;
        now = fullRound(p, now, MS);
        assertEquals(2 * Pacer.INITIAL_WINDOW, p.window(), "no queueing (the first round trip is the base): doubled");
        now = fullRound(p, now, MS + Pacer.TARGET_NANOS / 2);
        assertEquals(3 * Pacer.INITIAL_WINDOW, p.window(), "half the target: grown by half");
        now = fullRound(p, now, MS + 2 * Pacer.TARGET_NANOS);
        assertEquals(3 * Pacer.INITIAL_WINDOW / 2, p.window(), "twice the target: halved");
        for (int i = 0; i < 20; i++) {
            now = fullRound(p, now, MS + 10 * Pacer.TARGET_NANOS);
        }
        assertEquals(Pacer.MIN_WINDOW, p.window(), "never below the smallest window");
        for (int i = 0; i < 40; i++) {
            now = fullRound(p, now, MS);
        }
        assertEquals(Pacer.MAX_WINDOW, p.window(), "never above the largest");
    }

    @Test
    void anUnusedWindowDoesNotGrow() {
        Pacer p = Pacer.create();
        long now = 1_000 * MS;
        p.wrote(Pacer.INITIAL_WINDOW / 4);
        byte[] probe = p.probe(0, PING, now);
        assertNotNull(probe);
        p.wrote(PING);
        assertTrue(p.answered(probe, now + MS));
        assertEquals(Pacer.INITIAL_WINDOW, p.window(), "a quarter of the window in flight says nothing of the room");
    }

    @Test
    void aProbeUnansweredForItsTimeoutTurnsPacingOff() {
        Pacer p = Pacer.create();
        long now = 1_000 * MS;
        p.probeTimeout(1000 * MS);
        fillInitialWindow(p, now);
        assertEquals(1000 * MS, p.waitNanos(now), "the writer waits for the answer at most the probe timeout");
        assertTrue(p.allowance(now + 999 * MS) <= 0, "held back until the probe's time is up");
        assertTrue(p.enabled());
        now += 1001 * MS;
        assertEquals(Long.MAX_VALUE, p.allowance(now), "then pacing is off: bytes go out as without it");
        assertFalse(p.enabled());
        assertNull(p.probe(Pacer.MAX_WINDOW, PING, now), "and no more probes");
        assertTrue(p.mayWriteDirect(1 << 20, now));
        assertEquals(0, p.waitNanos(now));

        Pacer capped = Pacer.create();
        capped.probeTimeout(60_000 * MS);
        fillInitialWindow(capped, now);
        assertEquals(Pacer.PROBE_TIMEOUT_NANOS, capped.waitNanos(now), "the probe timeout is at most 5 s");
    }
}
