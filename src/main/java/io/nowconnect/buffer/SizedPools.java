package io.nowconnect.buffer;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A few {@link ArrayPool}s of different array sizes, each made when its size is first asked for: for arrays whose
 * exact size is known only at run time but takes few values in a process (a whole {@code bin1} DATA frame of a full
 * payload is one size per cid length and masking, and a process's cids have one or two lengths). Once every pool is
 * made, other sizes are neither pooled nor kept, so the whole retains at most {@code pools x slots} arrays of the sizes
 * first asked for.
 *
 * <p>Threads: any; lock-free.
 */
public final class SizedPools {
    private final AtomicReferenceArray<ArrayPool> pools;
    private final int slots;

    /**
     * No pools yet.
     *
     * @param pools how many sizes are pooled at most
     * @param slots arrays kept per size
     */
    public SizedPools(int pools, int slots) {
        if (pools <= 0 || slots <= 0) {
            throw new IllegalArgumentException("pools and slots must be positive");
        }
        this.pools = new AtomicReferenceArray<>(pools);
        this.slots = slots;
    }

    /**
     * An array of exactly {@code size} bytes: from that size's pool (made now if there is room for another), or new.
     *
     * @param size array length
     * @return array, the caller's alone until given back
     */
    public byte[] take(int size) {
        for (int i = 0; i < pools.length(); i++) {
            ArrayPool p = pools.get(i);
            if (p == null) {
                pools.compareAndSet(i, null, new ArrayPool(size, slots));
                p = pools.get(i);
            }
            if (p.arrayBytes() == size) {
                return p.take();
            }
        }
        return new byte[size];
    }

    /**
     * Give an array back to the pool of its size, if there is one (else it is left to the collector). The caller must
     * not use it again.
     *
     * @param array array (null is ignored)
     */
    public void giveBack(byte[] array) {
        if (array == null) {
            return;
        }
        for (int i = 0; i < pools.length(); i++) {
            ArrayPool p = pools.get(i);
            if (p == null) {
                return;
            }
            if (p.arrayBytes() == array.length) {
                p.giveBack(array);
                return;
            }
        }
    }

    /**
     * Arrays kept now of one size (for tests and gauges).
     *
     * @param size array length
     * @return arrays kept, 0 when that size has no pool
     */
    public int pooled(int size) {
        for (int i = 0; i < pools.length(); i++) {
            ArrayPool p = pools.get(i);
            if (p != null && p.arrayBytes() == size) {
                return p.pooled();
            }
        }
        return 0;
    }
}
