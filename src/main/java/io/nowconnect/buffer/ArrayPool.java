package io.nowconnect.buffer;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Arrays of one size, kept for reuse: a fixed number of slots, so the pool retains at most {@link #boundBytes()};
 * {@link #take()} gives a pooled array or a new one when none is free, {@link #giveBack} keeps an array when a slot is
 * free and leaves it to the collector otherwise. An array taken is the taker's alone until given back; it is not
 * cleared (callers write before they read). Under contention the pool is lossy, never unsafe: a give-back that races a
 * take may find every slot it looks at taken and leave its array to the collector, and a take may miss an array given
 * back behind its scan and allocate; both only cost an allocation.
 *
 * <p>Threads: any; lock-free (one compare-and-set per slot tried).
 */
public final class ArrayPool {
    private final int arrayBytes;
    private final AtomicReferenceArray<byte[]> slots;

    /**
     * An empty pool.
     *
     * @param arrayBytes the length of every array
     * @param slots how many arrays it keeps at most
     */
    public ArrayPool(int arrayBytes, int slots) {
        if (arrayBytes <= 0 || slots <= 0) {
            throw new IllegalArgumentException("array size and slots must be positive");
        }
        this.arrayBytes = arrayBytes;
        this.slots = new AtomicReferenceArray<>(slots);
    }

    /** Length of the arrays. */
    public int arrayBytes() {
        return arrayBytes;
    }

    /** Most bytes the pool itself keeps (its slots, all full). */
    public long boundBytes() {
        return (long) arrayBytes * slots.length();
    }

    /**
     * An array of {@link #arrayBytes()}: a pooled one, or a new one when the pool is empty.
     *
     * @return array, the caller's alone
     */
    public byte[] take() {
        for (int i = 0; i < slots.length(); i++) {
            if (slots.get(i) != null) {
                byte[] b = slots.getAndSet(i, null);
                if (b != null) {
                    return b;
                }
            }
        }
        return new byte[arrayBytes];
    }

    /**
     * Give an array back; kept when a slot is free and it has the pool's size. The caller must not use it again.
     *
     * @param array array taken from this pool (null and other sizes are ignored)
     */
    public void giveBack(byte[] array) {
        if (array == null || array.length != arrayBytes) {
            return;
        }
        for (int i = 0; i < slots.length(); i++) {
            if (slots.get(i) == null && slots.compareAndSet(i, null, array)) {
                return;
            }
        }
    }

    /** Arrays kept now (for tests and gauges). */
    public int pooled() {
        int n = 0;
        for (int i = 0; i < slots.length(); i++) {
            if (slots.get(i) != null) {
                n++;
            }
        }
        return n;
    }
}
