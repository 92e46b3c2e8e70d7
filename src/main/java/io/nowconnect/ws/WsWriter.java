package io.nowconnect.ws;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

import io.nowconnect.buffer.ArrayPool;
import io.nowconnect.buffer.SizedPools;

/**
 * Writes WebSocket frames (RFC 6455 section 5.2) on an upgraded connection: masked from a client, plain from a server.
 *
 * <p>Senders build (and mask, eight bytes at a time) their frame on their own thread and hand it to an {@link Outbox}
 * (its header states who writes to the socket and when); control frames and RST take its urgent lane, so a busy tunnel
 * still answers pings in time and the tunnel's reader never waits on a write. A {@code bin1} DATA of 16 KiB or more
 * that the outbox lets its sender write at once is built in a gather buffer from a small pool of the process instead
 * of an array of its own (a queued frame needs its own: the sender reuses its payload's array). A write of 16 KiB or more is one
 * {@link WriteBatch}, so that TLS gathers its records ({@link CoalescingSocket}). Why this is ours and not Helidon's:
 * {@code package-info} of this package.
 *
 * <p>Threads: any thread may call the send methods; ordered sends block while the stream's queue is full
 * (back-pressure toward the local sockets), and an ordered send may write the socket on the caller's thread (the
 * outbox's direct write: never interrupt a thread that sends). After a write failure or {@link #stop()}, every send
 * throws {@link IllegalStateException}. Locks: the masking keys' monitor (client end), held to draw one key; the
 * socket's output is guarded by the outbox's write lock, so {@link #writeSocket} runs for one thread at a time.
 *
 * <p>A peer that stops reading (its TCP window stays at zero) blocks the socket write in progress for good. Every socket
 * write, whoever makes it, goes through {@link #writeSocket} and is at most {@link #MAX_SOCKET_WRITE} bytes, and
 * {@link #stalledNanos} tells how long the current one has been blocked; the tunnel's timer ends the tunnel when that
 * exceeds the ping timeout. A blocked write resumes once the kernel has freed about a third of the socket's send buffer
 * (Linux autotunes it up to {@code net.ipv4.tcp_wmem}'s maximum, 4 MiB by default), so a peer that reads at least
 * about that much per ping timeout keeps its tunnel (at the default 20 s, about 70 KiB/s); one whose window stays at
 * zero does not.
 */
public final class WsWriter {
    private static final int LARGE_FRAME = 16 * 1024;
    /** Masking keys drawn from the random source at once. */
    private static final int KEY_BLOCK = 256;
    /** Before the first block (and on the server, which never masks): the first key taken draws a block. */
    private static final int[] NO_KEYS = new int[0];
    /**
     * Most bytes per socket write: a write that does not finish within the ping timeout ends the tunnel, so one write
     * must not need much more than the send buffer frees for a slow but reading peer (see the class comment).
     */
    static final int MAX_SOCKET_WRITE = 256 * 1024;
    /** Size of a gather buffer: a whole {@code bin1} DATA of 64 KiB with its headers, or many small frames. */
    static final int GATHER_BUFFER = 128 * 1024;
    /**
     * Gather buffers shared by every writer of the process (a writer takes one for a write, under its write lock, and
     * gives it back): a few writers write at once, so a few buffers serve them all, and an idle tunnel holds none.
     */
    private static final ArrayPool POOL = new ArrayPool(GATHER_BUFFER, 4);
    /** A payload this long (a full {@code bin1} DATA, as bulk sends) is framed in an array of {@link #FULL_FRAMES}. */
    static final int FULL_PAYLOAD = 64 * 1024;
    /**
     * Frames of a full payload queued for the writer, given back once written: one size per cid length and masking (a
     * process sees one or two), at most 4 sizes x 16 kept (about 4 MiB). A new array per frame was two thirds of what
     * a hub and three quarters of what an agent allocated in bulk once received payloads were pooled (JFR).
     */
    private static final SizedPools FULL_FRAMES = new SizedPools(4, 16);

