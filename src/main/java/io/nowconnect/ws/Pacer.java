package io.nowconnect.ws;

import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;

/**
 * How many bytes a tunnel's writer may have in flight: written to the socket and not yet read by the peer. It keeps
 * the queue in the kernel's buffers and the network (which no scheduler can reorder) at about {@link #TARGET_NANOS} of
 * delay, so frames wait in the {@link FrameScheduler} instead, where a new stream's OPEN or a request of another
 * connector goes ahead of bulk. Without it, the two kernels' socket buffers (4 MiB to send and up to 32 MiB to receive
 * by Linux's defaults) filled with bulk during a storm of uploads, and every frame queued behind them: a probe of
 * another connector waited 0.5 to 2 s.
 *
 * <p>How. The writer puts a WebSocket ping with a random 8-byte payload after a batch (a <em>probe</em>; at most one
 * is outstanding; one per quarter window and {@link #PROBE_INTERVAL_NANOS} at most, unless the window is full). Every
 * peer answers a ping (RFC 6455 5.5.2), and its pong comes after the peer's reader has read everything written before
 * the ping, so the pong tells how many bytes are no longer in flight, and its round trip how long they queued. The
 * window is delay-based, like LEDBAT (RFC 6817): the queueing delay is the round trip less the smallest round trip of
 * the last 10 to 20 seconds; below the target the window grows (up to doubling per round trip while it is used), above
 * it shrinks (at most halving). A round trip that is high because the peer's process is slow, not because bytes queue,
 * shrinks the window too: that peer is not taking bytes faster either.
 *
 * <p>What is not counted against the window (but is counted in flight): urgent frames (pongs, WINDOW, RST, pings) and
 * the one small item of a group that had nothing queued ({@link FrameScheduler}). A peer that leaves a probe
 * unanswered for {@link #probeTimeout} (at most {@link #PROBE_TIMEOUT_NANOS}, half the ping timeout in a tunnel: a peer
 * that answers only its latest ping, as RFC 6455 allows, or none, or one that stopped reading) turns pacing off for the
 * tunnel: from then on its bytes go to the socket as they would without pacing, and a peer that stopped reading is
 * found by the writer's stalled write as before, at most that timeout later.
 *
 * <p>Figures: {@link #MIN_WINDOW} keeps at least 256 KiB per round trip moving (about 12 MB/s at a 20 ms round trip);
 * {@link #MAX_WINDOW} is well above any link's bandwidth-delay product here. Off with {@code -Dnowconnect.pacing=false}
 * (for comparison).
 *
 * <p>Threads: the writer (or a producer writing directly) under the outbox's write lock calls {@link #allowance},
 * {@link #probe} and {@link #wrote}; the tunnel's reader calls {@link #answered}. Locks: this object's monitor, held
 * for a few arithmetic steps.
 */
final class Pacer {
    /** Queueing delay the window is sized for. */
    static final long TARGET_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    static final long MIN_WINDOW = 256 * 1024;
    static final long MAX_WINDOW = 64L << 20;
    static final long INITIAL_WINDOW = 1 << 20;
    /** Longest wait for a probe's answer, after which pacing is off for the tunnel. */
    static final long PROBE_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Fewest bytes written between probes (and at least a quarter of the window). */
    static final long PROBE_EVERY_BYTES = 64 * 1024;
    /**
     * Least time between probes while the window has room: a ping and its pong cost each side a wake-up and a system
     * call, and one per quarter window alone was 40 % more CPU per MB for one bulk stream on loopback.
     */
    static final long PROBE_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    /** The smallest round trip is kept per period of this length; the base is the smaller of two periods. */
    private static final long BASE_PERIOD_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final boolean ENABLED = !"false".equals(System.getProperty("nowconnect.pacing"));

    private boolean enabled;
    /** Pacing was on and a peer left a probe unanswered (read by the tunnel's timer without the monitor). */
    private volatile boolean gaveUp;
    private long written;
    private long acked;
    private long window = INITIAL_WINDOW;
    private boolean probeOut;
    private long probePayload;
    private long probeMark;
    private long probeSentNanos;
    private boolean probedOnce;
    /** {@code written - acked} when the probe was sent: whether the window was in use. */
    private long probeInflight;
    private long lastProbeMark;
    private long probeTimeoutNanos = PROBE_TIMEOUT_NANOS;
    private long baseNanos = Long.MAX_VALUE;
    private long periodMin = Long.MAX_VALUE;
    private long previousPeriodMin = Long.MAX_VALUE;
    private long periodStart;

    private Pacer(boolean enabled) {
        this.enabled = enabled;
    }

    /**
     * A pacer, on unless {@code -Dnowconnect.pacing=false}.
     *
     * @return pacer
     */
    static Pacer create() {
        return new Pacer(ENABLED);
    }

    /**
     * How long a probe may wait for its answer before pacing turns off: {@link #PROBE_TIMEOUT_NANOS} at most.
     *
     * @param nanos the wait (a tunnel gives half its ping timeout, so that a peer that stopped reading is found
     *              about as soon as without pacing)
     */
    synchronized void probeTimeout(long nanos) {
        probeTimeoutNanos = Math.max(1, Math.min(PROBE_TIMEOUT_NANOS, nanos));
    }

