package io.nowconnect.stream;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One stream thread's wait under its stream's lock (the writer's for data, the reader's for credit), with each signal
 * that ends it counted in the tunnel's {@link Wakes}: a small signal wakes at once, a bulk one may wait its turn there
 * (at most one deferred wake-up queued per wait).
 *
 * <p>Locks: the owner's lock guards every field; every method needs it held, except the deferred wake-up, which takes
 * it. The waiter reports the signals that woke it with {@link #takeSignalled} and passes them to {@link Wakes#ran}
 * after it released the lock (a deferred wake-up run there takes another stream's lock).
 */
final class CountedWait {
    private final Wakes wakes;
    private final ReentrantLock lock;
    private final Condition condition;
    /** The thread waits; cleared by whoever signals it, which counts the wake-up. */
    private boolean waiting;
    /** The thread is to be woken when its deferred wake-up's turn comes. */
    private boolean wanted;
    /** A deferred wake-up is queued in {@link #wakes} (never more than one). */
    private boolean queued;
    /** Counted signals that ended waits, not yet reported with {@link #takeSignalled}. */
    private int signalled;

    /**
     * A wait on a new condition of the owner's lock.
     *
     * @param wakes the tunnel's wake-ups
     * @param lock the owner's lock
     */
    CountedWait(Wakes wakes, ReentrantLock lock) {
        this.wakes = wakes;
        this.lock = lock;
        this.condition = lock.newCondition();
    }

    /**
     * Waiter, lock held: wait until signalled (or interrupted, or spuriously woken: the caller checks its condition).
     *
     * @throws InterruptedException when interrupted
     */
    void await() throws InterruptedException {
        waiting = true;
        try {
            condition.await();
        } finally {
            if (!waiting) {
                // signalled, not a spurious or interrupted wake-up: the signaller counted it
                signalled++;
            }
            waiting = false;
        }
    }

    /**
     * Lock held: whether the thread waits now (and no signal has ended the wait yet).
     *
     * @return true while it waits
     */
    boolean isWaiting() {
        return waiting;
    }

    /** Waiter, lock held: its condition holds; a deferred wake-up still queued finds nothing to do. */
    void satisfied() {
        wanted = false;
    }

    /**
     * Waiter, lock held, before it releases the lock: the counted signals that woke it, for {@link Wakes#ran}.
     *
     * @return how many
     */
    int takeSignalled() {
        int n = signalled;
        signalled = 0;
        return n;
    }

    /**
     * Lock held: wake the thread if it waits: at once when small or few of the tunnel's threads wait to run, else in
     * turn.
     *
     * @param small a small wake-up (data under {@link Wakes#SMALL}, an end), never deferred
     */
    void signal(boolean small) {
        if (!waiting) {
            return;
        }
        if (wakes.mayWake(small)) {
            wakeLocked();
        } else {
            wanted = true;
            if (!queued) {
                queued = true;
                wakes.defer(this::deferredWake);
            }
        }
    }

    private void wakeLocked() {
        waiting = false;
        wanted = false;
        wakes.woke();
        condition.signal();
    }

    /** A deferred wake-up's turn (on another stream's thread, holding no stream lock). */
    private void deferredWake() {
        lock.lock();
        try {
            queued = false;
            if (waiting && wanted) {
                wakeLocked();
            }
        } finally {
            lock.unlock();
        }
    }
}
