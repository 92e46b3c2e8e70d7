package io.nowconnect.stream;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes one process may hold for its streams: data received from a tunnel and not yet written to a local socket,
 * counted with a fixed per-entry overhead ({@link InboundQueue}). One budget per agent or hub, shared by all its
 * tunnels ({@code NC_MEMORY_BUDGET_MB}, {@code NC_HUB_MEMORY_BUDGET_MB}; by default a quarter of the maximum heap).
 *
 * <p>It bounds memory in two ways. With {@code bin1} flow control it sizes the windows: the initial window this side
 * grants each stream ({@link #initialWindow}) times the stream limit stays within {@link #WINDOW_SHARE} of the budget,
 * and window growth (auto-tuning) comes out of a pool of the same size, so a peer that keeps to its windows never
 * exhausts the budget. Without flow control (v1), or against a peer that grants itself more, the budget is the hard
 * stop: a stream that cannot get bytes from it makes room by resetting the streams that hold the most
 * ({@link #reclaim}), never the tunnel.
 *
 * <p>Thread-safe and lock-free; {@link #reclaim} scans the registered tables, which is rare (only when the budget is
 * spent).
 */
public final class MemoryBudget {
    /** Share of the budget for initial windows, and again for window growth (the rest absorbs per-frame overhead). */
    static final double WINDOW_SHARE = 0.45;
    /** Smallest initial window granted, whatever the budget: below this a stream barely moves. */
    static final int MIN_WINDOW = 4 * 1024;

    private final long limit;
    private final AtomicLong used = new AtomicLong();
    private final long growthPool;
    private final AtomicLong growthLeft;
    private final Set<StreamTable> tables = ConcurrentHashMap.newKeySet();

    private MemoryBudget(long limit) {
        this.limit = limit;
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
        return used.get();
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
     * Take bytes, if the budget has them.
     *
     * @param bytes bytes wanted
     * @return whether they were taken
     */
    boolean tryAcquire(long bytes) {
        long u;
        do {
            u = used.get();
            if (u + bytes > limit) {
                return false;
            }
        } while (!used.compareAndSet(u, u + bytes));
        return true;
    }

    /**
     * Give bytes back.
     *
     * @param bytes bytes taken before
     */
    void release(long bytes) {
        if (bytes > 0) {
            used.addAndGet(-bytes);
        }
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
