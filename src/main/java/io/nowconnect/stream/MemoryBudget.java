package io.nowconnect.stream;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes one process may hold for its streams, both ways: data received from a tunnel and not yet written to a local
 * socket ({@link InboundQueue}), and data read from a local socket and not yet written to the tunnel (the stream's
 * bulk read buffer and its frames queued in the tunnel's send lane), each counted with a fixed per-entry overhead. One
 * budget per agent or hub, shared by all its tunnels ({@code NC_MEMORY_BUDGET_MB}, {@code NC_HUB_MEMORY_BUDGET_MB};
 * by default a quarter of the maximum heap).
 *
 * <p>It bounds memory in two ways. With {@code bin1} flow control it sizes the windows: the initial window this side
 * grants each stream ({@link #initialWindow}) times the stream limit stays within {@link #WINDOW_SHARE} of the budget,
 * and window growth (auto-tuning) comes out of a pool of the same size, so a peer that keeps to its windows never
 * exhausts the budget. Without flow control (v1), or against a peer that grants itself more, the budget is the hard
 * stop: a stream that cannot get bytes from it makes room by resetting the streams that hold the most
 * ({@link #reclaim}), never the tunnel.
 *
 * <p>Sending never resets a stream: a stream's reader that cannot get bytes for what it read waits ({@link #acquire})
 * until frames written to the tunnel give some back, so a tunnel slower than its local sockets holds its readers, not
 * more memory. Small frames (an interactive request) may use the whole budget; bulk ones leave {@link #SMALL_RESERVE}
 * of it free, so a request beside thousands of bulk streams never queues behind them for memory.
 *
 * <p>Charges are whole {@link #UNIT}s ({@link #round}); the count is a {@link Semaphore} of units, whose waiters queue
 * without a lock of ours. {@link #reclaim} scans the registered tables, which is rare (only when the budget is spent).
 */
public final class MemoryBudget {
    /** Share of the budget for initial windows, and again for window growth (the rest absorbs per-frame overhead). */
    static final double WINDOW_SHARE = 0.45;
    /** Smallest initial window granted, whatever the budget: below this a stream barely moves. */
    static final int MIN_WINDOW = 4 * 1024;

    /** Charges are multiples of this many bytes (the budget counts units, so it may exceed 2 GiB). */
    static final int UNIT = 64;
    /** Share of the budget that only small frames ({@link #acquire} with {@code small}) may use. */
    static final double SMALL_RESERVE_SHARE = 1.0 / 16;

    private final long limit;
    /** Free units; may dip below 0 only while a bulk acquirer briefly holds the reserve. */
    private final Semaphore free;
    private final int limitUnits;
    private final int reserveUnits;
    private final long growthPool;
    private final AtomicLong growthLeft;
    private final Set<StreamTable> tables = ConcurrentHashMap.newKeySet();

    private MemoryBudget(long limit) {
        this.limit = limit;
        this.limitUnits = (int) Math.min(Integer.MAX_VALUE, limit / UNIT);
        this.reserveUnits = (int) (limitUnits * SMALL_RESERVE_SHARE);
        this.free = new Semaphore(limitUnits);
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
        return Math.max(0L, (long) (limitUnits - free.availablePermits()) * UNIT);
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
     * Take bytes, if the budget has them; never waits.
     *
     * @param bytes bytes wanted, a {@link #round}ed charge
     * @return whether they were taken
     */
    boolean tryAcquire(long bytes) {
        return free.tryAcquire(units(bytes));
    }

    /**
     * Take bytes if the budget has them; never waits. A bulk charge (not {@code small}) is taken only while
     * {@link #SMALL_RESERVE_SHARE} of the budget stays free.
     *
     * @param bytes bytes wanted, a {@link #round}ed charge
     * @param small whether this is for a small frame
     * @return whether they were taken
     */
    boolean tryAcquire(long bytes, boolean small) {
        int units = units(bytes);
        if (small || reserveUnits == 0) {
            return free.tryAcquire(units);
        }
        if (!free.tryAcquire(units + reserveUnits)) {
            return false;
        }
        free.release(reserveUnits);
        return true;
    }

    /**
     * Take bytes, waiting until frames written elsewhere give enough back. A small frame may take the whole budget;
     * a bulk one waits while less than {@link #SMALL_RESERVE_SHARE} of it would stay free.
     *
     * @param bytes bytes wanted, a {@link #round}ed charge
     * @param small whether this is a small frame (an interactive request or answer)
     * @throws InterruptedException when the waiting thread is interrupted (its stream closed)
     */
    void acquire(long bytes, boolean small) throws InterruptedException {
        int units = units(bytes);
        if (small || reserveUnits == 0) {
            free.acquire(units);
            return;
        }
        // take the reserve with it, then give the reserve back: a bulk frame proceeds only while the reserve stays free
        free.acquire(units + reserveUnits);
        free.release(reserveUnits);
    }

    /**
     * Give bytes back.
     *
     * @param bytes bytes taken before (a sum of {@link #round}ed charges)
     */
    void release(long bytes) {
        if (bytes > 0) {
            free.release(units(bytes));
        }
    }

    private int units(long bytes) {
        if (bytes % UNIT != 0) {
            throw new IllegalArgumentException("a charge not in whole units: " + bytes);
        }
        long units = bytes / UNIT;
        if (units > limitUnits) {
            throw new IllegalArgumentException("a charge above the whole budget: " + bytes);
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

    void register(StreamTable table) {
        tables.add(table);
    }

    void unregister(StreamTable table) {
        tables.remove(table);
    }

    /**
     * Make room for {@code bytes} by resetting, with {@code queue_overflow}, the streams that hold the most, largest
     * first, until the bytes fit. The requesting stream is a candidate like any other: when it holds the most, it is
     * the one reset (and the caller drops its frame). Streams holding nothing are never reset.
     *
     * @param bytes bytes wanted
     * @param requester the stream that wants them
     * @return whether the requester may now take them (false when it was reset itself or nothing could be freed)
     */
    boolean reclaim(long bytes, Stream requester) {
        List<Stream> holders = new ArrayList<>();
        for (StreamTable t : tables) {
            for (Stream s : t.streams()) {
                if (s.heldBytes() > 0) {
                    holders.add(s);
                }
            }
        }
        holders.sort(Comparator.comparingLong(Stream::heldBytes).reversed());
        for (Stream s : holders) {
            if (tryAcquire(bytes)) {
                return true;
            }
            s.overflow();
            if (s == requester) {
                return false;
            }
        }
        return tryAcquire(bytes);
    }
}
