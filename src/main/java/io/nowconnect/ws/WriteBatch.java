package io.nowconnect.ws;

import java.io.IOException;

/**
 * One socket write of a {@link WsWriter} that is large enough to come out of TLS as several records: while it runs, a
 * {@link CoalescingSocket} under the TLS socket defers the flush that follows each record to the end of the batch
 * (the writer makes it), so that the records leave in as few system calls as its buffer allows. Over a plain socket nothing is deferred.
 *
 * <p>Threads: a batch belongs to the thread that opened it (a thread-local), which holds the outbox's write lock for
 * its length; batches do not nest. Locks: none of its own.
 */
final class WriteBatch {
    /** A batch of fewer bytes fits one TLS record: nothing to gather. */
    static final int MIN_BYTES = 16 * 1024;

    /** Where a deferred flush goes. */
    interface Deferred {
        /**
         * Write what the batch gathered.
         *
         * @throws IOException when writing fails
         */
        void flushDeferred() throws IOException;
    }

    private static final ThreadLocal<WriteBatch> CURRENT = new ThreadLocal<>();

    private Deferred deferred;

    private WriteBatch() {
    }

    /**
     * Open a batch on the calling thread when the write is at least {@link #MIN_BYTES} and none is open.
     *
     * @param bytes bytes the write will give the socket's stream
     * @return the batch, to {@link #end()} in a finally block; null when none was opened
     */
    static WriteBatch begin(int bytes) {
        if (bytes < MIN_BYTES || CURRENT.get() != null) {
            return null;
        }
        WriteBatch batch = new WriteBatch();
        CURRENT.set(batch);
        return batch;
    }

    /**
     * Close this batch (the calling thread's).
     *
     * @return the flush that was deferred, for the caller to make (it times its socket writes); null when none was
     */
    Deferred end() {
        CURRENT.remove();
        return deferred;
    }

    /**
     * Whether the calling thread is in a batch.
     *
     * @return true between {@link #begin} and {@link #end}
     */
    static boolean open() {
        return CURRENT.get() != null;
    }

    /**
     * Defer a flush to the end of the calling thread's batch.
     *
     * @param flush the stream to flush then
     * @return false when the thread is in no batch (flush now)
     */
    static boolean defer(Deferred flush) {
        WriteBatch b = CURRENT.get();
        if (b == null) {
            return false;
        }
        b.deferred = flush;
        return true;
    }
}