    /** The socket's own output stream ({@link UpgradedSocket}): a write is one system call (plain) or TLS records. */
    private final OutputStream out;
    private final boolean client;
    private final SecureRandom random;
    /**
     * Masking keys drawn from {@link #random} in blocks (one call per 256 frames, not one per frame), taken lock-free:
     * every stream thread of an agent frames its own WINDOWs, and a lock here had 50 to 95 of them blocked at once
     * with 2,000 streams starting. A block is replaced under {@link #keyLock} once its last key is taken.
     */
    private volatile int[] keys;
    private final AtomicInteger nextKey = new AtomicInteger(KEY_BLOCK);
    private final ReentrantLock keyLock = new ReentrantLock();
    private final Outbox<byte[]> outbox;
    /** When the socket write in progress began (nanoTime), 0 when none is; written by whoever holds the write lock. */
    private volatile long writeSinceNanos;

    private WsWriter(OutputStream out, boolean client, String threadName) {
        this.out = out;
        this.client = client;
        this.random = client ? new SecureRandom() : null;
        this.keys = NO_KEYS;
        this.outbox = Outbox.paced(threadName, this::write, f -> f.length,
                                   probe -> frame(Opcode.PING, probe, 0, probe.length));
    }

    /**
     * Writer for the client end (frames masked); starts its writer thread.
     *
     * @param out the upgraded connection's output ({@link UpgradedSocket#out()})
     * @param threadName name of the writer thread
     * @return writer
     */
    public static WsWriter client(OutputStream out, String threadName) {
        return new WsWriter(out, true, threadName);
    }

    /**
     * Writer for the server end (frames not masked); starts its writer thread.
     *
     * @param out the upgraded connection's output ({@link UpgradedSocket#out()})
     * @param threadName name of the writer thread
     * @return writer
     */
    public static WsWriter server(OutputStream out, String threadName) {
        return new WsWriter(out, false, threadName);
    }

    /**
     * Send a text frame in order, blocking while the ordered lane is full.
     *
     * @param text frame text
     */
    public void text(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        outbox.ordered(frame(Opcode.TEXT, utf8, 0, utf8.length));
    }

    /**
     * Send a text frame in its queue's order (a stream's frames), blocking while that queue holds much; queues share
     * the tunnel fairly ({@link FrameScheduler}).
     *
     * @param text frame text
     * @param queue the queue, e.g. the stream's id
     * @param group the queue's group (its connector: connectors share the tunnel fairly), or null
     * @param taken run exactly once when the frame was written, discarded or refused; may be null
     */
    public void text(String text, Object queue, Object group, Runnable taken) {
        byte[] frame;
        try {
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            frame = frame(Opcode.TEXT, utf8, 0, utf8.length);
        } catch (RuntimeException e) {
            runQuietly(taken);
            throw e;
        }
        outbox.ordered(queue, group, frame, taken);
    }

    /**
     * Send a text frame on the urgent lane; never blocks.
     *
     * @param text frame text
     */
    public void urgentText(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        outbox.urgent(frame(Opcode.TEXT, utf8, 0, utf8.length));
    }

    /**
     * Send a binary message in order (a {@code bin1} DATA), blocking while the ordered lane is full. The header and
     * the payload are copied once, straight into the masked frame.
     *
     * @param header bytes before the payload
     * @param payload payload
     */
    public void binary(byte[] header, byte[] payload) {
        outbox.ordered(frame(Opcode.BINARY, header, payload, 0, payload.length));
    }

    /**
     * Send a binary message in its queue's order (a {@code bin1} DATA of a stream), blocking while that queue holds
     * much; queues share the tunnel fairly ({@link FrameScheduler}). The payload is copied before this returns.
     *
     * @param header bytes before the payload
     * @param payload payload
     * @param length bytes of the payload to send
     * @param queue the queue, e.g. the stream's id
     * @param group the queue's group (its connector: connectors share the tunnel fairly), or null
     * @param taken run exactly once when the frame was written, discarded or refused; may be null
     */
    public void binary(byte[] header, byte[] payload, int length, Object queue, Object group, Runnable taken) {
        outbox.ordered(queue, group, () -> queuedFrame(Opcode.BINARY, header, payload, length),
                       frameSize(header.length + length), () -> writeDirect(Opcode.BINARY, header, payload, length),
                       taken);
    }

