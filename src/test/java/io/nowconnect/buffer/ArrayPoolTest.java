package io.nowconnect.buffer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ArrayPool}: an array given back is the next one taken, the pool keeps no more than its slots whatever is given
 * back, arrays of another size are not kept, and threads that take and give back at once never share an array.
 */
class ArrayPoolTest {
    @Test
    void anArrayGivenBackIsTakenAgain() {
        ArrayPool pool = new ArrayPool(1024, 2);
        byte[] a = pool.take();
        assertEquals(1024, a.length);
        pool.giveBack(a);
        assertEquals(1, pool.pooled());
        assertSame(a, pool.take());
        assertEquals(0, pool.pooled());
        assertNotSame(a, pool.take(), "an empty pool gives a new array");
    }

    @Test
    void keepsNoMoreThanItsSlots() {
        ArrayPool pool = new ArrayPool(64, 3);
        for (int i = 0; i < 10; i++) {
            pool.giveBack(new byte[64]);
        }
        assertEquals(3, pool.pooled());
        assertEquals(3 * 64, pool.boundBytes());
        pool.giveBack(new byte[65]);
        pool.giveBack(null);
        assertEquals(3, pool.pooled());
        ArrayPool other = new ArrayPool(64, 1);
        other.giveBack(new byte[32]);
        assertEquals(0, other.pooled(), "another size is not kept");
        assertThrows(IllegalArgumentException.class, () -> new ArrayPool(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new ArrayPool(1, 0));
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void concurrentTakersNeverShareAnArray() throws Exception {
        ArrayPool pool = new ArrayPool(16, 4);
        int threads = 8;
        int rounds = 20_000;
        // an array is "held" from take to giveBack: holding one that another thread holds is the failure
        Set<byte[]> held = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
        AtomicReference<String> failure = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(threads);
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            started.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < rounds && failure.get() == null; i++) {
                        byte[] a = pool.take();
                        if (!held.add(a)) {
                            failure.set("an array was taken twice at once");
                        }
                        held.remove(a);
                        pool.giveBack(a);
                    }
                } finally {
                    done.countDown();
                }
            }));
        }
        done.await();
        for (Thread t : started) {
            t.join();
        }
        assertNull(failure.get());
        // a give-back that races a take may miss the slot the take just freed (the array goes to the collector), so
        // how many the pool ends with depends on the interleaving; never more than its slots, and it still works
        assertTrue(pool.pooled() <= 4, "never more than its slots");
        while (pool.pooled() > 0) {
            pool.take();
        }
        for (int i = 0; i < 6; i++) {
            pool.giveBack(new byte[16]);
        }
        assertEquals(4, pool.pooled(), "quiet again, every free slot takes an array back");
    }
}
