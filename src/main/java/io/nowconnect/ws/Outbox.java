package io.nowconnect.ws;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;

/**
 * The write side of a tunnel: many producers, one socket output. It keeps the two lanes, the writer thread and the
 * close order; which ordered frame goes next is its {@link FrameScheduler}'s choice.
 *
 * <p>Two lanes. The <em>ordered</em> lane (DATA, FIN, OPEN) keeps one queue per stream in the scheduler: items of a
 * queue keep their order, and a producer blocks while its own queue holds {@link #QUEUE_LIMIT_BYTES} or more, which is
 * the back-pressure from a slow tunnel to one local socket without holding up any other. The <em>urgent</em> lane (RST,
 * pong, ping, WINDOW, close) never blocks and is written first: the tunnel's reader uses it, so a reader can never
 * wait on its own tunnel's writer (two peers whose readers both wait to write would deadlock). Urgent items may overtake
 * ordered ones, which is harmless for RST and control frames and why FIN stays in the ordered lane. The urgent lane
 * holds at most {@link #URGENT_LIMIT_BYTES}; beyond that the outbox fails. The <em>last</em> item (the close frame) is
 * written after everything queued before it, and nothing queued after it is accepted.
 *
 * <p>Memory: every ordered item comes with a {@code taken} callback, run exactly once when the item is written,
 * discarded or refused; the stream that queued it gives its charge of the memory budget back then. Items queued
 * across all queues are thus bounded by the process's memory budget, and per queue by {@link #QUEUE_LIMIT_BYTES} (one
 * item always fits).
 *
 * <p>Who writes the socket: only the holder of {@link #writing}. Usually that is the writer thread (a virtual thread
 * started with the first item, ending after {@link #IDLE_EXIT_NANOS} idle), which drains up to a batch of queued items
 * per call to the batch writer (many small frames, one socket write). But when both lanes are empty and the lock is
 * free, the producer of an ordered item takes the lock and writes its item on its own thread: the <em>direct
 * write</em>, one thread switch less each way for a small request (it keeps its place by measurement: 100-byte round
 * trips through two outboxes over loopback took a median 73-98 us with it and 113-129 us without, three runs each on a
 * loaded 2-core machine); since nothing is queued at that moment, nothing is overtaken. So any thread that sends an
 * ordered frame (a stream's socket reader, the hub's thread for an accepted client sending OPEN) may be the socket's
 * writer for the length of one write, and <strong>nobody may interrupt such a thread</strong>: an interrupt of a
 * virtual thread blocked in a socket write closes the socket, which would end the tunnel and every stream on it (commit
 * b57bc7f). A closing stream therefore wakes its socket reader by other means ({@code FlowControl.close}, the budget's
 * {@code stop} check); only the writer thread is interrupted, and only to end the outbox. Urgent items and the last
 * item are always written by the writer thread, so the tunnel's reader never writes to the socket.
 *
 * <p>Pacing: what the writer has written and the peer has not yet read is kept within its {@link Pacer}'s window (a
 * queueing delay of about 20 ms), so bulk waits here, where the scheduler may let a new stream or another connector
 * go first, instead of in the kernel's socket buffers, where nothing can. The writer appends the pacer's probes (pings)
 * to its batches and, while the window is full, waits for the probe's pong ({@link #answered}) or an item the pacer
 * does not hold back (urgent ones, the one small item of a group that had nothing queued). A direct write of a bulk
 * item happens only within the window.
 *
 * <p>Locks: {@link #writing} (held while writing), {@link #queueLock} (guards the scheduler and the waiting producers;
 * held briefly, never while writing; a producer waits for room on its condition) and {@link #lastLock} (guards queuing
 * the last item). The urgent lane is a concurrent queue; the writer thread, the failure and the last item are atomics
 * and volatiles. After a write failure or {@link #stop()}, every send throws {@link IllegalStateException}.
 *
 * @param <T> item type (encoded frames)
 */
