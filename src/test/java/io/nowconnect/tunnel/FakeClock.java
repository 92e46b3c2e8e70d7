package io.nowconnect.tunnel;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@link TimeSource} that moves only when the test {@link #advance advances} it. The supervisor's waits end when the
 * fake time passes their deadline or a signal arrives; {@link #awaitIdle()} tells the test when the supervisor has
 * taken in everything queued and every advance, and waits again.
 *
 * <p>Lock: the clock's monitor guards the time, the generation and the current waiter, and every take from the
 * supervisor's queue happens under it, so "waiting with an empty queue" is seen atomically. A waiting supervisor looks
 * at its queue every {@link #SLICE_MS} ms of real time (signals are posted without telling the clock) and at once
 * after an advance.
 */
final class FakeClock implements TimeSource {
    private static final Instant EPOCH = Instant.parse("2030-01-01T00:00:00Z");
    private static final long SLICE_MS = 5;
    private static final Duration REAL_LIMIT = Duration.ofSeconds(20);

    /** A supervisor waiting on an empty queue until a fake-time deadline, having seen advances up to generation. */
    private record Waiter(BlockingQueue<?> queue, long deadline, long generation) {
    }

    // starts far from zero: nothing may rely on a monotonic clock starting at zero
    private long nanos = TimeUnit.DAYS.toNanos(3);
    private long generation;
    private Waiter waiter;

    @Override
    public synchronized long nanoTime() {
        return nanos;
    }

    @Override
    public synchronized Instant now() {
        return EPOCH.plusNanos(nanos);
    }

    @Override
    public synchronized <T> T poll(BlockingQueue<T> queue, long timeoutNanos) throws InterruptedException {
        long deadline = nanos + timeoutNanos;
        try {
            while (true) {
                T t = queue.poll();
                if (t != null || nanos - deadline >= 0) {
                    return t;
                }
                waiter = new Waiter(queue, deadline, generation);
                notifyAll();
                wait(SLICE_MS);
            }
        } finally {
            waiter = null;
        }
    }

    /**
     * Move the time forward.
     *
     * @param d how far
     */
    synchronized void advance(Duration d) {
        nanos += d.toNanos();
        generation++;
        notifyAll();
    }

    /**
     * Wait (real time, bounded) until the supervisor waits for a signal with nothing queued, having seen the last
     * advance. A signal posted from another thread must be in the queue before this is called (the fakes make sure).
     *
     * @return how long (fake time) the supervisor means to wait if nothing arrives
     * @throws InterruptedException when interrupted
     */
    synchronized Duration awaitIdle() throws InterruptedException {
        long end = System.nanoTime() + REAL_LIMIT.toNanos();
        while (waiter == null || waiter.generation() != generation || !waiter.queue().isEmpty()) {
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("the supervisor did not settle within " + REAL_LIMIT);
            }
            wait(10);
        }
        return Duration.ofNanos(waiter.deadline() - nanos);
    }
}
