package io.nowconnect.ws;

import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;

/**
 * Test input that hands out its chunks as separate reads, as if each arrived in one socket read (a read never spans
 * two chunks), then end of stream.
 */
public final class ChunkedInput extends InputStream {
    private final Queue<byte[]> chunks;
    private byte[] current = new byte[0];
    private int pos;

    /**
     * Input over the chunks, in order.
     *
     * @param chunks what each read returns (a read asking for less returns part of a chunk)
     */
    public ChunkedInput(List<byte[]> chunks) {
        this.chunks = new ArrayDeque<>(chunks);
    }

    /**
     * A reader's view of the chunks.
     *
     * @param chunks what each read returns
     * @return upgraded-socket streams with this input (the output discards)
     */
    public static UpgradedSocket socket(List<byte[]> chunks) {
        return UpgradedSocket.of(new ChunkedInput(chunks), OutputStream.nullOutputStream());
    }

    @Override
    public int read() {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) {
        while (pos == current.length) {
            byte[] next = chunks.poll();
            if (next == null) {
                return -1;
            }
            current = next;
            pos = 0;
        }
        if (len == 0) {
            return 0;
        }
        int n = Math.min(len, current.length - pos);
        System.arraycopy(current, pos, b, off, n);
        pos += n;
        return n;
    }
}