final class Outbox<T> {
    private static final int BATCH_BYTES = 256 * 1024;
    /** A producer waits while its queue holds this many bytes (one item always fits). */
    static final int QUEUE_LIMIT_BYTES = 128 * 1024;
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
    /** The queue of ordered items that belong to no stream. */
    private static final Object CONTROL_QUEUE = new Object();

    /** Guards queuing the last item (not the writer's waiting: it parks, so a virtual thread never pins a carrier). */
    private final Object lastLock = new Object();
    /** Held while frames are written: by the writer thread for a batch, or by a producer writing directly. */
    private final ReentrantLock writing = new ReentrantLock();
    /** Guards {@link #scheduler} and {@link #waiting}. */
    private final ReentrantLock queueLock = new ReentrantLock();
    private final FrameScheduler<T> scheduler = new FrameScheduler<>();
    /** Producers waiting for room, by queue; empty on a tunnel that is not busy. */
    private final Map<Object, Waiting> waiting = new HashMap<>();
    /** Items in the ordered lane (read without the queue lock to tell whether it is empty). */
    private final AtomicInteger orderedCount = new AtomicInteger();
    private final ConcurrentLinkedQueue<T> urgent = new ConcurrentLinkedQueue<>();
    private final AtomicLong urgentBytes = new AtomicLong();
    private final Consumer<List<T>> batchWriter;
    private final ToIntFunction<T> size;
    private final String name;
    /** Makes a probe (a ping with the given payload); null when this outbox does not pace. */
    private final Function<byte[], T> pinger;
    /**
     * The pacer, made with the first ordered item (a hub's thousands of idle tunnels, which only exchange pings, hold
     * none); stays null when this outbox does not pace.
     */
    private volatile Pacer pacer;
    private volatile long probeTimeoutNanos = Pacer.PROBE_TIMEOUT_NANOS;
    /** Bytes of a probe's item. */
    private final int probeBytes;
    /** The writer thread while one runs, else null; set by whoever starts one, cleared by the writer as it ends. */
    private final AtomicReference<Thread> writer = new AtomicReference<>();
    /** Counted down once nothing more will be written: the last item went out, or the outbox failed or stopped. */
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile boolean lastQueued;
    private volatile T lastItem;
    private volatile boolean idle;
    /** The writer waits for its pacer (a pong), not for items: only an item the pacer lets through should wake it. */
    private volatile boolean held;
    private volatile RuntimeException failure;

    private Outbox(String name, Consumer<List<T>> batchWriter, ToIntFunction<T> size, Function<byte[], T> pinger) {
        this.batchWriter = batchWriter;
        this.size = size;
        this.name = name;
        this.pinger = pinger;
        this.probeBytes = pinger == null ? 0 : size.applyAsInt(pinger.apply(new byte[8]));
    }

    /**
     * Create an outbox; its writer thread starts with the first item that needs it.
     *
     * @param name writer thread name
     * @param batchWriter writes a batch of items to the socket (called only while holding the write lock)
     * @param size byte size of an item, for batching
     * @param <T> item type
     * @return outbox
     */
    static <T> Outbox<T> create(String name, Consumer<List<T>> batchWriter, ToIntFunction<T> size) {
        return new Outbox<>(name, batchWriter, size, null);
    }

    /**
     * Create an outbox that paces what it has in flight ({@link Pacer}); its writer thread starts with the first item
     * that needs it.
     *
     * @param name writer thread name
     * @param batchWriter writes a batch of items to the socket (called only while holding the write lock)
     * @param size byte size of an item, for batching
     * @param pinger makes a ping item with the given 8-byte payload (the pacer's probe; the peer's pong goes to
     *               {@link #answered})
     * @param <T> item type
     * @return outbox
     */
    static <T> Outbox<T> paced(String name, Consumer<List<T>> batchWriter, ToIntFunction<T> size,
                               Function<byte[], T> pinger) {
        return new Outbox<>(name, batchWriter, size, pinger);
    }

