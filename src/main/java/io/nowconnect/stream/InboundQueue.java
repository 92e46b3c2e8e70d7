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
 * The tunnel's reader adds; the stream's writer thread takes everything at once.
 *
 * <p>Each entry is charged its payload plus {@link #ENTRY_OVERHEAD} bytes (array header, queue slot, bookkeeping),
 * rounded up to the budget's unit.
 * Small payloads (under {@link #SMALL}) are copied into a shared chunk of {@link #CHUNK} bytes instead of being kept
 * as arrays of their own, so a flood of 1-byte frames costs about its payload, not fifty times it.
 *
 * <p>Locks: one, {@link #lock}, guards every field; the writer waits through {@link #writer}, each wake-up counted in
 * the tunnel's {@link Wakes}. Methods ending in {@code Locked} need it held.
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

    /**
     * An empty queue.
     *
     * @param wakes the tunnel's wake-ups: each signal that ends the writer's wait is counted there, and a bulk one
     *              may wait its turn
     */
    InboundQueue(Wakes wakes) {
        this.wakes = wakes;
        this.writer = new CountedWait(wakes, lock);
    }

    /** One entry: the first {@code length} bytes of {@code data}, charged {@code charge} bytes of the budget. */
    record Entry(byte[] data, int length, int charge) {
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Wakes wakes;
    /** The writer's wait for entries or the FIN. */
    private final CountedWait writer;
    /** Payload bytes queued since the writer last took (whether its wake-up is small). */
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
            writer.signal(queuedBytes < Wakes.SMALL);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** The peer finished sending: the writer half-closes once everything before is written. */
    void finish() {
        lock.lock();
        try {
            fin = true;
            chunk = null;
            writer.signal(true);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writer thread: wait for entries (or the FIN), then take them all.
     *
     * @param into receives the entries in order
     * @return true when the FIN follows the entries taken (nothing more will come)
     * @throws InterruptedException when the stream closes
     */
    boolean takeAll(List<Entry> into) throws InterruptedException {
        int signalled;
        lock.lock();
        try {
            while (entries.isEmpty() && !fin) {
                writer.await();
            }
            into.addAll(entries);
            entries.clear();
            chunk = null;
            queuedBytes = 0;
            writer.satisfied();
            return fin;
        } finally {
            signalled = writer.takeSignalled();
            lock.unlock();
            // outside the lock: it may run deferred wake-ups, which take their own stream's lock
            wakes.ran(signalled);
        }
    }

    /**
     * Writer thread: write entries taken with {@link #takeAll} to the socket. Small entries in a row are gathered into
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
     * Writer thread: entries taken with {@link #takeAll} were written to the socket, which copied them; their arrays
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
     * Writer thread: entries taken with {@link #takeAll} were written (or dropped).
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
