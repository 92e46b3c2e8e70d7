package io.nowconnect.ws;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
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
     * How long an idle writer thread waits for work before it ends; the next item starts a new one. A hub holds
     * thousands of mostly idle tunnels: none of them keeps a parked thread (and its stack) for nothing.
     */
    private static final long IDLE_EXIT_NANOS = 2_000_000_000L;
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
    private final String name;
    /** The writer thread while one runs, else null; set by whoever starts one, cleared by the writer as it ends. */
    private final AtomicReference<Thread> writer = new AtomicReference<>();
    /** Counted down once nothing more will be written: the last item went out, or the outbox failed or stopped. */
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile boolean lastQueued;
    private volatile T lastItem;
    private volatile boolean idle;
    private volatile RuntimeException failure;

    private Outbox(String name, int capacity, Consumer<List<T>> batchWriter, ToIntFunction<T> size) {
        this.ordered = new LinkedBlockingQueue<>(capacity);
        this.batchWriter = batchWriter;
        this.size = size;
        this.name = name;
    }

    /**
     * Create an outbox; its writer thread starts with the first item that needs it.
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
            interruptWriter();
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
        wake();
    }

    /** Stop the writer; pending items are dropped. */
    void stop() {
        if (failure == null) {
            failure = new IllegalStateException("tunnel writer stopped");
        }
        if (!interruptWriter()) {
            // no writer runs: nobody else clears the lanes
            ordered.clear();
            urgent.clear();
            finished.countDown();
        }
    }

    /**
     * Wait until nothing more will be written, e.g. after the item queued with {@link #last} went out.
     *
     * @param timeout longest wait
     * @return whether the outbox finished in time
     */
    boolean awaitStopped(java.time.Duration timeout) {
        try {
            return finished.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
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

    /** A producer queued an item: make sure a writer runs and sees it. */
    private void signal() {
        Thread w = writer.get();
        if (w == null) {
            startWriter();
        } else if (idle) {
            // the writer publishes idle before its last look at the lanes, so a producer that sees idle false has
            // queued before that look
            LockSupport.unpark(w);
        }
    }

    /** Start a writer, or wake the one that runs. */
    private void wake() {
        Thread w = writer.get();
        if (w == null) {
            startWriter();
        } else {
            LockSupport.unpark(w);
        }
    }

    private void startWriter() {
        Thread t = Thread.ofVirtual().name(name).unstarted(this::writeLoop);
        if (writer.compareAndSet(null, t)) {
            t.start();
        } else {
            Thread w = writer.get();
            if (w != null) {
                LockSupport.unpark(w);
            }
        }
    }

    /**
     * Interrupt the writer, if one runs.
     *
     * @return whether one ran
     */
    private boolean interruptWriter() {
        Thread w = writer.get();
        if (w != null) {
            w.interrupt();
            return true;
        }
        return false;
    }

    private boolean lanesEmpty() {
        return urgent.isEmpty() && ordered.isEmpty() && lastItem == null;
    }

    private void writeLoop() {
        Thread self = Thread.currentThread();
        List<T> batch = new ArrayList<>();
        boolean done = false;
        try {
            while (true) {
                long idleSince = System.nanoTime();
                while (lanesEmpty()) {
                    if (failure != null) {
                        // stopped while no writer ran, or the last item went out on another writer
                        return;
                    }
                    idle = true;
                    // re-check after publishing idle: a producer that missed it has queued by now
                    if (lanesEmpty()) {
                        LockSupport.parkNanos(this, IDLE_EXIT_NANOS);
                    }
                    idle = false;
                    if (Thread.interrupted()) {
                        throw new InterruptedException();
                    }
                    if (lanesEmpty() && System.nanoTime() - idleSince >= IDLE_EXIT_NANOS) {
                        // idle for long: end this thread; a producer that queued meanwhile saw it still registered
                        // (and queued before this look), or finds none and starts another
                        writer.compareAndSet(self, null);
                        if (lanesEmpty() || !writer.compareAndSet(null, self)) {
                            return;
                        }
                        idleSince = System.nanoTime();
                    }
                }
                writing.lockInterruptibly();
                try {
                    if (writeBatch(batch)) {
                        done = true;
                        return;
                    }
                } finally {
                    writing.unlock();
                }
            }
        } catch (InterruptedException e) {
            done = true;
        } catch (RuntimeException e) {
            failure = e;
            done = true;
        } finally {
            if (done || failure != null) {
                if (failure == null) {
                    failure = new IllegalStateException("tunnel closed");
                }
                ordered.clear();
                urgent.clear();
                finished.countDown();
            }
            writer.compareAndSet(self, null);
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
            if (!interruptWriter()) {
                finished.countDown();
            }
            throw new IllegalStateException("tunnel writer closed", e);
        }
    }
}