    /**
     * The tunnel's reader: a pong arrived. When it answers the pacer's probe, the writer may have room again.
     *
     * @param payload the pong's payload
     */
    void answered(byte[] payload) {
        Pacer p = pacer;
        if (p != null && p.answered(payload, System.nanoTime())) {
            wake();
        }
    }

    /**
     * How long the pacer's probe may go unanswered before pacing turns off ({@link Pacer#probeTimeout}).
     *
     * @param nanos the wait
     */
    void probeTimeout(long nanos) {
        probeTimeoutNanos = nanos;
        Pacer p = pacer;
        if (p != null) {
            p.probeTimeout(nanos);
        }
    }

    /**
     * Whether the pacer turned itself off because the peer left a probe unanswered.
     *
     * @return true once it did
     */
    boolean pacingGaveUp() {
        Pacer p = pacer;
        return p != null && p.gaveUp();
    }

    /**
     * The pacer, made now if there is none yet (tests and diagnosis).
     *
     * @return pacer, null when this outbox does not pace
     */
    Pacer pacer() {
        return pacerForOrdered();
    }

    /** The pacer, made with the first ordered item; null when this outbox does not pace. */
    private Pacer pacerForOrdered() {
        if (pinger == null) {
            return null;
        }
        Pacer p = pacer;
        if (p == null) {
            synchronized (this) {
                p = pacer;
                if (p == null) {
                    p = Pacer.create();
                    p.probeTimeout(probeTimeoutNanos);
                    pacer = p;
                }
            }
        }
        return p;
    }

    /**
     * Queue an item in its queue's order, blocking while that queue holds {@link #QUEUE_LIMIT_BYTES} or more; written
     * on this thread when nothing is queued and nothing is being written (the direct write, see the class comment).
     *
     * @param queue the queue (a stream's id; null for frames of no stream); items of one queue keep their order
     * @param item item
     * @param taken run exactly once: when the item was written, discarded or refused (before this throws); may be null
     * @throws IllegalStateException when the outbox is closed
     */
    void ordered(Object queue, T item, Runnable taken) {
        ordered(queue, null, item, taken);
    }

    /**
     * Queue an item in its queue's order, in a group of queues ({@link FrameScheduler}); otherwise like
     * {@link #ordered(Object, Object, Runnable)}.
     *
     * @param queue the queue (a stream's id; null for frames of no stream); items of one queue keep their order
     * @param group the queue's group (its connector), or null
     * @param item item
     * @param taken run exactly once: when the item was written, discarded or refused (before this throws); may be null
     * @throws IllegalStateException when the outbox is closed
     */
    void ordered(Object queue, Object group, T item, Runnable taken) {
        ordered(queue, group, () -> item, size.applyAsInt(item), () -> batchWriter.accept(List.of(item)), taken);
    }

    /**
     * Queue an item in its queue's order like {@link #ordered(Object, Object, Runnable)}, but built only when it is
     * queued: the direct write runs {@code direct} instead, which writes the same bytes to the socket without making an
     * item of them (no array of its own for a frame that goes out at once).
     *
     * @param queue the queue (a stream's id; null for frames of no stream); items of one queue keep their order
     * @param group the queue's group (its connector), or null
     * @param item builds the item, when it is queued
     * @param bytes the item's size
     * @param direct writes the item's bytes to the socket, called while holding the write lock
     * @param taken run exactly once: when the item was written, discarded or refused (before this throws); may be null
     * @throws IllegalStateException when the outbox is closed
     */
    void ordered(Object queue, Object group, Supplier<T> item, int bytes, Runnable direct, Runnable taken) {
        boolean fresh;
        try {
            check();
            if (urgent.isEmpty() && orderedCount.get() == 0 && writing.tryLock()) {
                // nothing waits and the writer is not writing: write on this thread and save the hand-off (a thread
                // switch each way is most of a small request's cost). Under the lock nothing queued can be in flight,
                // so nothing is overtaken. A small item is what pacing lets through anyway (its group had nothing
                // queued); a bulk one only within the window.
                try {
                    Pacer p = bytes <= FrameScheduler.SMALL_ITEM ? pacer : pacerForOrdered();
                    if (urgent.isEmpty() && orderedCount.get() == 0 && lastItem == null
                            && (p == null || bytes <= FrameScheduler.SMALL_ITEM
                                    || p.mayWriteDirect(bytes, System.nanoTime()))) {
                        check();
                        writeNow(direct);
                        if (p != null) {
                            p.wrote(bytes);
                        }
                        return;
                    }
                } finally {
                    writing.unlock();
                }
            }
            pacerForOrdered();
            fresh = enqueue(queue, group, item.get(), taken);
            taken = null;
        } finally {
            if (taken != null) {
                taken.run();
            }
        }
        signal(fresh);
    }

