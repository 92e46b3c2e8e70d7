package io.nowconnect.stream;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

import io.nowconnect.protocol.BinaryCodec;

/**
 * One stream's {@code bin1} credit-based flow control, both directions. Sending: DATA only within the credit the peer
 * granted (its initial window, then every WINDOW increment); the stream's reader waits when it runs out. Receiving:
 * the peer may have at most the receive window unreturned; credit goes back with one WINDOW once half a window reached
 * the local socket (a whole window, for windows up to {@link #WHOLE_RETURN}), and the window doubles (up to
 * {@link BinaryCodec#MAX_WINDOW}, out of the process's growth pool) each time credit is returned while the socket has
 * written everything queued. A window of 0 means v1: no flow control.
 *
 * <p>Growth goes back ({@link #shrink}) when the stream has received nothing for {@link #QUIET_NANOS}, or when
 * {@link Shares} takes it back for a tenant below its share. Credit already granted cannot be taken back, so the window
 * shrinks as a debt: the peer may still send what it was granted ({@link #allowance}), and credit is withheld from the
 * next returns until the allowance is down to the initial window. The growth pool has the bytes back at once; what the
 * peer may still send meanwhile is bounded by the budget's received share like any other received data.
 *
 * <p>Locks: one, {@link #lock}, guards the send credit, window growth and shrinking, and {@link #closed}; the stream's
 * reader waits through {@link #reader}. {@link #unreturned} is atomic (the tunnel's reader adds, the writer subtracts);
 * {@link #consumedSinceWindow} is the stream writer thread's alone.
 */
final class FlowControl {
    /** A stream that received nothing for this long gives its window growth back. */
    static final long QUIET_NANOS = 2_000_000_000L;
    /**
     * Windows up to this size are returned whole rather than by halves: at a few KiB (thousands of streams sharing a
     * budget) a WINDOW, and the wake-ups it causes on both sides, per 2-4 KiB cost more than the round trip that
     * returning half a window saves (noisy neighbour ramp: the other connector's p99 lower in 5 of 6 alternated runs,
     * the agent's CPU 8 % lower). A stream that keeps up doubles its window past this at its first returns.
     */
    static final int WHOLE_RETURN = 8 * 1024;

    private final int window;
    private final Account account;
    private final ReentrantLock lock = new ReentrantLock();
    private final Wakes wakes;
    /** The stream's reader's wait for credit (or the end). */
    private final CountedWait reader;
    /** How many unreturned bytes the peer may send; grows from {@link #window}. Set under the lock. */
    private volatile int receiveWindow;
    /**
     * How many unreturned bytes the peer may legitimately have: the receive window plus what a shrink left as debt
     * (credit granted before the shrink and not yet withheld). Set under the lock.
     */
    private volatile long allowance;
    /** When DATA last arrived ({@link System#nanoTime()}); the tunnel's reader writes it. */
    private volatile long lastReceivedNanos = System.nanoTime();
    /** Bytes received from the peer and not yet returned with WINDOW; at most {@link #receiveWindow}. */
    private final AtomicLong unreturned = new AtomicLong();
    /** Bytes the peer still lets us send. Guarded by {@link #lock}. */
    private long credit;
    /** Guarded by {@link #lock}: once set, no growth and no credit wait. */
    private boolean closed;
    // stream writer thread only: bytes written to the socket since the last WINDOW
    private long consumedSinceWindow;

    /**
     * Flow control of a new stream.
     *
     * @param receiveWindow the window this side grants, 0 for v1
     * @param sendWindow the window the peer grants (the first credit)
     * @param account the stream's tenant, whose share of the growth pool window growth comes from
     * @param wakes the tunnel's wake-ups: the end of a credit wait is counted there, and waits its turn
     */
    FlowControl(int receiveWindow, int sendWindow, Account account, Wakes wakes) {
        this.wakes = wakes;
        this.reader = new CountedWait(wakes, lock);
        this.window = receiveWindow;
        this.receiveWindow = receiveWindow;
        this.allowance = receiveWindow;
        this.credit = sendWindow;
        this.account = account;
    }

    /**
     * Whether this stream is flow controlled ({@code bin1}).
     *
     * @return true with a window
     */
    boolean enabled() {
        return window > 0;
    }

    /**
     * Tunnel reader: DATA arrived.
     *
     * @param length payload bytes
     * @return false when the peer went beyond the receive window (a protocol error for this stream)
     */
    boolean received(int length) {
        lastReceivedNanos = System.nanoTime();
        return unreturned.addAndGet(length) <= allowance;
    }

