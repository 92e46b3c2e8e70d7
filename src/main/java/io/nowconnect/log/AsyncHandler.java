package io.nowconnect.log;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * A handler that never makes the logging thread wait: records go into a bounded queue ({@link #CAPACITY}) and one
 * writer thread hands them to the handler it wraps, in order, flushing once per batch. When the queue is full a record
 * is dropped and counted, and the writer says how many were dropped (a WARNING, event {@code log_dropped}) as soon as
 * it has room again.
 *
 * <p>Why: every stream logs its end (the access log), and the console handler wrote and flushed each line under one
 * lock. When 2,000 streams ended at once on a 2-core hub, 46 to 78 of its stream threads were blocked on that lock at
 * a time, and a stdout that is slow to drain (journald, a pipe) would hold every stream thread of the process. Like
 * logback's {@code AsyncAppender} with {@code neverBlock}, but dropping only when the queue is full.
 *
 * <p>Bound: at most {@link #CAPACITY} records queued. {@link #close} writes what is queued before it closes the wrapped
 * handler (JUL closes handlers at exit), so nothing logged before the end is lost to the thread's death.
 *
 * <p>Threads: any thread may publish; one platform daemon thread writes (a platform thread: log lines are not delayed
 * behind the process's virtual threads). Locks: {@link #writeLock} is held while records are handed on.
 */
final class AsyncHandler extends Handler {
    /** Most records queued. */
    static final int CAPACITY = 4096;
    /** Most records handed on per flush. */
    private static final int BATCH = 256;
    private static final long CLOSE_WAIT_MS = 2000;

    private final Handler target;
    private final ArrayBlockingQueue<LogRecord> queue = new ArrayBlockingQueue<>(CAPACITY);
    /** Dropped since the writer last said so. */
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong droppedTotal = new AtomicLong();
    /**
     * Records queued and not yet handed on and flushed: the writer may hold one it took from the queue while it waits
     * for the lock, so an empty queue does not mean that everything was written.
     */
    private final AtomicLong unwritten = new AtomicLong();
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Thread writer;
    private volatile boolean closed;

    /**
     * Wrap a handler and start the writer thread.
     *
     * @param target where records go (its formatter and level apply; it is flushed once per batch)
     * @param name the writer thread's name
     */
    AsyncHandler(Handler target, String name) {
        this.target = target;
        setLevel(Level.ALL);
        // not used here (the target formats), but tells whoever looks how the lines are printed
        if (target.getFormatter() != null) {
            setFormatter(target.getFormatter());
        }
        this.writer = Thread.ofPlatform().daemon().name(name).start(this::writeLoop);
    }

    @Override
    public void publish(LogRecord record) {
        if (closed || record == null || !target.isLoggable(record)) {
            return;
        }
        // the record is complete (Event passes a copy of its fields): formatting it later says the same
        unwritten.incrementAndGet();
        if (!queue.offer(record)) {
            unwritten.decrementAndGet();
            dropped.incrementAndGet();
            droppedTotal.incrementAndGet();
        }
    }

    /** Records dropped because the queue was full, since the start (tests, diagnostics). */
    long dropped() {
        return droppedTotal.get();
    }

    /**
     * Hand everything queued on now, on the caller's thread, and flush; returns once every record published before the
     * call was written (or after about 2 s when the output does not move).
     */
    @Override
    public void flush() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_WAIT_MS);
        while (true) {
            writeLock.lock();
            try {
                drainLocked(null);
            } finally {
                writeLock.unlock();
            }
            // a record the writer took before this drain is written by the writer once it has the lock
            if (unwritten.get() <= 0 || System.nanoTime() - deadline > 0) {
                return;
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Stop taking records, write what is queued and close the wrapped handler; gives up after about 4 s when the output
     * does not move (an exit must not hang on a console nobody reads).
     */
    @Override
    public void close() {
        closed = true;
        writer.interrupt();
        try {
            writer.join(CLOSE_WAIT_MS);
            if (writeLock.tryLock(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS)) {
                try {
                    drainLocked(null);
                } finally {
                    writeLock.unlock();
                }
                target.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void writeLoop() {
        while (!closed) {
            LogRecord first;
            try {
                first = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            writeLock.lock();
            try {
                drainLocked(first);
            } finally {
                writeLock.unlock();
            }
        }
    }

    private void drainLocked(LogRecord first) {
        List<LogRecord> batch = new ArrayList<>(BATCH);
        if (first != null) {
            batch.add(first);
        }
        do {
            queue.drainTo(batch, BATCH - batch.size());
            int handed = batch.size();
            for (LogRecord r : batch) {
                try {
                    target.publish(r);
                } catch (RuntimeException e) {
                    reportError("publish failed", e, java.util.logging.ErrorManager.WRITE_FAILURE);
                }
            }
            batch.clear();
            long lost = dropped.getAndSet(0);
            if (lost > 0) {
                target.publish(droppedRecord(lost));
            }
            target.flush();
            unwritten.addAndGet(-handed);
        } while (!queue.isEmpty());
    }

    private static LogRecord droppedRecord(long lost) {
        LogRecord r = new LogRecord(Level.WARNING, "Dropped " + lost + " log records: logging could not keep up");
        r.setLoggerName(AsyncHandler.class.getName());
        r.setParameters(new Object[] {Event.of("log_dropped").with("count", lost)});
        return r;
    }
}
