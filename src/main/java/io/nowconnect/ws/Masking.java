package io.nowconnect.ws;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * RFC 6455 section 5.3 masking, eight bytes per step: the XOR of the payload with the repeated 4-byte key. Masking and
 * unmasking are the same operation. Stateless: any thread, no locks.
 */
final class Masking {
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private Masking() {
    }

    /**
     * XOR {@code length} bytes at {@code offset} with the masking key.
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
