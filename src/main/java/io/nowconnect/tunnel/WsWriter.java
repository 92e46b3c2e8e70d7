package io.nowconnect.tunnel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.concurrent.locks.ReentrantLock;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.DataWriter;

/**
 * Writes client-to-server WebSocket frames (RFC 6455 section 5.2) on a connection that Helidon's HTTP/1 client upgraded.
 *
 * <p>Why not {@code ClientWsConnection}: in Helidon 4.2.0 its sends share one buffer without a lock (concurrent sends
 * corrupt frames), it masks one byte at a time (half the client's CPU at bulk rates) and it gives no signal when the
 * connection ends. Here every write holds one fair lock (stream threads take turns, none starves), the payload is
 * masked eight bytes at a time, and failures surface as exceptions to the caller.
 *
 * <p>Thread-safe. Each frame is written with one call to the socket while the lock is held.
 */
final class WsWriter {
    static final int OP_CONTINUATION = 0x0;
    static final int OP_TEXT = 0x1;
    static final int OP_BINARY = 0x2;
    static final int OP_CLOSE = 0x8;
    static final int OP_PING = 0x9;
    static final int OP_PONG = 0xA;

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private final ReentrantLock lock = new ReentrantLock(true);
    private final DataWriter out;
    private final SecureRandom random = new SecureRandom();
    private boolean closeSent;

    WsWriter(DataWriter out) {
        this.out = out;
    }

    void text(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        frame(OP_TEXT, utf8, 0, utf8.length);
    }

    void binary(byte[] data, int offset, int length) {
        frame(OP_BINARY, data, offset, length);
    }

    void ping(byte[] payload) {
        frame(OP_PING, payload, 0, payload.length);
    }

    void pong(byte[] payload) {
        frame(OP_PONG, payload, 0, Math.min(payload.length, 125));
    }

    /**
     * Send a close frame once; later calls do nothing.
     *
     * @param code close code
     * @param reason short reason, truncated to fit a control frame
     */
    void close(int code, String reason) {
        lock.lock();
        try {
            if (closeSent) {
                return;
            }
            byte[] r = reason.getBytes(StandardCharsets.UTF_8);
            int len = Math.min(r.length, 123);
            byte[] payload = new byte[2 + len];
            payload[0] = (byte) (code >>> 8);
            payload[1] = (byte) code;
            System.arraycopy(r, 0, payload, 2, len);
            writeLocked(OP_CLOSE, payload, 0, payload.length);
            closeSent = true;
        } finally {
            lock.unlock();
        }
    }

    private void frame(int opCode, byte[] payload, int offset, int length) {
        lock.lock();
        try {
            if (closeSent) {
                throw new IllegalStateException("WebSocket close already sent");
            }
            writeLocked(opCode, payload, offset, length);
        } finally {
            lock.unlock();
        }
    }

    private void writeLocked(int opCode, byte[] payload, int offset, int length) {
        int headerLength = 2 + (length < 126 ? 0 : length < 65536 ? 2 : 8) + 4;
        byte[] frame = new byte[headerLength + length];
        frame[0] = (byte) (0x80 | opCode);
        int pos;
        if (length < 126) {
            frame[1] = (byte) (0x80 | length);
            pos = 2;
        } else if (length < 65536) {
            frame[1] = (byte) (0x80 | 126);
            frame[2] = (byte) (length >>> 8);
            frame[3] = (byte) length;
            pos = 4;
        } else {
            frame[1] = (byte) (0x80 | 127);
            for (int i = 0; i < 8; i++) {
                frame[2 + i] = (byte) ((long) length >>> (56 - 8 * i));
            }
            pos = 10;
        }
        int key = random.nextInt();
        frame[pos] = (byte) (key >>> 24);
        frame[pos + 1] = (byte) (key >>> 16);
        frame[pos + 2] = (byte) (key >>> 8);
        frame[pos + 3] = (byte) key;
        pos += 4;
        System.arraycopy(payload, offset, frame, pos, length);
        mask(frame, pos, length, key);
        out.writeNow(BufferData.create(frame));
    }

    /**
     * XOR {@code length} bytes at {@code offset} with the 4-byte masking key, eight bytes per step.
     *
     * @param data buffer
     * @param offset start of the payload (the key applies from here)
     * @param length payload length
     * @param key masking key, big-endian
     */
    static void mask(byte[] data, int offset, int length, int key) {
        long mask = ((long) key << 32) | (key & 0xFFFFFFFFL);
        int i = 0;
        int limit = length - 7;
        for (; i < limit; i += 8) {
            long v = (long) LONGS.get(data, offset + i);
            LONGS.set(data, offset + i, v ^ mask);
        }
        for (; i < length; i++) {
            data[offset + i] ^= (byte) (key >>> (24 - 8 * (i & 3)));
        }
    }
}
