package io.nowconnect.stream;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

import io.nowconnect.buffer.ArrayPool;
import io.nowconnect.protocol.BinaryCodec;

/**
 * What a stream received from the tunnel and has not yet written to its local socket, with what it costs in memory.
 * The tunnel's reader adds; a <em>writer session</em> of the stream takes everything at once.
 *
 * <p>No thread waits for a quiet stream's next bytes: a writer <em>session</em> (a thread) exists only from the first
 * bytes a stream receives until it has been quiet for {@link #QUIET_NANOS}. Bytes (or the FIN) added while no session
 * runs start one ({@link WriterStart}); it takes and writes, waiting between batches as a busy stream needs (a wake-up
 * is cheaper than a new thread: 30,000 new threads a second cost an agent under uploads more than it saved), and ends
 * when the idle sweep retires it ({@link #retireIfQuiet}) or the queue closes ({@link #take} says so; from then the
 * next bytes start a new one). A session that must not wait (the dialling thread's, which writes what came while it
 * dialled) ends as soon as the queue is empty. So at most one session runs at a time, and a stream at rest holds one
 * thread (its socket reader), not two: a parked writer's stack and thread were about 2.3 KiB of each idle stream's
 * heap (7.9 to 5.6 KiB per stream with 10,000 held), copied by the collector in every storm of new streams. Until
 * the stream's socket is attached the stream holds the session itself ({@link #release}).
 *
 * <p>Each entry is charged its payload plus {@link #ENTRY_OVERHEAD} bytes (array header, queue slot, bookkeeping),
 * rounded up to the budget's unit.
 * Small payloads (under {@link #SMALL}) are copied into a shared chunk of {@link #CHUNK} bytes instead of being kept
 * as arrays of their own, so a flood of 1-byte frames costs about its payload, not fifty times it.
 *
 * <p>Locks: one, {@link #lock}, guards every field; a session is started after it is released; the session waits
 * through {@link #writer}, each wake-up counted in the tunnel's {@link Wakes}. Methods ending in {@code Locked} need it
 * held.
 */
final class InboundQueue {
    /** Bytes charged per entry besides its payload. */
    static final int ENTRY_OVERHEAD = 64;
    /** Payloads under this size are copied into a shared chunk. */
    static final int SMALL = 1024;
    /** Size of a shared chunk. */
    static final int CHUNK = 4096;
    /** Small entries in a row are written together up to this many bytes; larger entries from their own arrays. */
    static final int GATHER = 16 * 1024;
    /**
     * Gather arrays of the process's stream writers, taken for one {@link #writeTo} and given back after it: at most
     * 16 x 16 KiB kept (a new array per write was over a third of what an agent allocated with 2,000 uploads).
     */
    private static final ArrayPool GATHER_POOL = new ArrayPool(GATHER, 16);
    /**
     * Arrays of full {@code bin1} DATA payloads ({@link BinaryCodec#MAX_DATA_PAYLOAD}): the tunnel's reader decodes
     * into one ({@link StreamTable#payloadArrays()}), the queue keeps it as the entry's own array, and the stream's
     * writer gives it back once written ({@link #recycle}). At most 32 x 64 KiB (2 MiB) kept; in bulk over 97 % of
     * DATA bytes came in full payloads, and their copies were 71 % of what a hub allocated (JFR).
     */
    static final ArrayPool PAYLOADS = new ArrayPool(BinaryCodec.MAX_DATA_PAYLOAD, 32);

    /** How long a session waits without taking anything before the idle sweep retires it. */
    static final long QUIET_NANOS = 1_000_000_000L;

    /**
     * An empty queue, its writer session held by the stream until it calls {@link #release}.
     *
     * @param wakes the tunnel's wake-ups: each signal that ends the session's wait is counted there, and a bulk one
     *              may wait its turn
     * @param starter starts a writer session when bytes or the FIN come to a queue without one
     */
    InboundQueue(Wakes wakes, WriterStart starter) {
        this.wakes = wakes;
        this.writer = new CountedWait(wakes, lock);
        this.starter = starter;
    }

    /** Starts a stream's writer session; called without the queue's lock, at most once until that session ends. */
    @FunctionalInterface
    interface WriterStart {
        /**
         * Start a session that calls {@link #take} (waiting) until it says {@link Take#NONE} or {@link Take#FIN}.
         *
         * @param small whether what waits is small (under {@link Wakes#SMALL} bytes, or the FIN): a request or an
         *              answer, whose session starts at once; a bulk one may wait its turn ({@link Wakes})
         */
        void start(boolean small);
    }

