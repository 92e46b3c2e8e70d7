package io.nowconnect.stream;

/**
 * A stream's socket-read buffer: small while the stream is quiet, large while reads fill it (bulk), so that idle
 * streams stay cheap. What the large buffer holds beyond the small one is charged to the sending share of the
 * {@link MemoryBudget}; it grows only when the budget has room.
 *
 * <p>Threads: the stream's socket reader alone; no locks.
 */
final class ReadBuffer {
    private final Account account;
    private final int small;
    private final int large;
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
        this.account = account;
        this.small = small;
        this.large = large;
        this.buf = new byte[small];
    }

    /** The array to read into (its length is what one read may take). */
    byte[] array() {
        return buf;
    }

    /** Whether {@code n} bytes read are a small read (an interactive request or answer). */
    boolean isSmall(int n) {
        return n <= small;
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
                buf = new byte[large];
                charge = want;
            }
        } else if (n < small && n < room) {
            shrink();
        }
    }

    /** Hold only the small buffer (before a wait that may last: no credit, or a quiet socket). */
    void shrink() {
        if (buf.length > small) {
            buf = new byte[small];
            release();
        }
    }

    /** Give the large buffer's charge back (the stream ends, or the buffer shrank). */
    void release() {
        account.releaseSent(charge);
        charge = 0;
    }
}
