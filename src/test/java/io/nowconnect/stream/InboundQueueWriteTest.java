package io.nowconnect.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import io.nowconnect.buffer.ArrayPool;
import org.junit.jupiter.api.Test;

/**
 * {@link InboundQueue#writeTo}: the bytes go out whole and in order; small entries in a row share a write, a large
 * entry is written from its own array (no copy), and one entry alone is never copied.
 */
class InboundQueueWriteTest {
    /** Records each write: the array passed and the bytes. */
    private static final class Recorder extends ByteArrayOutputStream {
        final List<byte[]> arrays = new ArrayList<>();
        final List<Integer> lengths = new ArrayList<>();

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            arrays.add(b);
            lengths.add(len);
            super.write(b, off, len);
        }
    }

    @Test
    void smallEntriesShareAWriteLargeOnesGoFromTheirOwnArrays() throws Exception {
        byte[] a = filled(100, 1);
        byte[] b = filled(200, 2);
        byte[] large = filled(InboundQueue.GATHER + 5, 3);
        byte[] c = filled(300, 4);
        List<InboundQueue.Entry> entries = List.of(entry(a), entry(b), entry(large), entry(c));
        Recorder out = new Recorder();

        int n = InboundQueue.writeTo(out, entries);

        assertEquals(a.length + b.length + large.length + c.length, n);
        assertArrayEquals(concat(a, b, large, c), out.toByteArray(), "every byte, in order");
        assertEquals(List.of(300, large.length, 300), out.lengths, "a and b together, the large one, then c");
        assertSame(large, out.arrays.get(1), "the large entry written from its own array, not copied");
    }

    @Test
    void writtenEntriesGiveOnlyTheirPayloadPoolSizedArraysBack() {
        ArrayPool pool = InboundQueue.PAYLOADS;
        // empty the process's pool first (other tests of this JVM may have left arrays in it)
        List<byte[]> held = new ArrayList<>();
        while (pool.pooled() > 0) {
            held.add(pool.take());
        }
        byte[] full = new byte[pool.arrayBytes()];
        byte[] other = new byte[pool.arrayBytes() - 1];
        InboundQueue.recycle(List.of(entry(full), entry(other)));
        List<byte[]> back = new ArrayList<>();
        while (pool.pooled() > 0) {
            back.add(pool.take());
        }
        assertTrue(back.stream().anyMatch(b -> b == full), "the array of the pool's size went back");
        assertTrue(back.stream().noneMatch(b -> b == other), "an array of another size did not");
        held.forEach(pool::giveBack);
    }

    @Test
    void oneEntryAloneIsNeverCopied() throws Exception {
        byte[] only = filled(50, 7);
        Recorder out = new Recorder();
        assertEquals(50, InboundQueue.writeTo(out, List.of(entry(only))));
        assertSame(only, out.arrays.getFirst());
    }

    @Test
    void smallEntriesBeyondTheGatherSizeTakeSeveralWrites() throws Exception {
        List<InboundQueue.Entry> entries = new ArrayList<>();
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        for (int i = 0; i < 40; i++) {
            byte[] e = filled(1000, i);
            entries.add(entry(e));
            expected.write(e);
        }
        Recorder out = new Recorder();
        assertEquals(40_000, InboundQueue.writeTo(out, entries));
        assertArrayEquals(expected.toByteArray(), out.toByteArray());
        assertEquals(3, out.lengths.size(), "16 + 16 + 8 entries of 1,000 bytes: " + out.lengths);
    }

    private static InboundQueue.Entry entry(byte[] data) {
        return new InboundQueue.Entry(data, data.length, MemoryBudget.round(data.length + InboundQueue.ENTRY_OVERHEAD));
    }

    private static byte[] filled(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed * 31 + i);
        }
        return b;
    }

    private static byte[] concat(byte[]... parts) {
        byte[] all = new byte[Arrays.stream(parts).mapToInt(p -> p.length).sum()];
        int pos = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, all, pos, p.length);
            pos += p.length;
        }
        return all;
    }
}