    /** What {@link #take} gave the writer session. */
    enum Take {
        /** Entries, more may follow. */
        DATA,
        /** Entries (maybe none), then the FIN: nothing more will come. */
        FIN,
        /** Nothing: the session ends (retired while quiet, or empty and not to wait; the next bytes start another) or
         * the queue was closed. */
        NONE
    }

    /** One entry: the first {@code length} bytes of {@code data}, charged {@code charge} bytes of the budget. */
    record Entry(byte[] data, int length, int charge) {
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final WriterStart starter;
    private final Wakes wakes;
    /** The session's wait for entries or the FIN. */
    private final CountedWait writer;
    /** A writer session runs or is starting, or the stream still holds it ({@link #release}); false while idle. */
    private boolean writing = true;
    /** The idle sweep asked the waiting session to end. */
    private boolean retire;
    /** When the session last took something (or the queue was made). */
    private long lastTakenNanos = System.nanoTime();
    /** Payload bytes queued since the writer last took (whether its start is small). */
    private long queuedBytes;
    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    /** The chunk small payloads go into, already the last entry (its length grows), or null. */
    private byte[] chunk;
    private int chunkFill;
    private long charged;
    private boolean fin;
    private boolean closed;

    /**
     * What adding a payload would charge now: 0 when it fits the open chunk, else a new chunk or the payload plus the
     * entry overhead. Tunnel reader only (the one producer), so the answer holds until its {@link #add}.
     *
     * @param length payload length
     * @return bytes to take from the budget
     */
    int chargeFor(int length) {
        lock.lock();
        try {
            if (length < SMALL) {
                return chunk != null && chunkFill + length <= CHUNK ? 0 : CHUNK + ENTRY_OVERHEAD;
            }
            return MemoryBudget.round(length + ENTRY_OVERHEAD);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Queue a payload, charged what {@link #chargeFor} said.
     *
     * @param data payload (owned by the queue from now on)
     * @param charge bytes taken from the budget for it
     * @return false when the queue was closed or the peer's FIN came before (nothing after a FIN is written; the
     *         caller gives the charge back)
     */
    boolean add(byte[] data, int charge) {
        boolean start;
        boolean small;
        lock.lock();
        try {
            if (closed || fin) {
                return false;
            }
            int length = data.length;
            if (length < SMALL) {
                if (charge == 0 && chunk != null) {
                    System.arraycopy(data, 0, chunk, chunkFill, length);
                    chunkFill += length;
                    replaceLastLocked();
                } else {
                    chunk = new byte[CHUNK];
                    System.arraycopy(data, 0, chunk, 0, length);
                    chunkFill = length;
                    entries.addLast(new Entry(chunk, length, charge));
                }
            } else {
                chunk = null;
                entries.addLast(new Entry(data, length, charge));
            }
            charged += charge;
            queuedBytes += length;
            start = claimWriterLocked();
            small = queuedBytes < Wakes.SMALL;
            writer.signal(small);
        } finally {
            lock.unlock();
        }
        if (start) {
            starter.start(small);
        }
        return true;
    }

    /** The peer finished sending: the writer half-closes once everything before is written. */
    void finish() {
        boolean start;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            fin = true;
            chunk = null;
            start = claimWriterLocked();
            writer.signal(true);
        } finally {
            lock.unlock();
        }
        if (start) {
            starter.start(true);
        }
    }

    /** Lock held, something to write: whether a session must be started for it (none runs), which then counts. */
    private boolean claimWriterLocked() {
        if (writing) {
            return false;
        }
        writing = true;
        return true;
    }

    /**
     * The stream attached its socket and runs no session itself: a session is needed (the caller starts it) when
     * bytes or the FIN came meanwhile; else the next ones start it.
     *
     * @return true when the caller must start a session now
     */
    boolean release() {
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            if (entries.isEmpty() && !fin) {
                writing = false;
                return false;
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writer session: take everything queued, first waiting for it if asked to. The session ends ({@link Take#NONE})
     * when the queue is closed, when it is empty and the session is not to wait, or when the idle sweep retired it;
     * bytes added from then on start a new one.
     *
     * @param into receives the entries in order
     * @param wait whether to wait for entries (or the FIN) rather than end on an empty queue
     * @return what was taken
     * @throws InterruptedException when the session's thread is interrupted while it waits
     */
    Take take(List<Entry> into, boolean wait) throws InterruptedException {
        int signalled;
        lock.lock();
        try {
            while (!closed && entries.isEmpty() && !fin) {
                if (!wait || retire) {
                    writing = false;
                    retire = false;
                    return Take.NONE;
                }
                writer.await();
            }
            if (closed) {
                return Take.NONE;
            }
            into.addAll(entries);
            entries.clear();
            chunk = null;
            queuedBytes = 0;
            writer.satisfied();
            retire = false;
            lastTakenNanos = System.nanoTime();
            return fin ? Take.FIN : Take.DATA;
        } finally {
            signalled = writer.takeSignalled();
            lock.unlock();
            // outside the lock: it may run deferred wake-ups, which take their own stream's lock
            wakes.ran(signalled);
        }
    }

    /**
     * The idle sweep: a session that waits on an empty queue and has taken nothing for {@link #QUIET_NANOS} is told to
     * end (its thread and stack go; the next bytes start a new one).
     *
     * @param now current {@link System#nanoTime()}
     * @return true when a session was retired
     */
    boolean retireIfQuiet(long now) {
        lock.lock();
        try {
            if (closed || fin || retire || !entries.isEmpty() || !writer.isWaiting()
                || now - lastTakenNanos < QUIET_NANOS) {
                return false;
            }
            retire = true;
            writer.signal(true);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writer session: write entries taken with {@link #take} to the socket. Small entries in a row are gathered into
     * one write of up to {@link #GATHER} bytes (fewer system calls when the socket lags behind); an entry of at least
     * {@link #GATHER} bytes is written from its own array, never copied (in bulk a copy per write was a quarter of
     * the bytes a hub allocated).
     *
     * @param out the local socket's output
     * @param taken the entries
     * @return bytes written
     * @throws IOException when the socket fails
     */
    static int writeTo(OutputStream out, List<Entry> taken) throws IOException {
        if (taken.size() == 1) {
            Entry only = taken.getFirst();
            out.write(only.data(), 0, only.length());
            return only.length();
        }
        int bytes = 0;
        byte[] gather = null;
        int gathered = 0;
        for (Entry e : taken) {
            int n = e.length();
            bytes += n;
            if (n >= GATHER) {
                if (gathered > 0) {
                    out.write(gather, 0, gathered);
                    gathered = 0;
                }
                out.write(e.data(), 0, n);
                continue;
            }
            if (gathered + n > GATHER) {
                out.write(gather, 0, gathered);
                gathered = 0;
            }
            if (gather == null) {
                gather = GATHER_POOL.take();
            }
            System.arraycopy(e.data(), 0, gather, gathered, n);
            gathered += n;
        }
        if (gathered > 0) {
            out.write(gather, 0, gathered);
        }
        GATHER_POOL.giveBack(gather);
        return bytes;
    }

    /**
     * Writer session: entries taken with {@link #take} were written to the socket, which copied them; their arrays
     * of the payload pool's size go back to it (the entries must not be used again).
     *
     * @param written the entries
     */
    static void recycle(List<Entry> written) {
        for (Entry e : written) {
            PAYLOADS.giveBack(e.data());
        }
    }

    /**
     * Writer session: entries taken with {@link #take} were written (or dropped).
     *
     * @param taken the entries
     * @return bytes to give back to the budget
     */
    long written(List<Entry> taken) {
        long charge = 0;
        for (Entry e : taken) {
            charge += e.charge();
        }
        lock.lock();
        try {
            charged -= charge;
        } finally {
            lock.unlock();
        }
        return charge;
    }

    /**
     * Drop everything and take nothing more; the caller gives the returned charge back to the budget. Entries the
     * writer has taken but not yet reported are not counted here: it reports them through {@link #written}.
     *
     * @return bytes to give back to the budget
     */
    long close() {
        lock.lock();
        try {
            closed = true;
            long queued = 0;
            for (Entry e : entries) {
                queued += e.charge();
            }
            entries.clear();
            chunk = null;
            charged -= queued;
            writer.signal(true);
            return queued;
        } finally {
            lock.unlock();
        }
    }


    /**
     * Memory held now (charged bytes of entries not yet reported written).
     *
     * @return bytes
     */
    long charged() {
        return readLocked(() -> charged);
    }

    /**
     * Entries waiting for the writer (v1's per-stream queue depth counts these).
     *
     * @return entries
     */
    int size() {
        return (int) readLocked(entries::size);
    }

    /**
     * Whether nothing waits for the writer.
     *
     * @return true when empty
     */
    boolean isEmpty() {
        return size() == 0;
    }

    /** A field read under the lock. */
    private long readLocked(LongSupplier field) {
        lock.lock();
        try {
            return field.getAsLong();
        } finally {
            lock.unlock();
        }
    }

    /** The open chunk grew: its entry, the last one, gets the new length. */
    private void replaceLastLocked() {
        Entry last = entries.pollLast();
        entries.addLast(new Entry(chunk, chunkFill, last.charge()));
    }
}
