package io.nowconnect.ws;

import java.util.ArrayDeque;
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
import java.util.function.ToIntFunction;

/**
 * The write side of a tunnel: many producers, and whoever holds the write lock owns the socket's output.
 *
 * <p>Two lanes. The <em>ordered</em> lane (DATA, FIN, OPEN) keeps one queue per <em>flow</em> (a stream): items of a
 * flow keep their order, and a producer blocks while its own flow holds {@link #FLOW_LIMIT_BYTES} or more, which is the
 * back-pressure from a slow tunnel to one local socket without holding up any other. The <em>urgent</em> lane (RST,
 * pong, ping, acks, close) never blocks and is written first: the tunnel's reader uses it, so a reader can never wait
 * on its own tunnel's writer (two peers whose readers both wait to write would deadlock). Urgent items may overtake
 * ordered ones, which is harmless for RST and control frames and why FIN stays in the ordered lane.
 *
 * <p>Scheduling between flows (after fq_codel, RFC 8290 section 4, and deficit round robin): a flow that had nothing
 * queued and queues a small item ({@link #SMALL_ITEM} bytes at most: a request, an answer, a keystroke) goes on the
 * <em>new</em> list, served before everything else; other flows take turns on the <em>old</em> list, each sending up
 * to {@link #QUANTUM} bytes per turn. So an interactive stream beside thousands of bulk ones waits for at most the
 * batch in progress and the other new flows (each with one small item), not for the bulk queued before it; and bulk
 * streams share the tunnel evenly. A flow leaves both lists once it has nothing queued.
 *
 * <p>Memory: every ordered item comes with a {@code taken} callback, run exactly once when the item is written,
 * discarded or refused; the stream that queued it gives its charge of the memory budget back then. Items queued
 * across all flows are thus bounded by the process's memory budget, and per flow by {@link #FLOW_LIMIT_BYTES} (one
 * item always fits).
 *
 * <p>Threads and locks: the socket's output is written only while holding {@link #writing}. Usually the writer thread
 * holds it, draining up to a batch of queued items per call to the batch writer (many small frames, one socket
 * write). When both lanes are empty and the lock is free, a producer of an ordered item takes the lock and writes its
 * item on its own thread (one thread switch less each way for a small request); since nothing is queued at that
 * moment, nothing is overtaken. Urgent items and the last item are always written by the writer thread, so the
 * tunnel's reader never writes to the socket. {@link #laneLock} guards the flows and their lists (held briefly, never
 * while writing); {@link #lastLock} guards queuing the last item. After a write failure or {@link #stop()}, every send
 * throws {@link IllegalStateException}.
 *
 * @param <T> item type (encoded frames)
 */
final class Outbox<T> {
    private static final int BATCH_BYTES = 256 * 1024;
    /** A producer waits while its flow holds this many bytes (one item always fits). */
    static final int FLOW_LIMIT_BYTES = 128 * 1024;
    /** Bytes a flow on the old list may send per turn. */
    static final int QUANTUM = 16 * 1024;
    /** Largest item (frame bytes) that puts a flow that had nothing queued on the new list. */
    static final int SMALL_ITEM = 4 * 1024;
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
    /** Guards {@link #flows}, {@link #newFlows}, {@link #oldFlows} and every {@link Flow}'s fields. */
    private final ReentrantLock laneLock = new ReentrantLock();
    /** Flows with items queued or a producer waiting; empty (no allocation kept) on an idle tunnel. */
    private final Map<Object, Flow<T>> flows = new HashMap<>();
    /** Small until used: a hub holds thousands of idle tunnels (the deques grow as flows queue). */
    private final ArrayDeque<Flow<T>> newFlows = new ArrayDeque<>(1);
    private final ArrayDeque<Flow<T>> oldFlows = new ArrayDeque<>(1);
    /** Items in the ordered lane (read without the lane lock to tell whether it is empty). */
    private final AtomicInteger orderedCount = new AtomicInteger();
    private final ConcurrentLinkedQueue<T> urgent = new ConcurrentLinkedQueue<>();
    private final AtomicLong urgentBytes = new AtomicLong();
    private final Consumer<List<T>> batchWriter;
    private final ToIntFunction<T> size;
    private final String name;
    /** The flow of ordered items that belong to no stream. */
    private static final Object CONTROL_FLOW = new Object();
    /** The writer thread while one runs, else null; set by whoever starts one, cleared by the writer as it ends. */
    private final AtomicReference<Thread> writer = new AtomicReference<>();
    /** Counted down once nothing more will be written: the last item went out, or the outbox failed or stopped. */
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile boolean lastQueued;
    private volatile T lastItem;
    private volatile boolean idle;
    private volatile RuntimeException failure;

