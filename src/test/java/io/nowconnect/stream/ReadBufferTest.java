package io.nowconnect.stream;

import io.nowconnect.buffer.ArrayPool;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ReadBuffer}: a full read grows it (charged to the tenant's sending share), a wait for credit shrinks it, and
 * growing again after a shrink takes the array given back to the pool, not a new one; the charge always goes back.
 */
class ReadBufferTest {
    private static final int SMALL = 2048;
    private static final int LARGE = ReadBuffer.LARGE.arrayBytes();

    @Test
    void growsOnAFullReadAndReusesItsArraysAcrossShrinks() {
        Shares shares = Shares.of(MemoryBudget.create(64L << 20));
        Account account = shares.open("t");
        ArrayPool pool = new ArrayPool(LARGE, 1);
        ReadBuffer buf = new ReadBuffer(account, SMALL, LARGE, pool);
        byte[] small = buf.array();
        assertEquals(SMALL, small.length);

        buf.adapt(SMALL, SMALL);
        byte[] large = buf.array();
        assertEquals(LARGE, large.length);
        assertTrue(account.sending() >= LARGE, "the large array is charged: " + account.sending());

        // out of credit: shrink (the large array goes to the pool, the charge back), then bulk again
        buf.shrink();
        assertSame(small, buf.array(), "the small array is the same one");
        assertEquals(0, account.sending());
        buf.adapt(SMALL, SMALL);
        assertEquals(0, pool.pooled());
        assertSame(large, buf.array(), "the large array comes back from the pool");

        buf.close();
        assertEquals(0, account.sending());
        assertSame(small, buf.array());
        assertEquals(1, pool.pooled(), "the stream's end gives it back");
    }

    @Test
    void aShortReadMakesItSmallAgainAndGivesTheChargeBack() {
        Shares shares = Shares.of(MemoryBudget.create(64L << 20));
        Account account = shares.open("t");
        ReadBuffer buf = new ReadBuffer(account, SMALL, LARGE);
        buf.adapt(SMALL, SMALL);
        assertEquals(LARGE, buf.array().length);
        buf.adapt(100, LARGE);
        assertEquals(SMALL, buf.array().length, "a short read (the socket had less) makes it small again");
        assertEquals(0, account.sending());
        buf.close();
    }
}