    /**
     * Queue an item in order without a queue of its own (frames that belong to no stream).
     *
     * @param item item
     * @throws IllegalStateException when the outbox is closed
     */
    void ordered(T item) {
        ordered(CONTROL_QUEUE, item, null);
    }

    /**
     * The producer's part of {@link #ordered}: wait for room in the queue, then add the item to it.
     *
     * @return whether the item's group had nothing queued (pacing lets its one small item through)
     */
    private boolean enqueue(Object queue, Object group, T item, Runnable taken) {
        int bytes = size.applyAsInt(item);
        Object key = queue == null ? CONTROL_QUEUE : queue;
        queueLock.lock();
        Waiting w = null;
        try {
            while (scheduler.queuedBytes(key) >= QUEUE_LIMIT_BYTES) {
                if (w == null) {
                    w = waiting.computeIfAbsent(key, k -> new Waiting(queueLock.newCondition()));
                    w.producers++;
                }
                // every way the outbox closes signals it; the timeout is only a safety net
                w.space.awaitNanos(1_000_000_000L);
                check();
            }
            check();
            boolean fresh = scheduler.add(key, group, item, bytes, taken);
            orderedCount.incrementAndGet();
            return fresh;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending", e);
        } finally {
            if (w != null && --w.producers == 0) {
                waiting.remove(key);
            }
            queueLock.unlock();
        }
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
        wakeWaitingProducers();
        if (!interruptWriter()) {
            // no writer runs: nobody else clears the lanes
            discardQueued();
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
        signal(true);
    }

    /**
     * A producer queued an item: make sure a writer runs and sees it.
     *
     * @param fresh whether the pacer lets it through while the window is full (else a writer held by the pacer stays)
     */
    private void signal(boolean fresh) {
        Thread w = writer.get();
        if (w == null) {
            startWriter();
        } else if (idle && (fresh || !held)) {
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
        return urgent.isEmpty() && orderedCount.get() == 0 && lastItem == null;
    }

    /**
     * Writer, with items queued: how long the pacer holds them all back (waiting for its probe's pong), or 0 when
     * something may be written now (an urgent or last item, room in the window, a group's first small item, a probe to
     * send).
     */
    private long heldNanos() {
        if (!urgent.isEmpty() || lastItem != null || failure != null) {
            return 0;
        }
        Pacer p = pacer;
        if (p == null) {
            return 0;
        }
        long now = System.nanoTime();
        if (p.allowance(now) > 0) {
            return 0;
        }
        long wait = p.waitNanos(now);
        if (wait == 0) {
            return 0;
        }
        queueLock.lock();
        try {
            return scheduler.hasNew() ? 0 : wait;
        } finally {
            queueLock.unlock();
        }
    }

    private void writeLoop() {
        Thread self = Thread.currentThread();
        List<T> batch = new ArrayList<>();
        boolean done = false;
        try {
            while (true) {
                long idleSince = System.nanoTime();
                while (true) {
                    if (!lanesEmpty()) {
                        long wait = heldNanos();
                        if (wait == 0) {
                            break;
                        }
                        // queued items, but the pacer's window is full: wait for the probe's pong, or an item the
                        // pacer lets through (published before the last look, as for idle)
                        held = true;
                        idle = true;
                        if (heldNanos() > 0) {
                            LockSupport.parkNanos(this, wait);
                        }
                        idle = false;
                        held = false;
                        if (Thread.interrupted()) {
                            throw new InterruptedException();
                        }
                        idleSince = System.nanoTime();
                        continue;
                    }
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
                discardQueued();
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
        Pacer p = pacer;
        long now = System.nanoTime();
        // before the last item (a close frame) everything already queued goes out: a graceful close must not
        // lose the FIN or the final DATA of a stream; no new item is accepted once the last one is queued
        List<Runnable> taken = takeOrdered(batch, last ? Integer.MAX_VALUE : BATCH_BYTES,
                                           last || p == null ? Long.MAX_VALUE : p.allowance(now));
        long bytes = 0;
        for (T t : batch) {
            bytes += size.applyAsInt(t);
        }
        if (last) {
            batch.add(lastOne);
        } else if (p != null) {
            byte[] probe = p.probe(bytes, probeBytes, now);
            if (probe != null) {
                batch.add(pinger.apply(probe));
                bytes += probeBytes;
            }
        }
        try {
            if (!batch.isEmpty()) {
                batchWriter.accept(batch);
                if (p != null) {
                    p.wrote(bytes);
                }
            }
        } finally {
            taken.forEach(Runnable::run);
        }
        if (last) {
            failure = new IllegalStateException("tunnel closed");
        }
        return last;
    }

    /**
     * Move up to {@code maxBytes} of ordered items into the batch, in the scheduler's order and within the pacer's
     * allowance, and wake a producer whose queue has room again.
     *
     * @return the items' {@code taken} callbacks, to run once the batch was written
     */
    private List<Runnable> takeOrdered(List<T> batch, int maxBytes, long allowance) {
        if (orderedCount.get() == 0) {
            return List.of();
        }
        List<Runnable> taken = new ArrayList<>();
        queueLock.lock();
        try {
            int before = batch.size();
            scheduler.take(batch, taken, maxBytes, allowance, this::drainedLocked);
            orderedCount.addAndGet(before - batch.size());
        } finally {
            queueLock.unlock();
        }
        return taken;
    }

    /** Under the queue lock: an item left a queue; a producer waiting there goes on once the queue has room. */
    private void drainedLocked(Object key, int bytesLeft) {
        if (bytesLeft < QUEUE_LIMIT_BYTES && !waiting.isEmpty()) {
            Waiting w = waiting.get(key);
            if (w != null) {
                w.space.signal();
            }
        }
    }

    /** Wake producers waiting for room in their queue, so they see the failure. */
    private void wakeWaitingProducers() {
        queueLock.lock();
        try {
            for (Waiting w : waiting.values()) {
                w.space.signalAll();
            }
        } finally {
            queueLock.unlock();
        }
    }

    /** Drop everything queued (the outbox failed or stopped), running every dropped item's {@code taken}. */
    private void discardQueued() {
        urgent.clear();
        urgentBytes.set(0);
        List<Runnable> taken = new ArrayList<>();
        queueLock.lock();
        try {
            scheduler.clear(taken);
            orderedCount.set(0);
        } finally {
            queueLock.unlock();
        }
        wakeWaitingProducers();
        taken.forEach(Runnable::run);
    }

    /** A producer, holding the write lock: write one item; a failure closes the outbox like a writer failure. */
    private void writeNow(Runnable direct) {
        try {
            direct.run();
        } catch (RuntimeException e) {
            failure = e;
            wakeWaitingProducers();
            if (!interruptWriter()) {
                finished.countDown();
            }
            throw new IllegalStateException("tunnel writer closed", e);
        }
    }

    /** The producers waiting for room in one queue; guarded by {@link #queueLock}. */
    private static final class Waiting {
        final Condition space;
        int producers;

        Waiting(Condition space) {
            this.space = space;
        }
    }
}
