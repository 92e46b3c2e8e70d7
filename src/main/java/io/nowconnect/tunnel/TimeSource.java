package io.nowconnect.tunnel;

import java.time.Instant;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The supervisor's clock: a monotonic time, the wall time (for token expiry) and the one way it waits. Tests inject a
 * fake one so that back-off, rotation before {@code exp} and drain deadlines pass without real sleeps.
 */
interface TimeSource {
    /** The system clock. */
    TimeSource SYSTEM = new TimeSource() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public Instant now() {
            return Instant.now();
        }

        @Override
        public <T> T poll(BlockingQueue<T> queue, long timeoutNanos) throws InterruptedException {
            return queue.poll(timeoutNanos, TimeUnit.NANOSECONDS);
        }
    };

    /**
     * Monotonic time, as {@link System#nanoTime()}: only differences mean anything.
     *
     * @return nanoseconds
     */
    long nanoTime();

    /**
     * Wall-clock time, to compare with a token's {@code exp}.
     *
     * @return now
     */
    Instant now();

    /**
     * Wait for the next element of a queue, up to a timeout measured on this clock.
     *
     * @param queue queue to take from
     * @param timeoutNanos longest wait
     * @param <T> element type
     * @return the element, or null when the timeout passed first
     * @throws InterruptedException when interrupted
     */
    <T> T poll(BlockingQueue<T> queue, long timeoutNanos) throws InterruptedException;
}