    private Outbox(String name, Consumer<List<T>> batchWriter, ToIntFunction<T> size) {
        this.batchWriter = batchWriter;
        this.size = size;
        this.name = name;
    }

    /**
     * Create an outbox; its writer thread starts with the first item that needs it.
     *
     * @param name writer thread name
     * @param batchWriter writes a batch of items to the socket (called on the writer thread only)
     * @param size byte size of an item, for batching
     * @param <T> item type
     * @return outbox
     */
    static <T> Outbox<T> create(String name, Consumer<List<T>> batchWriter, ToIntFunction<T> size) {
        return new Outbox<>(name, batchWriter, size);
    }

    /**
     * Queue an item in its flow's order, blocking while that flow holds {@link #FLOW_LIMIT_BYTES} or more.
     *
     * @param flow the flow (a stream's id; null for frames of no stream); items of one flow keep their order
     * @param item item
     * @param taken run exactly once: when the item was written, discarded or refused (before this throws); may be null
     * @throws IllegalStateException when the outbox is closed
     */
    void ordered(Object flow, T item, Runnable taken) {
        try {
            check();
            if (urgent.isEmpty() && orderedCount.get() == 0 && writing.tryLock()) {
                // nothing waits and the writer is not writing: write on this thread and save the hand-off (a thread
                // switch each way is most of a small request's cost). Under the lock nothing queued can be in flight,
                // so nothing is overtaken.
                try {
                    if (urgent.isEmpty() && orderedCount.get() == 0 && lastItem == null) {
                        check();
                        writeNow(item);
                        return;
                    }
                } finally {
                    writing.unlock();
                }
            }
            enqueue(flow, item, taken);
            taken = null;
        } finally {
            if (taken != null) {
                taken.run();
            }
        }
        signal();
    }

    /**
     * Queue an item in order without a flow of its own (frames that belong to no stream).
     *
     * @param item item
     * @throws IllegalStateException when the outbox is closed
     */
    void ordered(T item) {
        ordered(CONTROL_FLOW, item, null);
    }