    /** A frame to queue: one of a full payload in an array of {@link #FULL_FRAMES}, which {@link #write} gives back. */
    private byte[] queuedFrame(Opcode opCode, byte[] prefix, byte[] payload, int length) {
        if (length != FULL_PAYLOAD) {
            return frame(opCode, prefix, payload, 0, length);
        }
        byte[] frame = FULL_FRAMES.take(frameSize(prefix.length + length));
        frameInto(frame, opCode, prefix, payload, 0, length);
        return frame;
    }

    private static void runQuietly(Runnable r) {
        if (r != null) {
            r.run();
        }
    }

    /**
     * Send a binary message on the urgent lane (a {@code bin1} WINDOW); never blocks.
     *
     * @param message the message
     */
    public void urgentBinary(byte[] message) {
        outbox.urgent(frame(Opcode.BINARY, message, 0, message.length));
    }

    /**
     * Send a ping on the urgent lane (payload cut to 125 bytes); never blocks.
     *
     * @param payload application data
     */
    public void ping(byte[] payload) {
        outbox.urgent(frame(Opcode.PING, payload, 0, Math.min(payload.length, 125)));
    }

    /**
     * How long the writer's pacing probe may go unanswered before pacing turns off for this connection (at most 5 s;
     * see {@code Pacer}).
     *
     * @param timeout the wait
     */
    public void probeTimeout(java.time.Duration timeout) {
        outbox.probeTimeout(timeout.toNanos());
    }

    /**
     * Whether pacing turned itself off for this connection: the peer left a probe (a ping) unanswered.
     *
     * @return true once it did
     */
    public boolean pacingGaveUp() {
        return outbox.pacingGaveUp();
    }

    /**
     * This writer's pacer (tests and diagnosis).
     *
     * @return pacer
     */
    Pacer pacer() {
        return outbox.pacer();
    }

    /**
     * The tunnel's reader: a pong arrived (every pong goes here; one that answers the writer's pacing probe lets it
     * send more, see {@code Pacer}).
     *
     * @param payload the pong's payload
     */
    public void pongReceived(byte[] payload) {
        outbox.answered(payload);
    }

    /**
     * Answer a ping on the urgent lane (payload cut to 125 bytes); never blocks.
     *
     * @param payload the ping's application data
     */
    public void pong(byte[] payload) {
        outbox.urgent(frame(Opcode.PONG, payload, 0, Math.min(payload.length, 125)));
    }

    /**
     * Queue a close frame after everything queued so far (a graceful close loses no FIN or final DATA); nothing
     * queued after it is written.
     *
     * @param code close code
     * @param reason short reason, truncated to fit a control frame
     */
    public void close(int code, String reason) {
        byte[] r = reason.getBytes(StandardCharsets.UTF_8);
        int len = Math.min(r.length, 123);
        byte[] payload = new byte[2 + len];
        payload[0] = (byte) (code >>> 8);
        payload[1] = (byte) code;
        System.arraycopy(r, 0, payload, 2, len);
        outbox.last(frame(Opcode.CLOSE, payload, 0, payload.length));
    }

    /**
     * Wait until a queued close frame is written (or the writer failed).
     *
     * @param timeout longest wait
     * @return whether the writer finished in time
     */
    public boolean awaitClosed(java.time.Duration timeout) {
        return outbox.awaitStopped(timeout);
    }

    /** Stop the writer thread; pending frames are dropped. */
    public void stop() {
        outbox.stop();
    }

