package io.nowconnect.stream;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * What one tenant holds of the process's {@link MemoryBudget}: received bytes, bytes to send, window growth, and its
 * open streams. A tenant is an {@code agent_id} on the hub (all its tunnels share one account) and one tunnel on the
 * agent. Every charge a stream makes goes through its tenant's account, which counts it and asks {@link Shares} what
 * the tenant may take; the budget below counts the process's total.
 *
 * <p>Threads: any; the tunnel's reader takes received bytes, stream socket readers take bytes to send (and wait for
 * them), stream socket writers give bytes back. Locks: {@link #sendLock} only for waiting on the sending cap; the
 * counters are atomic, the tables a concurrent set.
 */
public final class Account {
    private final Shares shares;
    private final String tenant;
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong sending = new AtomicLong();
    private final AtomicLong growth = new AtomicLong();
    private final AtomicInteger streams = new AtomicInteger();
    private final Set<StreamTable> tables = ConcurrentHashMap.newKeySet();
    /** Tunnels (tables) attached and not yet detached; changed only inside {@link Shares}'s map compute. */
    int tunnels;
    private final ReentrantLock sendLock = new ReentrantLock();
    /**
     * Small frames (a request or an answer) and bulk frames wait apart, and a release wakes a small one first: in a
     * burst of 2,000 uploads a request of the same tenant waited behind every bulk frame (up to 1.8 s).
     */
    private final Condition smallRoom = sendLock.newCondition();
    private final Condition bulkRoom = sendLock.newCondition();
    private final AtomicInteger sendWaiters = new AtomicInteger();

    Account(Shares shares, String tenant) {
        this.shares = shares;
        this.tenant = tenant;
    }

    /**
     * The tenant's name: an {@code agent_id} on the hub.
     *
     * @return name
     */
    public String tenant() {
        return tenant;
    }

    /**
     * Received bytes held now (charged, not yet written to local sockets).
     *
     * @return bytes
     */
    public long received() {
        return received.get();
    }

    /**
     * Bytes to send held now (read from local sockets, not yet written to the tunnel, and bulk read buffers).
     *
     * @return bytes
     */
    public long sending() {
        return sending.get();
    }

    /**
     * Window growth held now.
     *
     * @return bytes
     */
    public long growth() {
        return growth.get();
    }

    /**
     * Open streams now.
     *
     * @return count
     */
    public int streams() {
        return streams.get();
    }

    /**
     * The shares this account belongs to.
     *
     * @return shares
     */
    public Shares shares() {
        return shares;
    }

    Set<StreamTable> tables() {
        return tables;
    }

    void attach(StreamTable table) {
        tables.add(table);
    }

    /**
     * A table of this account ends (its tunnel is gone); the account goes once its last table did.
     *
     * @param table the table
     */
    void detach(StreamTable table) {
        if (tables.remove(table)) {
            shares.detached(this);
        }
    }

    void streamOpened() {
        if (streams.getAndIncrement() == 0) {
            shares.busy(1);
        }
    }

    void streamClosed() {
        if (streams.decrementAndGet() == 0) {
            shares.busy(-1);
        }
    }

    /**
     * Take received bytes for a stream's DATA; never waits. When they do not fit, {@link Shares} decides whose
     * streams are reset to make room (possibly {@code requester}).
     *
     * @param bytes a {@link MemoryBudget#round}ed charge
     * @param requester the stream the DATA is for
     * @return whether they were taken (false: the requester is to be reset, or was)
     */
    boolean takeReceived(long bytes, Stream requester) {
        if (!shares.makeRoomToReceive(this, bytes, requester)) {
            return false;
        }
        received.addAndGet(bytes);
        return true;
    }

    /**
     * Give received bytes back (written to the socket, or dropped with their stream).
     *
     * @param bytes a sum of charges taken before
     */
    void releaseReceived(long bytes) {
        if (bytes > 0) {
            received.addAndGet(-bytes);
            shares.budget().release(bytes);
        }
    }

    /**
     * Take bytes for data to send, waiting while the tenant holds its cap of the sending share ({@link Shares#sendingCap};
     * small frames have a little more, so a request beside the tenant's own bulk streams is not held up by them) or the
     * process's sending share is spent. A tenant holding nothing may always take one frame.
     *
     * @param bytes a {@link MemoryBudget#round}ed charge
     * @param small whether this is a small frame (it may use the budget's reserve for small frames)
     * @param stop whether to give up (the stream closed)
     * @return whether the bytes were taken
     */
    boolean acquireToSend(long bytes, boolean small, BooleanSupplier stop) {
        if (!reserveSending(bytes, small, stop)) {
            return false;
        }
        if (!shares.budget().acquireToSend(bytes, small, stop)) {
            unreserveSending(bytes);
            return false;
        }
        return true;
    }

    /**
     * Take bytes for data to send if both the tenant's cap and the process's sending share have them; never waits.
     *
     * @param bytes a {@link MemoryBudget#round}ed charge
     * @param small whether this is for a small frame
     * @return whether they were taken
     */
    boolean tryAcquireToSend(long bytes, boolean small) {
        long cap = shares.sendingCap(small);
        long held;
        do {
            held = sending.get();
            if (held + bytes > cap) {
                return false;
            }
        } while (!sending.compareAndSet(held, held + bytes));
        if (!shares.budget().tryAcquireToSend(bytes, small)) {
            unreserveSending(bytes);
            return false;
        }
        return true;
    }

    /**
     * Give bytes of data to send back (the frame was written or dropped, or a read buffer shrank).
     *
     * @param bytes a sum of charges taken before
     */
    void releaseSent(long bytes) {
        if (bytes > 0) {
            shares.budget().releaseSent(bytes);
            unreserveSending(bytes);
        }
    }

    private boolean reserveSending(long bytes, boolean small, BooleanSupplier stop) {
        while (true) {
            long held = sending.get();
            if (fits(held, bytes, small)) {
                if (sending.compareAndSet(held, held + bytes)) {
                    return true;
                }
                continue;
            }
            if (stop.getAsBoolean() || !awaitSendRoom(bytes, small)) {
                return false;
            }
        }
    }

    /** Whether the tenant, holding {@code held} bytes to send, may take {@code bytes} more (one frame it always may). */
    private boolean fits(long held, long bytes, boolean small) {
        return held == 0 || held + bytes <= shares.sendingCap(small);
    }

    /**
     * Wait for this tenant's bytes to send to drop (a release signals), or a while; false when interrupted (the stream
     * is closing). What was released since the caller looked is looked at again under the lock, so no release is
     * missed: one that comes later takes the lock after this thread waits on the condition, and signals it.
     */
    private boolean awaitSendRoom(long bytes, boolean small) {
        sendWaiters.incrementAndGet();
        sendLock.lock();
        try {
            if (fits(sending.get(), bytes, small)) {
                return true;
            }
            (small ? smallRoom : bulkRoom).await(MemoryBudget.SEND_WAIT_MILLIS, TimeUnit.MILLISECONDS);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            sendLock.unlock();
            sendWaiters.decrementAndGet();
        }
    }

    private void unreserveSending(long bytes) {
        sending.addAndGet(-bytes);
        // one waiter per release (it takes what it needs, the next release wakes the next): never the whole herd; a
        // small frame before any bulk one
        if (sendWaiters.get() > 0) {
            sendLock.lock();
            try {
                if (sendLock.hasWaiters(smallRoom)) {
                    smallRoom.signal();
                } else {
                    bulkRoom.signal();
                }
            } finally {
                sendLock.unlock();
            }
        }
    }

    /**
     * Take window growth for one of this tenant's streams (bin1 auto-tuning), within the tenant's cap of the growth
     * pool ({@link Shares#growthCap}). A tenant below its fair share that finds the pool spent makes the tenant
     * furthest over its share give growth back, for its next try.
     *
     * @param bytes growth wanted
     * @return whether it was taken
     */
    boolean reserveGrowth(long bytes) {
        long cap = shares.growthCap();
        long held;
        do {
            held = growth.get();
            if (held + bytes > cap) {
                return false;
            }
        } while (!growth.compareAndSet(held, held + bytes));
        if (shares.budget().reserveGrowth(bytes)) {
            return true;
        }
        growth.addAndGet(-bytes);
        shares.growthRefused(this);
        return false;
    }

    /**
     * Give window growth back (the stream ended, or its window shrank).
     *
     * @param bytes growth returned
     */
    void releaseGrowth(long bytes) {
        if (bytes > 0) {
            growth.addAndGet(-bytes);
            shares.budget().releaseGrowth(bytes);
        }
    }

    /** The open stream of this tenant that holds the most received bytes, or null when none holds any. */
    Stream largestHolder() {
        Stream best = null;
        long most = 0;
        for (StreamTable t : tables) {
            for (Stream s : t.streams()) {
                long held = s.heldBytes();
                if (held > most && !s.isClosed()) {
                    best = s;
                    most = held;
                }
            }
        }
        return best;
    }

    /** The open stream of this tenant with the largest grown window, or null when none is grown. */
    Stream largestGrown() {
        Stream best = null;
        long most = 0;
        for (StreamTable t : tables) {
            for (Stream s : t.streams()) {
                long grown = s.grownBytes();
                if (grown > most && !s.isClosed()) {
                    best = s;
                    most = grown;
                }
            }
        }
        return best;
    }

    @Override
    public String toString() {
        return "Account[" + tenant + ", streams " + streams + ", received " + received + ", sending " + sending
                + ", growth " + growth + "]";
    }
}
