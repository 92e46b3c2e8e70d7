package io.nowconnect.stream;

import java.util.function.BooleanSupplier;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes one process may hold for its streams, both ways, counted: data received from a tunnel and not yet written
 * to a local socket ({@link InboundQueue}), and data read from a local socket and not yet written to the tunnel (a
 * stream's bulk read buffer and its frames queued in the tunnel's send lane), each counted with a fixed per-entry
 * overhead. One budget per agent or hub, shared by all its tunnels ({@code NC_MEMORY_BUDGET_MB},
 * {@code NC_HUB_MEMORY_BUDGET_MB}; by default a quarter of the maximum heap).
 *
 * <p>It only counts. Who may take what, and whose streams are reset when received data does not fit, is decided by
 * {@link Shares}, per tenant ({@link Account}); nothing here knows a stream or a table.
 *
 * <p>It is split in two shares, so neither direction can take the other's memory: {@link #SENDING_SHARE} for data to
 * send, the rest for received data. With {@code bin1} flow control the budget sizes the windows: the initial window
 * this side grants each stream ({@link #initialWindow}) times the stream limit stays within {@link #WINDOW_SHARE} of
 * the budget, and window growth (auto-tuning) comes out of a pool of the same size, so a peer that keeps to its windows
 * never exhausts the received share. Small frames (an interactive request) may use the whole sending share; bulk ones
 * leave {@link #SMALL_RESERVE_SHARE} of it free, so a request beside thousands of bulk streams never queues behind
 * them for memory.
 *
 * <p>Charges are whole {@link #UNIT}s ({@link #round}); each share is a {@link Semaphore} of units, whose waiters
 * queue without a lock of ours.
 *
 * <p>Threads: any. The tunnel's reader takes received bytes (never waits); a stream's socket reader waits in
 * {@link #acquireToSend}, never interrupted (it may be writing a tunnel's socket), polling its stream's end.
 * Locks: none of its own; the shares are semaphores, the growth pool atomic.
 */
public final class MemoryBudget {
    /** Share of the budget for initial windows, and again for window growth (received data, with its overhead). */
    static final double WINDOW_SHARE = 0.40;
    /** Share of the budget for data read from local sockets and not yet written to the tunnel. */
    static final double SENDING_SHARE = 0.20;
    /** Smallest initial window granted, whatever the budget: below this a stream barely moves. */
    static final int MIN_WINDOW = 4 * 1024;

    /** Charges are multiples of this many bytes (the budget counts units, so it may exceed 2 GiB). */
    static final int UNIT = 64;
    /** Share of the sending share that only small frames ({@link #acquireToSend} with {@code small}) may use. */
    static final double SMALL_RESERVE_SHARE = 1.0 / 8;
    /**
     * How often a socket reader waiting for the sending share (here) or its tenant's cap ({@link Account}) looks at its
     * stream's end and the cap again when nothing signalled it (a release always does). Not more often: every timed
     * wait that runs out is a wake-up from the JDK's timer thread, queued behind everything runnable, and with 2,000
     * readers waiting 200-250 ms each (the waits before) that was 8,000-10,000 wake-ups a second: in a storm of 2,000
     * streams the virtual-thread scheduler's queue of such wake-ups reached 366 tasks on the hub and 1,072 on the
     * agent, against about 45 now.
     */
    static final long SEND_WAIT_MILLIS = 1000;

    private final long limit;
    /** Free units for received data: {@code 1 - SENDING_SHARE} of the budget. */
    private final Semaphore received;
    private final int receivedUnits;
    /** Free units for data to send: {@link #SENDING_SHARE} of the budget. */
    private final Semaphore sending;
    private final int sendingUnits;
    private final int reserveUnits;
    private final long growthPool;
    private final AtomicLong growthLeft;

    private MemoryBudget(long limit) {
        this.limit = limit;
        long limitUnits = limit / UNIT;
        this.sendingUnits = (int) Math.min(Integer.MAX_VALUE, (long) (limitUnits * SENDING_SHARE));
        this.receivedUnits = (int) Math.min(Integer.MAX_VALUE, limitUnits - sendingUnits);
        this.reserveUnits = (int) (sendingUnits * SMALL_RESERVE_SHARE);
        this.received = new Semaphore(receivedUnits);
        this.sending = new Semaphore(sendingUnits);
        this.growthPool = (long) (limit * WINDOW_SHARE);
        this.growthLeft = new AtomicLong(growthPool);
    }

    /**
     * A budget of a number of bytes.
     *
     * @param limitBytes most bytes held at once, at least 1 MiB
     * @return budget
     */
    public static MemoryBudget create(long limitBytes) {
        if (limitBytes < (1 << 20)) {
            throw new IllegalArgumentException("memory budget below 1 MiB: " + limitBytes);
        }
        return new MemoryBudget(limitBytes);
    }

    /**
     * The default budget: a quarter of the JVM's maximum heap (32 MiB under the agent launcher's {@code -Xmx128m}).
     *
     * @return bytes
     */
    public static long defaultLimit() {
        return Math.max(1 << 20, Runtime.getRuntime().maxMemory() / 4);
    }

    /**
     * Most bytes held at once.
     *
     * @return bytes
     */
    public long limit() {
        return limit;
    }

    /**
     * Bytes held now.
     *
     * @return bytes
     */
    public long used() {
        long units = (long) receivedUnits - received.availablePermits() + sendingUnits - sending.availablePermits();
        return Math.max(0L, units * UNIT);
    }

    /**
     * A charge in whole units: every amount taken from or given back to the budget is one of these (or a sum of them).
     *
     * @param bytes bytes held
     * @return bytes rounded up to a multiple of {@link #UNIT}
     */
    static int round(int bytes) {
        return (bytes + UNIT - 1) & -UNIT;
    }

    /**
     * The initial {@code bin1} window this side grants per stream (announced with the {@code win} capability): the
     * budget's window share spread over the most streams, between {@link #MIN_WINDOW} and the protocol's default,
     * in whole KiB.
     *
     * @param maxStreams most streams open at once ({@code NC_MAX_INFLIGHT_CIDS}, {@code NC_HUB_MAX_CONNECTIONS})
     * @param protocolDefault the window without the capability ({@code bin1}'s 256 KiB)
     * @return bytes
     */
    public int initialWindow(int maxStreams, int protocolDefault) {
        long share = (long) (limit * WINDOW_SHARE) / Math.max(1, maxStreams);
        long kib = Math.max(MIN_WINDOW, Math.min(protocolDefault, share)) / 1024;
        return (int) (kib * 1024);
    }

    /**
     * Take bytes for received data, if its share has them; never waits.
     *
     * @param bytes bytes wanted, a {@link #round}ed charge
     * @return whether they were taken
     */
    boolean tryAcquire(long bytes) {
        return received.tryAcquire(units(bytes, receivedUnits));
    }

    /**
     * Give bytes of received data back.
     *
     * @param bytes bytes taken before (a sum of {@link #round}ed charges)
     */
    void release(long bytes) {
        if (bytes > 0) {
            received.release(units(bytes, receivedUnits));
        }
    }

    /**
     * Take bytes for data to send, waiting until frames written to the tunnel give enough back. A small frame may take
     * the whole sending share; a bulk one waits while less than {@link #SMALL_RESERVE_SHARE} of it would stay free.
     * The waiting thread is never interrupted (it may be writing to a tunnel's socket, which an interrupt closes): it
     * looks at {@code stop} once a second ({@link #SEND_WAIT_MILLIS}) instead.
     *
     * @param bytes bytes wanted, a {@link #round}ed charge
     * @param small whether this is a small frame (an interactive request or answer)
     * @param stop whether to give up (the stream closed)
     * @return whether the bytes were taken (false once {@code stop} said so)
     */
    boolean acquireToSend(long bytes, boolean small, BooleanSupplier stop) {
        int units = units(bytes, sendingUnits);
        int wanted = withReserve(units, small);
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    if (sending.tryAcquire(wanted, SEND_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
                        break;
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
                if (stop.getAsBoolean()) {
                    return false;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        // a bulk frame took the reserve with it, to proceed only while the reserve stays free: give the reserve back
        if (wanted > units) {
            sending.release(wanted - units);
        }
        return true;
    }

    /**
     * Take bytes for data to send if the sending share has them; never waits. A bulk charge (not {@code small}) is
     * taken only while {@link #SMALL_RESERVE_SHARE} of it stays free.
     *
     * @param bytes bytes wanted, a {@link #round}ed charge
     * @param small whether this is for a small frame
     * @return whether they were taken
     */
    boolean tryAcquireToSend(long bytes, boolean small) {
        int units = units(bytes, sendingUnits);
        int wanted = withReserve(units, small);
        if (!sending.tryAcquire(wanted)) {
            return false;
        }
        if (wanted > units) {
            sending.release(wanted - units);
        }
        return true;
    }

    /** What to take for a charge: a bulk one takes the reserve with it (given back at once), a small one does not. */
    private int withReserve(int units, boolean small) {
        return small ? units : units + reserveUnits;
    }

    /**
     * Give bytes of data to send back.
     *
     * @param bytes bytes taken before (a sum of {@link #round}ed charges)
     */
    void releaseSent(long bytes) {
        if (bytes > 0) {
            sending.release(units(bytes, sendingUnits));
        }
    }

    private static int units(long bytes, int limitUnits) {
        if (bytes % UNIT != 0) {
            throw new IllegalArgumentException("a charge not in whole units: " + bytes);
        }
        long units = bytes / UNIT;
        if (units > limitUnits) {
            throw new IllegalArgumentException("a charge above its whole share of the budget: " + bytes);
        }
        return (int) units;
    }

    /**
     * Take bytes of window growth ({@code bin1} auto-tuning) from the growth pool.
     *
     * @param bytes growth wanted
     * @return whether the pool had them
     */
    boolean reserveGrowth(long bytes) {
        long left;
        do {
            left = growthLeft.get();
            if (left < bytes) {
                return false;
            }
        } while (!growthLeft.compareAndSet(left, left - bytes));
        return true;
    }

    /**
     * Give window growth back when a grown stream ends.
     *
     * @param bytes growth returned
     */
    void releaseGrowth(long bytes) {
        growthLeft.addAndGet(bytes);
    }

    /**
     * The pool of window growth when nothing is grown (a share of the limit).
     *
     * @return bytes
     */
    long growthPool() {
        return growthPool;
    }

    /**
     * The received share: what all streams together may hold of received data.
     *
     * @return bytes
     */
    long receivedLimit() {
        return (long) receivedUnits * UNIT;
    }

    /**
     * The sending share: what all streams together may hold of data to send.
     *
     * @return bytes
     */
    long sendingLimit() {
        return (long) sendingUnits * UNIT;
    }

    /**
     * The part of the sending share that only small frames may use.
     *
     * @return bytes
     */
    long smallReserve() {
        return (long) reserveUnits * UNIT;
    }

    /**
     * Window growth still free in the pool.
     *
     * @return bytes
     */
    long growthLeft() {
        return growthLeft.get();
    }
}