    /**
     * How long the socket write in progress has been blocked: the peer takes no bytes while its TCP window is zero.
     * Never blocks; safe from any thread (the tunnel's timer calls it).
     *
     * @param now {@link System#nanoTime()} of the caller
     * @return nanoseconds since the current socket write began, 0 when no write is in progress
     */
    public long stalledNanos(long now) {
        long since = writeSinceNanos;
        return since == 0 ? 0 : Math.max(0, now - since);
    }

    /** A fresh masking key (RFC 6455 5.3: unpredictable, from a strong source of entropy). */
    private int nextMaskingKey() {
        while (true) {
            int[] block = keys;
            int i = nextKey.getAndIncrement();
            if (i < KEY_BLOCK) {
                // each index of a block is handed out once; an index taken while the block was replaced is dropped
                // (the block is set before the index restarts, so a stale block is seen here)
                if (block == keys) {
                    return block[i];
                }
                continue;
            }
            keyLock.lock();
            try {
                if (nextKey.get() >= KEY_BLOCK) {
                    byte[] raw = new byte[KEY_BLOCK * 4];
                    random.nextBytes(raw);
                    int[] fresh = new int[KEY_BLOCK];
                    ByteBuffer.wrap(raw).asIntBuffer().get(fresh);
                    keys = fresh;
                    nextKey.set(0);
                }
            } finally {
                keyLock.unlock();
            }
        }
    }

    /**
     * The outbox's batch writer (the writer thread, or a producer writing directly, holding the write lock): small
     * frames are gathered in a pooled buffer so that many cost one socket write; a large frame is written as it is
     * (gathering it would copy it once more for no saved system call).
     */
    private void write(List<byte[]> batch) {
        int total = 0;
        for (byte[] frame : batch) {
            total += frame.length;
        }
        WriteBatch records = WriteBatch.begin(total);
        boolean written = false;
        try {
            if (batch.size() == 1) {
                writeSocket(batch.getFirst(), batch.getFirst().length);
            } else {
                gather(batch);
            }
            written = true;
        } finally {
            endBatch(records, written);
        }
        // the socket copied them: full frames' arrays go back (the outbox drops the batch before its next one)
        for (byte[] frame : batch) {
            if (frame.length > FULL_PAYLOAD) {
                FULL_FRAMES.giveBack(frame);
            }
        }
    }

    private void gather(List<byte[]> batch) {
        byte[] buf = null;
        int used = 0;
        try {
            for (byte[] frame : batch) {
                if (frame.length >= LARGE_FRAME) {
                    if (used > 0) {
                        writeSocket(buf, used);
                        used = 0;
                    }
                    writeSocket(frame, frame.length);
                    continue;
                }
                if (buf == null) {
                    buf = POOL.take();
                } else if (used + frame.length > buf.length) {
                    writeSocket(buf, used);
                    used = 0;
                }
                System.arraycopy(frame, 0, buf, used, frame.length);
                used += frame.length;
            }
            if (used > 0) {
                writeSocket(buf, used);
            }
        } finally {
            POOL.giveBack(buf);
        }
    }

    /**
     * A producer's direct write ({@link Outbox#ordered(Object, Object, java.util.function.Supplier, int, Runnable, Runnable)}), holding
     * the write lock: the frame is built in a pooled buffer and written from there, so a frame that goes out at once
     * takes no array of its own.
     */
    private void writeDirect(Opcode opCode, byte[] prefix, byte[] payload, int length) {
        int size = frameSize(prefix.length + length);
        if (size < LARGE_FRAME || size > GATHER_BUFFER) {
            // a small array costs little (a request, a reply); the pool is for bulk, where arrays of 64 KiB did
            byte[] frame = frame(opCode, prefix, payload, 0, length);
            write(List.of(frame));
            return;
        }
        byte[] buf = POOL.take();
        WriteBatch records = WriteBatch.begin(size);
        boolean written = false;
        try {
            frameInto(buf, opCode, prefix, payload, 0, length);
            writeSocket(buf, size);
            written = true;
        } finally {
            endBatch(records, written);
            POOL.giveBack(buf);
        }
    }

