package io.nowconnect.ws;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.ToIntFunction;

/**
 * The write side of a tunnel: many producers, and whoever holds the write lock owns the socket's output.
 *
 * <p>Two lanes. The <em>ordered</em> lane (DATA, FIN, OPEN) is bounded: producers block while it is full, which is
 * the back-pressure from a slow tunnel to the local sockets. The <em>urgent</em> lane (RST, pong, ping, acks, close)
 * never blocks and is written first: the tunnel's reader uses it, so a reader can never wait on its own tunnel's
 * writer (two peers whose readers both wait to write would deadlock). Items of one lane keep their order; urgent items
 * may overtake ordered ones, which is harmless for RST and control frames and why FIN stays in the ordered lane.
 *
 * <p>Threads and locks: the socket's output is written only while holding {@link #writing}. Usually the writer thread
 * holds it, draining up to a batch of queued items per call to the batch writer (many small frames, one socket
 * write). When both lanes are empty and the lock is free, a producer of an ordered item takes the lock and writes its
 * item on its own thread (one thread switch less each way for a small request); since nothing is queued at that
 * moment, nothing is overtaken. Urgent items and the last item are always written by the writer thread, so the
 * tunnel's reader never writes to the socket. {@link #lastLock} guards queuing the last item. After a write failure or
 * {@link #stop()}, every send throws {@link IllegalStateException}.
 *
 * @param <T> item type (encoded frames)
 */
final class Outbox<T> {
    private static final int BATCH_BYTES = 256 * 1024;
    /**
     * Longest park of an idle writer. Producers unpark it (see {@link #signal()}), so this is only a safety net; it is
     * long because a hub holds thousands of idle tunnels and each wake-up costs CPU.
     */
    private static final long IDLE_PARK_NANOS = 5_000_000_000L;
    /**
     * Most bytes waiting in the urgent lane. It never blocks its producers (the tunnel's reader), so a peer that keeps
     * sending but never reads would otherwise grow it without bound; beyond this the outbox fails (the tunnel ends).
     */
    static final long URGENT_LIMIT_BYTES = 4L << 20;

    /** Guards queuing the last item (not the writer's waiting: it parks, so a virtual thread never pins a carrier). */
    private final Object lastLock = new Object();
    /** Held while frames are written: by the writer thread for a batch, or by a producer writing directly. */
    private final ReentrantLock writing = new ReentrantLock();
    /** Linked, not an array: an idle tunnel (a hub holds thousands) then costs no 256-slot array. */
    private final LinkedBlockingQueue<T> ordered;
    private final ConcurrentLinkedQueue<T> urgent = new ConcurrentLinkedQueue<>();
    private final AtomicLong urgentBytes = new AtomicLong();
    private final Consumer<List<T>> batchWriter;
    private final ToIntFunction<T> size;
    private final Thread writer;
    private volatile boolean lastQueued;
    private volatile T lastItem;
    private volatile boolean idle;
    private volatile RuntimeException failure;

    private Outbox(String name, int capacity, Consumer<List<T>> batchWriter, ToIntFunction<T> size) {
        this.ordered = new LinkedBlockingQueue<>(capacity);
        this.batchWriter = batchWriter;
        this.size = size;
        this.writer = Thread.ofVirtual().name(name).start(this::writeLoop);
    }

    /**
     * Create an outbox and start its writer thread.
     *
     * @param name writer thread name
     * @param capacity most items in the ordered lane
     * @param batchWriter writes a batch of items to the socket (called on the writer thread only)
     * @param size byte size of an item, for batching
     * @param <T> item type
     * @return outbox
     */
    static <T> Outbox<T> create(String name, int capacity, Consumer<List<T>> batchWriter, ToIntFunction<T> size) {
        return new Outbox<>(name, capacity, batchWriter, size);
    }

    /**
     * Queue an item in order, blocking while the lane is full.
     *
     * @param item item
     * @throws IllegalStateException when the outbox is closed
     */
    void ordered(T item) {
        check();
        if (urgent.isEmpty() && ordered.isEmpty() && writing.tryLock()) {
            // nothing waits and the writer is not writing: write on this thread and save the hand-off (a thread
            // switch each way is most of a small request's cost). Under the lock nothing queued can be in flight, so
            // nothing is overtaken.
            try {
                if (urgent.isEmpty() && ordered.isEmpty() && lastItem == null) {
                    check();
                    writeNow(item);
                    return;
                }
            } finally {
                writing.unlock();
            }
        }
        try {
            while (!ordered.offer(item, 100, TimeUnit.MILLISECONDS)) {
                check();
            }
            check();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending", e);
        }
        signal();
    }

