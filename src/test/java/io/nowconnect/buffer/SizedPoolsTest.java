package io.nowconnect.buffer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

/** {@link SizedPools}: the first sizes asked for get a pool each; later sizes and unknown arrays are not kept. */
@Timeout(10)
class SizedPoolsTest {
    @Test
    void theFirstSizesArePooledOthersNot() {
        SizedPools pools = new SizedPools(2, 1);
        byte[] a = pools.take(100);
        byte[] b = pools.take(200);
        byte[] c = pools.take(300);
        assertEquals(100, a.length);
        assertEquals(200, b.length);
        assertEquals(300, c.length);

        pools.giveBack(a);
        pools.giveBack(b);
        pools.giveBack(c);
        assertEquals(1, pools.pooled(100));
        assertEquals(1, pools.pooled(200));
        assertEquals(0, pools.pooled(300), "a third size has no pool: its array is left to the collector");
        assertSame(a, pools.take(100));
        assertSame(b, pools.take(200));
        assertNotSame(c, pools.take(300));
    }

    @Test
    void eachSizeKeepsAtMostItsSlots() {
        SizedPools pools = new SizedPools(1, 2);
        pools.take(64);
        for (int i = 0; i < 5; i++) {
            pools.giveBack(new byte[64]);
        }
        assertEquals(2, pools.pooled(64));
        pools.giveBack(null);
        pools.giveBack(new byte[65]);
        assertEquals(0, pools.pooled(65));
    }
}