    /**
     * Tunnel reader: WINDOW arrived; wakes a reader waiting for credit.
     *
     * @param increment bytes of credit
     * @return false when the credit now exceeds 2^32-1 (a protocol error for this stream)
     */
    boolean granted(long increment) {
        lock.lock();
        try {
            credit += increment;
            reader.signal(false);
            return credit <= BinaryCodec.MAX_UINT32;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stream reader: wait until the peer lets us send.
     *
     * @param observer told of a wait ({@link WireEvent#CREDIT_WAIT})
     * @return credit in bytes, or -1 once closed
     */
    long awaitCredit(StreamObserver observer) {
        int signalled;
        lock.lock();
        try {
            if (credit <= 0 && !closed) {
                observer.wire(WireEvent.CREDIT_WAIT);
            }
            while (credit <= 0 && !closed) {
                reader.await();
            }
            reader.satisfied();
            return closed ? -1 : credit;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        } finally {
            signalled = reader.takeSignalled();
            lock.unlock();
            // outside the lock: it may run deferred wake-ups, which take their own stream's lock
            wakes.ran(signalled);
        }
    }

    /**
     * Stream reader: bytes were sent.
     *
     * @param n bytes
     */
    void take(int n) {
        lock.lock();
        try {
            credit -= n;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stream writer: bytes reached the socket. Once half a window has (a whole one up to {@link #WHOLE_RETURN}), the
     * credit to return; the count is lowered before the WINDOW leaves, so DATA the peer sends on the new credit can
     * never look like a violation, and a grown window is in place before the WINDOW that grants it.
     *
     * @param bytes bytes written
     * @param drained whether everything queued was written (the local side keeps up: the window may grow)
     * @return the WINDOW increment to send now, 0 for none yet
     */
    long consumed(int bytes, boolean drained) {
        consumedSinceWindow += bytes;
        int current = receiveWindow;
        if (consumedSinceWindow < Math.max(1, current <= WHOLE_RETURN ? current : current / 2)) {
            return 0;
        }
        long consumed = consumedSinceWindow;
        consumedSinceWindow = 0;
        long increment = consumed;
        // the count first, then the debt: the tunnel's reader checks DATA against both at any moment, and lowering
        // the allowance first would, for that moment, flag DATA the peer was entitled to after a shrink
        unreturned.addAndGet(-consumed);
        if (allowance > receiveWindow) {
            increment -= withhold(consumed);
        }
        if (drained && current < BinaryCodec.MAX_WINDOW && grow(current)) {
            increment += current;
        }
        return increment;
    }

    /** The stream ended: wake a waiting reader and give window growth back (once; no growth after this). */
    void close() {
        lock.lock();
        try {
            closed = true;
            reader.signal(true);
            if (receiveWindow > window) {
                account.releaseGrowth(receiveWindow - window);
                receiveWindow = window;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Credit left to send, for tests and diagnostics.
     *
     * @return bytes, or -1 without flow control
     */
    long credit() {
        if (window == 0) {
            return -1;
        }
        lock.lock();
        try {
            return credit;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Current receive window, for tests and diagnostics.
     *
     * @return bytes, 0 without flow control
     */
    int receiveWindow() {
        return receiveWindow;
    }

    /**
     * Window growth held: the receive window beyond the initial one.
     *
     * @return bytes
     */
    int grown() {
        return receiveWindow - window;
    }

    /**
     * Whether the stream has received nothing for {@link #QUIET_NANOS} while its window is grown.
     *
     * @param now {@link System#nanoTime()}
     * @return true when its growth should go back
     */
    boolean quietAndGrown(long now) {
        return receiveWindow > window && now - lastReceivedNanos > QUIET_NANOS;
    }

    /**
     * Give window growth back: the window returns to the initial one; the credit the peer was already granted beyond
     * it stays allowed and is withheld from the next returns (see the class comment).
     */
    void shrink() {
        lock.lock();
        try {
            if (closed || receiveWindow <= window) {
                return;
            }
            account.releaseGrowth(receiveWindow - window);
            receiveWindow = window;
        } finally {
            lock.unlock();
        }
    }

    /** Stream writer: of {@code consumed} bytes, how many to keep as repayment of a shrink's debt. */
    private long withhold(long consumed) {
        lock.lock();
        try {
            long held = Math.min(Math.max(0, allowance - receiveWindow), consumed);
            allowance -= held;
            return held;
        } finally {
            lock.unlock();
        }
    }

    private boolean grow(int current) {
        lock.lock();
        try {
            if (closed || allowance > receiveWindow) {
                return false;
            }
        } finally {
            lock.unlock();
        }
        // outside the lock: a refusal may make another tenant's stream shrink, under that stream's lock
        if (!account.reserveGrowth(current)) {
            return false;
        }
        lock.lock();
        try {
            if (closed || receiveWindow != current) {
                account.releaseGrowth(current);
                return false;
            }
            receiveWindow = current * 2;
            allowance += current;
            return true;
        } finally {
            lock.unlock();
        }
    }
}