    /**
     * Queue an item ahead of ordered ones; never blocks.
     *
     * @param item item
     * @throws IllegalStateException when the outbox is closed
     */
    void urgent(T item) {
        check();
        if (urgentBytes.addAndGet(size.applyAsInt(item)) > URGENT_LIMIT_BYTES) {
            failure = new IllegalStateException("more than " + URGENT_LIMIT_BYTES + " bytes of urgent frames unsent: "
                                                        + "the peer does not read");
            writer.interrupt();
            check();
        }
        urgent.add(item);
        signal();
    }

    /**
     * Queue a last item (a close frame): it is written after everything queued so far, and nothing queued after it is.
     *
     * @param item item
     */
    void last(T item) {
        synchronized (lastLock) {
            if (lastQueued || failure != null) {
                return;
            }
            lastItem = item;
            lastQueued = true;
        }
        LockSupport.unpark(writer);
    }

    /** Stop the writer; pending items are dropped. */
    void stop() {
        if (failure == null) {
            failure = new IllegalStateException("tunnel writer stopped");
        }
        writer.interrupt();
    }

    /**
     * Wait until the writer thread ended, e.g. after it wrote the item queued with {@link #last}.
     *
     * @param timeout longest wait
     * @return whether the writer ended in time
     */
    boolean awaitStopped(java.time.Duration timeout) {
        try {
            return writer.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Whether the writer stopped (failed, stopped or wrote its last item).
     *
     * @return true when no more items are written
     */
    boolean isClosed() {
        return failure != null;
    }

    private void check() {
        RuntimeException f = failure;
        if (f != null) {
            throw new IllegalStateException("tunnel writer closed", f);
        }
        if (lastQueued) {
            throw new IllegalStateException("tunnel closing");
        }
    }

    private void signal() {
        // the writer publishes idle before its last look at the lanes, so a producer that sees idle false has queued
        // before that look
        if (idle) {
            LockSupport.unpark(writer);
        }
    }

    private void writeLoop() {
        List<T> batch = new ArrayList<>();
        try {
            while (true) {
                while (urgent.isEmpty() && ordered.isEmpty() && lastItem == null) {
                    idle = true;
                    // re-check after publishing idle: a producer that missed it has queued by now
                    if (urgent.isEmpty() && ordered.isEmpty() && lastItem == null) {
                        LockSupport.parkNanos(this, IDLE_PARK_NANOS);
                    }
                    idle = false;
                    if (Thread.interrupted()) {
                        throw new InterruptedException();
                    }
                }
                writing.lockInterruptibly();
                try {
                    if (writeBatch(batch)) {
                        return;
                    }
                } finally {
                    writing.unlock();
                }
            }
        } catch (InterruptedException e) {
            // stopped
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            if (failure == null) {
                failure = new IllegalStateException("tunnel closed");
            }
            ordered.clear();
            urgent.clear();
        }
    }

    /** Writer thread, holding the write lock: write what is queued; true after the last item. */
    private boolean writeBatch(List<T> batch) {
        batch.clear();
        T item;
        while ((item = urgent.poll()) != null) {
            urgentBytes.addAndGet(-size.applyAsInt(item));
            batch.add(item);
        }
        T lastOne = lastItem;
        boolean last = lastOne != null;
        int bytes = 0;
        // before the last item (a close frame) everything already queued goes out: a graceful close must not
        // lose the FIN or the final DATA of a stream; no new item is accepted once the last one is queued
        while ((last || bytes < BATCH_BYTES) && (item = ordered.poll()) != null) {
            batch.add(item);
            bytes += size.applyAsInt(item);
        }
        if (last) {
            batch.add(lastOne);
        }
        if (!batch.isEmpty()) {
            batchWriter.accept(batch);
        }
        if (last) {
            failure = new IllegalStateException("tunnel closed");
        }
        return last;
    }

    /** A producer, holding the write lock: write one item; a failure closes the outbox like a writer failure. */
    private void writeNow(T item) {
        try {
            batchWriter.accept(List.of(item));
        } catch (RuntimeException e) {
            failure = e;
            writer.interrupt();
            throw new IllegalStateException("tunnel writer closed", e);
        }
    }
}
