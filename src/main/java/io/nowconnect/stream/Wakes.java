package io.nowconnect.stream;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A tunnel's wake-ups of its stream threads, so that bulk cannot queue every other stream behind it.
 *
 * <p>The JDK runs runnable virtual threads first come, first served. Each DATA for a stream whose writer is not
 * running (it starts one), each WINDOW for a stream whose reader waits for credit, and each new stream's threads make
 * a virtual thread runnable.
 * With 2,000 uploads starting, a 2-core agent had up to 1,950 runnable threads at once (sampled from the JDK's
 * {@code VirtualThreadSchedulerMXBean}), and every other stream's next step waited behind all of them: a probe's
 * echo, about eight such steps across hub and agent, took over a second.
 *
 * <p>So a tunnel counts the threads it made runnable that have not run yet ({@link #woke} / {@link #ran}). Up to
 * {@link #RUNNABLE} of them, a wake-up happens at once. Beyond that, a bulk wake-up (a reader given credit) waits
 * here, in order, and happens as the counted ones run, and so does a bulk writer's start (at least {@link #SMALL}
 * bytes queued, below); the bytes wait in the stream's queue, which flow control and the memory budget already
 * bound. A small one (a request, an answer, a FIN or a reset, and the writer started for it) always happens at once,
 * so it waits behind at most {@code RUNNABLE} of the tunnel's bulk steps, whatever the load.
 *
 * <p>New threads ({@link #start}: an OPEN's dial, a stream's two pumps, a writer for bytes that came to an idle
 * stream) count the same way and start in turn too, so a
 * burst of 2,000 OPENs does not put 6,000 threads ahead of everything else at once (a thread dump of the agent had 337
 * dials and 985 pumps runnable and not yet run). Deferred starts go before deferred bulk wake-ups, as fq_codel serves
 * new flows first: a new stream (a probe, a request on a fresh connection) waits behind other new streams, never
 * behind the bulk of old ones. Deferred starts of different connectors take turns, one start each: 2,000
 * OPENs on one connector delay a new stream of another by one start (a trace of such a probe had its dial start
 * 250 ms after its OPEN arrived, and its pumps 170 ms after its dial, behind the other connector's starts). What
 * waits here is bounded by the tunnel's streams: at most one deferred wake-up of each stream's reader, and its
 * three starts (its dial, its reader, one writer: a stream has at most one writer running or starting).
 *
 * <p>Threads: any. {@link #woke}, {@link #ran}, {@link #mayWake} and {@link #defer} never block; deferred wake-ups and
 * starts run on the thread of a {@link #ran} or {@link #drain} call, which must hold no stream lock (they take their
 * stream's).
 */
final class Wakes {
    /** Threads made runnable and not yet run, past which bulk wake-ups wait. */
    static final int RUNNABLE = 32;
    /** Fewer bytes than this queued for a writer make a small wake-up (a full 2 KiB read is bulk, as at sending). */
    static final int SMALL = 2048;

    private final AtomicInteger pending = new AtomicInteger();
    /** Deferred bulk wake-ups, in order. */
    private final ConcurrentLinkedQueue<Runnable> deferred = new ConcurrentLinkedQueue<>();
    /**
     * Deferred thread starts by group (a stream's connector), each group's in order, the groups taking turns (the
     * order of this map); served before bulk wake-ups (a new stream is not queued behind bulk). Guarded by
     * {@link #startLock}.
     */
    private final LinkedHashMap<Object, ArrayDeque<Runnable>> starts = new LinkedHashMap<>();
    private final ReentrantLock startLock = new ReentrantLock();
    private final AtomicInteger deferredCount = new AtomicInteger();

    /** A thread was made runnable (signalled or started): it calls {@link #ran} once when it runs. */
    void woke() {
        pending.incrementAndGet();
    }

    /** A thread counted by {@link #woke} runs: deferred wake-ups take its place. Hold no stream lock. */
    void ran() {
        ran(1);
    }

    /**
     * Threads counted by {@link #woke} run (a waiter reports the signals that woke it, 0 or more). Hold no stream lock.
     *
     * @param threads how many
     */
    void ran(int threads) {
        if (threads > 0) {
            pending.addAndGet(-threads);
            drain();
        }
    }

    /**
     * Whether a wake-up may happen now (the caller then counts it with {@link #woke}).
     *
     * @param small a small wake-up (never deferred)
     * @return false when it waits its turn ({@link #defer})
     */
    boolean mayWake(boolean small) {
        return small || pending.get() < RUNNABLE;
    }

    /**
     * A wake-up that waits its turn; it runs once fewer than {@link #RUNNABLE} counted threads wait, and must then
     * re-check that its thread still waits and count the wake-up with {@link #woke}. Callers keep at most one
     * deferred wake-up per waiting thread.
     *
     * @param later the wake-up
     */
    void defer(Runnable later) {
        deferredCount.incrementAndGet();
        deferred.add(later);
    }

    /**
     * Run deferred wake-ups while fewer than {@link #RUNNABLE} counted threads wait to run. Called after each
     * {@link #ran} and by the tunnel's reader after each frame (a wake-up deferred just as the last counted thread
     * ran is not left waiting). Hold no stream lock.
     */
    void drain() {
        while (pending.get() < RUNNABLE) {
            Runnable w = pollStart();
            if (w == null) {
                w = deferred.poll();
            }
            if (w == null) {
                return;
            }
            deferredCount.decrementAndGet();
            w.run();
        }
    }

    /** The next deferred start: the first group's first; that group, if it has more, goes to the end of the turns. */
    private Runnable pollStart() {
        startLock.lock();
        try {
            Iterator<Map.Entry<Object, ArrayDeque<Runnable>>> it = starts.entrySet().iterator();
            if (!it.hasNext()) {
                return null;
            }
            Map.Entry<Object, ArrayDeque<Runnable>> first = it.next();
            ArrayDeque<Runnable> queue = first.getValue();
            Runnable start = queue.poll();
            it.remove();
            if (!queue.isEmpty()) {
                starts.put(first.getKey(), queue);
            }
            return start;
        } finally {
            startLock.unlock();
        }
    }

    /** Counted threads not yet run (tests, diagnostics). */
    int pending() {
        return pending.get();
    }

    /** Wake-ups waiting their turn (tests, diagnostics). */
    int deferred() {
        return deferredCount.get();
    }

    /** {@link #start(String, Object, Runnable, Runnable, boolean)} of a thread that is not small (it may wait). */
    void start(String name, Object group, Runnable task, Runnable failed) {
        start(name, group, task, failed, false);
    }

    /**
     * Start a virtual thread, counted until it first runs: at once while fewer than {@link #RUNNABLE} counted threads
     * wait to run, else in turn (a burst of OPENs starts its dials and its streams' threads as earlier ones run, rather
     * than all at once ahead of everything else). The task must not assume it starts before this returns.
     *
     * @param name thread name
     * @param group what it belongs to (its stream's connector): deferred starts of different groups take turns, so a
     *              burst of OPENs on one connector delays another connector's new stream by one start per turn
     * @param task what it runs
     * @param failed run instead when the thread cannot be started (out of memory), on the caller's thread or the one
     *               that runs the deferred start; must not throw
     * @param small a small one (a writer for a request, an answer or a FIN), started at once whatever waits, as a
     *              small wake-up is never deferred
     */
    void start(String name, Object group, Runnable task, Runnable failed, boolean small) {
        Runnable starter = () -> {
            woke();
            try {
                Thread.ofVirtual().name(name).start(() -> {
                    ran();
                    task.run();
                });
            } catch (RuntimeException | OutOfMemoryError e) {
                pending.decrementAndGet();
                failed.run();
            }
        };
        if (small || pending.get() < RUNNABLE) {
            starter.run();
        } else {
            deferredCount.incrementAndGet();
            startLock.lock();
            try {
                starts.computeIfAbsent(group, g -> new ArrayDeque<>()).add(starter);
            } finally {
                startLock.unlock();
            }
        }
    }
}