    /** Close a batch; after a successful write, make its deferred flush as a timed socket write. */
    private void endBatch(WriteBatch records, boolean written) {
        if (records == null) {
            return;
        }
        WriteBatch.Deferred flush = records.end();
        if (written && flush != null) {
            writeSinceNanos = System.nanoTime();
            try {
                flush.flushDeferred();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                writeSinceNanos = 0;
            }
        }
    }

    /**
     * Write bytes to the socket, at most {@link #MAX_SOCKET_WRITE} per call, recording when each call began (see
     * {@link #stalledNanos}). Called only while holding the outbox's write lock, so one write is in progress at most.
     */
    private void writeSocket(byte[] bytes, int length) {
        for (int pos = 0; pos < length; pos += MAX_SOCKET_WRITE) {
            int n = Math.min(MAX_SOCKET_WRITE, length - pos);
            writeSinceNanos = System.nanoTime();
            try {
                out.write(bytes, pos, n);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                writeSinceNanos = 0;
            }
        }
    }

    /**
     * Build one masked frame.
     *
     * @param opCode opcode, FIN set
     * @param payload source
     * @param offset start in the source
     * @param length payload length
     * @return the frame bytes
     */
    private byte[] frame(Opcode opCode, byte[] payload, int offset, int length) {
        return frame(opCode, null, payload, offset, length);
    }

    /** Bytes of a frame with a payload of {@code length} bytes, header included. */
    private int frameSize(int length) {
        return 2 + (length < 126 ? 0 : length < 65536 ? 2 : 8) + (client ? 4 : 0) + length;
    }

    /**
     * Build one masked frame whose payload is an optional prefix followed by part of an array.
     *
     * @param opCode opcode, FIN set
     * @param prefix bytes before the payload, or null
     * @param payload source
     * @param offset start in the source
     * @param payloadLength bytes taken from the source
     * @return the frame bytes
     */
    private byte[] frame(Opcode opCode, byte[] prefix, byte[] payload, int offset, int payloadLength) {
        int prefixLength = prefix == null ? 0 : prefix.length;
        byte[] frame = new byte[frameSize(prefixLength + payloadLength)];
        frameInto(frame, opCode, prefix, payload, offset, payloadLength);
        return frame;
    }

    /**
     * Build one masked frame at the start of {@code frame}, which has room for {@link #frameSize} bytes.
     *
     * @param frame destination
     * @param opCode opcode, FIN set
     * @param prefix bytes before the payload, or null
     * @param payload source (not changed: a client masks the copy)
     * @param offset start in the source
     * @param payloadLength bytes taken from the source
     */
    private void frameInto(byte[] frame, Opcode opCode, byte[] prefix, byte[] payload, int offset, int payloadLength) {
        int prefixLength = prefix == null ? 0 : prefix.length;
        int length = prefixLength + payloadLength;
        frame[0] = (byte) (0x80 | opCode.code());
        int maskBit = client ? 0x80 : 0;
        int pos;
        if (length < 126) {
            frame[1] = (byte) (maskBit | length);
            pos = 2;
        } else if (length < 65536) {
            frame[1] = (byte) (maskBit | 126);
            frame[2] = (byte) (length >>> 8);
            frame[3] = (byte) length;
            pos = 4;
        } else {
            frame[1] = (byte) (maskBit | 127);
            for (int i = 0; i < 8; i++) {
                frame[2 + i] = (byte) ((long) length >>> (56 - 8 * i));
            }
            pos = 10;
        }
        int key = 0;
        if (client) {
            key = nextMaskingKey();
            frame[pos] = (byte) (key >>> 24);
            frame[pos + 1] = (byte) (key >>> 16);
            frame[pos + 2] = (byte) (key >>> 8);
            frame[pos + 3] = (byte) key;
            pos += 4;
        }
        if (prefixLength > 0) {
            System.arraycopy(prefix, 0, frame, pos, prefixLength);
        }
        System.arraycopy(payload, offset, frame, pos + prefixLength, payloadLength);
        if (client) {
            Masking.mask(frame, pos, length, key);
        }
    }
}