    /** The producer's part of {@link #ordered}: wait for room in the flow, then add the item to it. */
    private void enqueue(Object key, T item, Runnable taken) {
        int bytes = size.applyAsInt(item);
        Object k = key == null ? CONTROL_FLOW : key;
        laneLock.lock();
        Flow<T> flow = flows.computeIfAbsent(k, Flow::new);
        flow.waiting++;
        try {
            while (flow.bytes >= FLOW_LIMIT_BYTES && !flow.items.isEmpty()) {
                if (flow.space == null) {
                    flow.space = laneLock.newCondition();
                }
                // every way the outbox closes signals it; the timeout is only a safety net
                flow.space.awaitNanos(1_000_000_000L);
                check();
            }
            check();
            flow.items.addLast(new Entry<>(item, bytes, taken));
            flow.bytes += bytes;
            orderedCount.incrementAndGet();
            if (flow.list == Flow.NONE) {
                flow.deficit = QUANTUM;
                if (bytes <= SMALL_ITEM) {
                    flow.list = Flow.NEW;
                    newFlows.addLast(flow);
                } else {
                    flow.list = Flow.OLD;
                    oldFlows.addLast(flow);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending", e);
        } finally {
            flow.waiting--;
            forgetIfIdleLocked(flow);
            laneLock.unlock();
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
        return urgent.isEmpty() && orderedCount.get() == 0 && lastItem == null;
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
        // before the last item (a close frame) everything already queued goes out: a graceful close must not
        // lose the FIN or the final DATA of a stream; no new item is accepted once the last one is queued
        List<Runnable> taken = takeOrdered(batch, last ? Integer.MAX_VALUE : BATCH_BYTES);
        if (last) {
            batch.add(lastOne);
        }
        try {
            if (!batch.isEmpty()) {
                batchWriter.accept(batch);
            }
        } finally {
            runAll(taken);
        }
        if (last) {
            failure = new IllegalStateException("tunnel closed");
        }
        return last;
    }

    /**
     * Move up to {@code maxBytes} of ordered items into the batch (at least one when any is queued): new flows first,
     * then old flows by deficit round robin.
     *
     * @return the items' {@code taken} callbacks, to run once the batch was written
     */
    private List<Runnable> takeOrdered(List<T> batch, int maxBytes) {
        if (orderedCount.get() == 0) {
            return List.of();
        }
        List<Runnable> taken = new ArrayList<>();
        int bytes = 0;
        laneLock.lock();
        try {
            while (bytes < maxBytes) {
                ArrayDeque<Flow<T>> list = newFlows.isEmpty() ? oldFlows : newFlows;
                Flow<T> flow = list.peekFirst();
                if (flow == null) {
                    break;
                }
                if (flow.deficit <= 0) {
                    // its turn is used up: to the end of the old list with a new quantum
                    list.pollFirst();
                    flow.deficit += QUANTUM;
                    flow.list = Flow.OLD;
                    oldFlows.addLast(flow);
                    continue;
                }
                Entry<T> e = flow.items.pollFirst();
                if (e == null) {
                    list.pollFirst();
                    flow.list = Flow.NONE;
                    forgetIfIdleLocked(flow);
                    continue;
                }
                orderedCount.decrementAndGet();
                flow.bytes -= e.bytes;
                flow.deficit -= e.bytes;
                batch.add(e.item);
                if (e.taken != null) {
                    taken.add(e.taken);
                }
                bytes += e.bytes;
                if (flow.items.isEmpty()) {
                    list.pollFirst();
                    flow.list = Flow.NONE;
                    forgetIfIdleLocked(flow);
                } else if (list == newFlows) {
                    // more than one small item: it goes on as an old flow
                    newFlows.pollFirst();
                    flow.list = Flow.OLD;
                    oldFlows.addLast(flow);
                }
                if (flow.space != null && flow.bytes < FLOW_LIMIT_BYTES) {
                    flow.space.signal();
                }
            }
        } finally {
            laneLock.unlock();
        }
        return taken;
    }

    /** Under the lane lock: drop a flow with nothing queued, on no list and with no producer waiting. */
    private void forgetIfIdleLocked(Flow<T> flow) {
        if (flow.items.isEmpty() && flow.waiting == 0 && flow.list == Flow.NONE) {
            flows.remove(flow.key, flow);
        }
    }

    /** Wake producers waiting for room in their flow, so they see the failure. */
    private void wakeWaitingProducers() {
        laneLock.lock();
        try {
            for (Flow<T> flow : flows.values()) {
                if (flow.space != null) {
                    flow.space.signalAll();
                }
            }
        } finally {
            laneLock.unlock();
        }
    }

    /** Drop everything queued (the outbox failed or stopped), running every dropped item's {@code taken}. */
    private void discardQueued() {
        urgent.clear();
        urgentBytes.set(0);
        List<Runnable> taken = new ArrayList<>();
        laneLock.lock();
        try {
            for (Flow<T> flow : flows.values()) {
                for (Entry<T> e : flow.items) {
                    if (e.taken != null) {
                        taken.add(e.taken);
                    }
                }
                flow.items.clear();
                flow.bytes = 0;
                flow.list = Flow.NONE;
                if (flow.space != null) {
                    flow.space.signalAll();
                }
            }
            flows.values().removeIf(f -> f.waiting == 0);
            newFlows.clear();
            oldFlows.clear();
            orderedCount.set(0);
        } finally {
            laneLock.unlock();
        }
        runAll(taken);
    }

    private static void runAll(List<Runnable> callbacks) {
        for (Runnable r : callbacks) {
            r.run();
        }
    }

    /** A producer, holding the write lock: write one item; a failure closes the outbox like a writer failure. */
    private void writeNow(T item) {
        try {
            batchWriter.accept(List.of(item));
        } catch (RuntimeException e) {
            failure = e;
            wakeWaitingProducers();
            if (!interruptWriter()) {
                finished.countDown();
            }
            throw new IllegalStateException("tunnel writer closed", e);
        }
    }

    /** One queued ordered item and what its producer runs once it is gone. */
    private record Entry<T>(T item, int bytes, Runnable taken) {
    }

    /** One flow's queue in the ordered lane; every field is guarded by {@link #laneLock}. */
    private static final class Flow<T> {
        static final int NONE = 0;
        static final int NEW = 1;
        static final int OLD = 2;

        final Object key;
        final ArrayDeque<Entry<T>> items = new ArrayDeque<>(4);
        int bytes;
        int deficit;
        /** Which list it is on: {@link #NONE}, {@link #NEW} or {@link #OLD}. */
        int list = NONE;
        /** Producers waiting for room (one per stream at most, in practice). */
        int waiting;
        /** Created the first time a producer waits. */
        Condition space;

        Flow(Object key) {
            this.key = key;
        }
    }
}