    /**
     * Bytes of paced items that may be written now.
     *
     * @param now {@link System#nanoTime()}
     * @return bytes, at most 0 when the window is full; {@link Long#MAX_VALUE} when pacing is off
     */
    synchronized long allowance(long now) {
        expire(now);
        if (!enabled) {
            return Long.MAX_VALUE;
        }
        return window - (written - acked);
    }

    /**
     * Whether a paced item of this size may be written directly now: the window has room and no probe is due (the
     * writer thread sends probes).
     *
     * @param bytes the item's size
     * @param now {@link System#nanoTime()}
     * @return true when it may
     */
    synchronized boolean mayWriteDirect(int bytes, long now) {
        expire(now);
        if (!enabled) {
            return true;
        }
        return window - (written - acked) > 0 && !due(bytes, now);
    }

    /**
     * Whether the writer should look again without waiting for a pong: pacing is off, or the outstanding probe is past
     * its time, or no probe is out while bytes are in flight (one must be sent).
     *
     * @param now {@link System#nanoTime()}
     * @return nanoseconds to wait for an answer at most, or 0 when the writer may go on now
     */
    synchronized long waitNanos(long now) {
        if (!enabled || !probeOut) {
            return 0;
        }
        return Math.max(0, probeSentNanos + probeTimeoutNanos - now);
    }

    /**
     * Writer, before writing a batch of {@code batchBytes}: the payload of a probe to append to it, if one is due
     * (registered now, since its pong may arrive before the write returns).
     *
     * @param batchBytes bytes about to be written
     * @param pingBytes bytes the probe's frame takes
     * @param now {@link System#nanoTime()}
     * @return the ping payload, or null
     */
    synchronized byte[] probe(long batchBytes, int pingBytes, long now) {
        if (!enabled || probeOut) {
            return null;
        }
        boolean full = window - (written - acked) - batchBytes <= 0;
        if (!full && !due(batchBytes, now)) {
            return null;
        }
        if (batchBytes == 0 && written == acked) {
            return null;
        }
        probeOut = true;
        probePayload = RANDOM.nextLong();
        probeMark = written + batchBytes + pingBytes;
        probeInflight = probeMark - acked;
        lastProbeMark = probeMark;
        probeSentNanos = now;
        probedOnce = true;
        return ByteBuffer.allocate(8).putLong(probePayload).array();
    }

    /**
     * Bytes went to the socket (any frame).
     *
     * @param bytes bytes written
     */
    synchronized void wrote(long bytes) {
        written += bytes;
    }

    /**
     * Reader: a pong arrived. When it answers the outstanding probe, what was written before the probe is no longer in
     * flight, and the round trip sizes the window.
     *
     * @param payload the pong's payload
     * @param now {@link System#nanoTime()}
     * @return whether it answered the probe (the writer may have room now)
     */
    synchronized boolean answered(byte[] payload, long now) {
        if (!probeOut || payload.length != 8 || ByteBuffer.wrap(payload).getLong() != probePayload) {
            return false;
        }
        probeOut = false;
        acked = Math.max(acked, probeMark);
        long rtt = now - probeSentNanos;
        if (now - periodStart > BASE_PERIOD_NANOS || periodMin == Long.MAX_VALUE) {
            previousPeriodMin = periodMin;
            periodMin = Long.MAX_VALUE;
            periodStart = now;
        }
        periodMin = Math.min(periodMin, rtt);
        baseNanos = Math.min(periodMin, previousPeriodMin);
        long queueing = rtt - baseNanos;
        if (queueing <= TARGET_NANOS) {
            // grow only a window in use: a sender with little to send learns nothing of the path's room
            if (probeInflight * 2 >= window) {
                window = Math.min(MAX_WINDOW, window + window * (TARGET_NANOS - queueing) / TARGET_NANOS);
            }
        } else {
            long cut = window * Math.min(TARGET_NANOS, queueing - TARGET_NANOS) / (2 * TARGET_NANOS);
            window = Math.max(MIN_WINDOW, window - cut);
        }
        return true;
    }

    /**
     * The window now (for tests and diagnosis).
     *
     * @return bytes
     */
    synchronized long window() {
        return window;
    }

    /**
     * Bytes written and not yet known to be read by the peer (for tests and diagnosis).
     *
     * @return bytes
     */
    synchronized long inflight() {
        return written - acked;
    }

    /**
     * Whether pacing is on (for tests and diagnosis): off by choice, or after a peer left a probe unanswered.
     *
     * @return true when on
     */
    synchronized boolean enabled() {
        return enabled;
    }

    /**
     * Whether pacing turned itself off because the peer left a probe unanswered.
     *
     * @return true once it did
     */
    boolean gaveUp() {
        return gaveUp;
    }

    /** Whether, after {@code more} bytes, enough has been written and enough time passed since the last probe. */
    private boolean due(long more, long now) {
        return written + more - lastProbeMark >= Math.max(PROBE_EVERY_BYTES, window / 4)
                && (!probedOnce || now - probeSentNanos >= PROBE_INTERVAL_NANOS);
    }

    /** A probe past its time turns pacing off. */
    private void expire(long now) {
        if (probeOut && now - probeSentNanos > probeTimeoutNanos) {
            probeOut = false;
            enabled = false;
            gaveUp = true;
        }
    }
}
