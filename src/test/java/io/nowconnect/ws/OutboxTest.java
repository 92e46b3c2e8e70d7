package io.nowconnect.ws;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tunnel's two-lane writer on its own: the batch writer is a recorder that can be held (a socket that does not
 * take bytes), so the tests see exactly which items are written, in which order, on which thread, and when producers
 * block. Items are strings; their size is their length.
 */
@Timeout(60)
class OutboxTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    /** Everything written, in order, item by item. */
    private final List<String> written = new CopyOnWriteArrayList<>();
    /** The batches as the writer got them. */
    private final List<List<String>> batches = new CopyOnWriteArrayList<>();
    /** Threads that wrote, batch by batch. */
    private final List<Thread> writers = new CopyOnWriteArrayList<>();
    /** Until counted down, a write of an item starting with "hold" waits (a socket that takes no bytes). */
    private final CountDownLatch release = new CountDownLatch(1);
    private final CountDownLatch holding = new CountDownLatch(1);
    private final List<Thread> started = new ArrayList<>();
    private Outbox<String> outbox;

    @AfterEach
    void stop() throws InterruptedException {
        release.countDown();
        if (outbox != null) {
            outbox.stop();
            assertTrue(outbox.awaitStopped(WAIT), "the writer thread ends after stop()");
        }
        for (Thread t : started) {
            t.join(WAIT.toMillis());
            assertFalse(t.isAlive(), "producer thread " + t.getName() + " ended");
        }
    }

    private Outbox<String> outbox(int capacity) {
        outbox = Outbox.create("nc-test-outbox", capacity, this::write, String::length);
        return outbox;
    }

    private void write(List<String> batch) {
        writers.add(Thread.currentThread());
        batches.add(List.copyOf(batch));
        for (String item : batch) {
            if (item.startsWith("hold")) {
                holding.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while held");
                }
            }
            if (item.startsWith("fail")) {
                throw new IllegalStateException("socket broke");
            }
            written.add(item);
        }
    }

    /** A producer on its own thread that writes an item which stays held in the batch writer until released. */
    private Thread holdTheWriter() throws InterruptedException {
        Thread t = producer("hold", () -> outbox.ordered("hold"));
        assertTrue(holding.await(WAIT.toMillis(), TimeUnit.MILLISECONDS), "the held write started");
        return t;
    }

    private Thread producer(String name, Runnable r) {
        Thread t = Thread.ofVirtual().name("test-producer-" + name).start(r);
        started.add(t);
        return t;
    }

    @Test
    void anOrderedItemIsWrittenOnTheProducersThreadWhenTheOutboxIsIdle() {
        Outbox<String> box = outbox(4);
        box.ordered("a");
        // written before ordered() returned, by this thread, alone
        assertEquals(List.of("a"), written);
        assertEquals(List.of(List.of("a")), batches);
        assertSame(Thread.currentThread(), writers.getFirst());
        box.ordered("b");
        assertEquals(List.of("a", "b"), written);
        assertSame(Thread.currentThread(), writers.get(1));
    }

    @Test
    void urgentItemsOvertakeQueuedOrderedOnesAndEachLaneKeepsItsOrder() throws Exception {
        Outbox<String> box = outbox(16);
        holdTheWriter();
        // the socket is busy: these queue; the lanes keep their own order, urgent goes first
        box.ordered("o1");
        box.ordered("o2");
        box.urgent("u1");
        box.ordered("o3");
        box.urgent("u2");
        release.countDown();
        await(() -> written.size() == 6, "everything written");
        assertEquals(List.of("hold", "u1", "u2", "o1", "o2", "o3"), written);
        // the queued items went out in one batch on the writer thread, not on a producer's
        assertEquals(List.of("u1", "u2", "o1", "o2", "o3"), batches.get(1));
        assertTrue(writers.get(1).getName().equals("nc-test-outbox"), "batch written by " + writers.get(1));
    }

    @Test
    void concurrentProducersKeepTheirOwnOrder() throws Exception {
        Outbox<String> box = outbox(8);
        int perProducer = 2000;
        List<Thread> producers = new ArrayList<>();
        for (String p : List.of("x", "y", "z")) {
            producers.add(producer(p, () -> {
                for (int i = 0; i < perProducer; i++) {
                    box.ordered(p + i);
                }
            }));
        }
        for (Thread t : producers) {
            t.join(WAIT.toMillis());
        }
        await(() -> written.size() == 3 * perProducer, "every item written");
        for (String p : List.of("x", "y", "z")) {
            List<String> mine = written.stream().filter(s -> s.startsWith(p)).toList();
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < perProducer; i++) {
                expected.add(p + i);
            }
            assertEquals(expected, mine, "producer " + p + "'s items in order");
        }
    }

    @Test
    void aFullOrderedLaneBlocksItsProducerButNeverTheUrgentLane() throws Exception {
        Outbox<String> box = outbox(2);
        holdTheWriter();
        box.ordered("o1");
        box.ordered("o2");
        CountDownLatch third = new CountDownLatch(1);
        Thread blocked = producer("third", () -> {
            box.ordered("o3");
            third.countDown();
        });
        // the lane holds 2: the third producer waits (checked by its state, then by a bounded look)
        await(() -> blocked.getState() == Thread.State.TIMED_WAITING || blocked.getState() == Thread.State.WAITING,
              "third producer waiting");
        assertFalse(third.await(300, TimeUnit.MILLISECONDS), "ordered() must block while the lane is full");
        // the urgent lane does not block, even now
        box.urgent("u1");
        assertEquals(List.of(), written, "nothing written while the socket is held");
        release.countDown();
        assertTrue(third.await(WAIT.toMillis(), TimeUnit.MILLISECONDS), "the blocked producer went on once written");
        await(() -> written.size() == 5, "everything written");
        assertEquals(List.of("hold", "u1", "o1", "o2", "o3"), written);
    }

    @Test
    void tooManyUnsentUrgentBytesFailTheOutbox() throws Exception {
        Outbox<String> box = outbox(4);
        holdTheWriter();
        int item = 256 * 1024;
        String big = "u".repeat(item);
        long fit = Outbox.URGENT_LIMIT_BYTES / item;
        for (long i = 0; i < fit; i++) {
            box.urgent(big);
        }
        assertFalse(box.isClosed(), "exactly the limit is allowed");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> box.urgent("u"));
        assertTrue(e.getCause() != null && e.getCause().getMessage().contains("the peer does not read"), e.toString());
        assertTrue(box.isClosed());
        assertThrows(IllegalStateException.class, () -> box.ordered("o"));
        release.countDown();
        assertTrue(box.awaitStopped(WAIT), "the writer ends after the failure");
        await(() -> written.contains("hold"), "the held write finishes");
        assertEquals(List.of("hold"), written, "nothing queued is written after the failure");
    }

    @Test
    void stopDropsPendingItemsRefusesNewOnesAndReleasesABlockedProducer() throws Exception {
        Outbox<String> box = outbox(1);
        holdTheWriter();
        box.ordered("o1");
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        Thread blocked = producer("blocked", () -> {
            try {
                box.ordered("o2");
            } catch (Throwable t) {
                thrown.set(t);
            } finally {
                done.countDown();
            }
        });
        await(() -> blocked.getState() == Thread.State.TIMED_WAITING || blocked.getState() == Thread.State.WAITING,
              "second producer waiting");
        box.stop();
        assertTrue(box.isClosed());
        assertTrue(done.await(WAIT.toMillis(), TimeUnit.MILLISECONDS), "stop() releases a producer blocked on a full lane");
        assertTrue(thrown.get() instanceof IllegalStateException, "and it learns the outbox is closed: " + thrown.get());
        assertThrows(IllegalStateException.class, () -> box.ordered("late"));
        assertThrows(IllegalStateException.class, () -> box.urgent("late"));
        assertTrue(box.awaitStopped(WAIT), "the writer thread ends");
        release.countDown();
        await(() -> written.contains("hold"), "the held write finishes");
        assertEquals(List.of("hold"), written, "pending items are dropped, not written");
    }

    @Test
    void theLastItemGoesOutAfterEverythingQueuedAndNothingAfterIt() throws Exception {
        Outbox<String> box = outbox(8);
        holdTheWriter();
        box.ordered("o1");
        box.urgent("u1");
        box.ordered("o2");
        box.last("close");
        box.last("second close"); // ignored: there is one last item
        IllegalStateException closing = assertThrows(IllegalStateException.class, () -> box.ordered("o3"));
        assertTrue(closing.getMessage().contains("closing"), closing.getMessage());
        assertThrows(IllegalStateException.class, () -> box.urgent("u2"));
        release.countDown();
        assertTrue(box.awaitStopped(WAIT), "the writer ends after the last item");
        assertEquals(List.of("hold", "u1", "o1", "o2", "close"), written);
        assertTrue(box.isClosed());
    }

    @Test
    void aFailedDirectWriteClosesTheOutbox() {
        Outbox<String> box = outbox(4);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> box.ordered("fail"));
        assertEquals("socket broke", e.getCause().getMessage());
        assertTrue(box.isClosed());
        assertThrows(IllegalStateException.class, () -> box.ordered("a"));
        assertThrows(IllegalStateException.class, () -> box.urgent("b"));
        assertTrue(box.awaitStopped(WAIT), "the writer thread ends too");
    }

    @Test
    void aFailedBatchWriteClosesTheOutbox() throws Exception {
        Outbox<String> box = outbox(4);
        holdTheWriter();
        box.urgent("fail");
        box.ordered("after");
        release.countDown();
        assertTrue(box.awaitStopped(WAIT), "the writer ends at the failure");
        await(() -> written.contains("hold"), "the held write finishes");
        assertTrue(box.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> box.ordered("x"));
        assertEquals("socket broke", e.getCause().getMessage(), "the failure is the cause");
        assertEquals(List.of("hold"), written);
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted");
            }
        }
    }
}
