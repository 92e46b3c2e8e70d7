package io.nowconnect.stream;

import io.nowconnect.buffer.ArrayPool;
import io.nowconnect.protocol.BinaryCodec;

/**
 * A stream's socket-read buffer: small while the stream is quiet, large while reads fill it (bulk), so that idle
 * streams stay cheap. What the large buffer holds beyond the small one is charged to the sending share of the
 * {@link MemoryBudget}; it grows only when the budget has room.
 *
 * <p>A bulk stream whose credit runs out shrinks before it waits, and grows again at its next full read: with small
 * windows (thousands of streams) that is once per window. So the small array is kept for the stream's life, and large
 * arrays of the {@code bin1} size come from {@link #LARGE}, not the heap: a 2,000-stream upload allocated a new 64 KiB
 * array per window, 37 % of the hub's allocation (JFR), and young collections took a third of its time.
 *
 * <p>Threads: the stream's socket reader alone; no locks.
 */
final class ReadBuffer {
    /** Large arrays between two bulk turns of any stream of the process: at most 32 x 64 KiB (2 MiB) kept. */
    static final ArrayPool LARGE = new ArrayPool(BinaryCodec.MAX_DATA_PAYLOAD, 32);

    private final Account account;
    private final ArrayPool pool;
    private final int small;
    private final int large;
    private final byte[] smallArray;
    private byte[] buf;
    /** What the large buffer is charged (the small one is part of the stream's fixed cost). */
    private int charge;

    /**
     * A buffer that starts small.
     *
     * @param account the tenant whose share pays for the large buffer
     * @param small bytes of the quiet buffer
     * @param large bytes of the bulk buffer
     */
    ReadBuffer(Account account, int small, int large) {
        this(account, small, large, LARGE);
    }

    /** A buffer whose large arrays come from the given pool (when of its size). */
    ReadBuffer(Account account, int small, int large, ArrayPool pool) {
        this.account = account;
        this.pool = pool;
        this.small = small;
        this.large = large;
        this.smallArray = new byte[small];
        this.buf = smallArray;
    }

    /** The array to read into (its length is what one read may take). */
    byte[] array() {
        return buf;
    }

    /**
     * Whether {@code n} bytes read are a small read: less than the quiet buffer, so the socket had nothing more (an
     * interactive request or answer). A read that fills the quiet buffer is the start of bulk, not a request: 2,000
     * uploads starting at once would otherwise take the small frames' room and their place in line.
     */
    boolean isSmall(int n) {
        return n < small;
    }

    /**
     * Size the buffer for the next read after one that gave {@code n} bytes of {@code room} asked: a full read makes
     * it large (if the budget has room), a short one while the socket had less than asked makes it small again.
     *
     * @param n bytes read
     * @param room bytes asked (the buffer, or less when the credit was smaller)
     */
    void adapt(int n, int room) {
        if (n == buf.length && buf.length < large) {
            int want = MemoryBudget.round(large);
            if (account.tryAcquireToSend(want, false)) {
                buf = large == pool.arrayBytes() ? pool.take() : new byte[large];
                charge = want;
            }
        } else if (n < small && n < room) {
            shrink();
        }
    }

    /** Hold only the small buffer (before a wait that may last: no credit, or a quiet socket). */
    void shrink() {
        if (buf != smallArray) {
            pool.giveBack(buf);
            buf = smallArray;
            account.releaseSent(charge);
            charge = 0;
        }
    }

    /** The stream ends: the large array goes back to the pool, its charge to the budget. */
    void close() {
        shrink();
    }
}
