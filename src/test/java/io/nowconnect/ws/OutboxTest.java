package io.nowconnect.ws;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.nowconnect.testkit.Harness;

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

    private Outbox<String> outbox() {
        outbox = Outbox.create("nc-test-outbox", this::write, String::length);
        return outbox;
    }

    /** An item of a flow: its name padded to {@code size} characters (its size in the outbox). */
    private static String item(String name, int size) {
        return name + ".".repeat(Math.max(0, size - name.length()));
    }

    /** Items written, by name (the part before the padding). */
    private List<String> writtenNames() {
        return written.stream().map(s -> s.replaceAll("\\.+$", "")).toList();
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
        Outbox<String> box = outbox();
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
        Outbox<String> box = outbox();
        holdTheWriter();
        // the socket is busy: these queue; the lanes keep their own order, urgent goes first
        box.ordered("o1");
        box.ordered("o2");
        box.urgent("u1");
        box.ordered("o3");
        box.urgent("u2");
        release.countDown();
        Harness.await(WAIT, () -> written.size() == 6, "everything written");
        assertEquals(List.of("hold", "u1", "u2", "o1", "o2", "o3"), written);
        // the queued items went out in one batch on the writer thread, not on a producer's
        assertEquals(List.of("u1", "u2", "o1", "o2", "o3"), batches.get(1));
        assertTrue(writers.get(1).getName().equals("nc-test-outbox"), "batch written by " + writers.get(1));
    }

    @Test
    void concurrentProducersKeepTheirOwnOrder() throws Exception {
        Outbox<String> box = outbox();
        int perProducer = 2000;
        List<Thread> producers = new ArrayList<>();
        for (String p : List.of("x", "y", "z")) {
            producers.add(producer(p, () -> {
                for (int i = 0; i < perProducer; i++) {
                    // x and y in flows of their own, z without a flow
                    if (p.equals("z")) {
                        box.ordered(p + i);
                    } else {
                        box.ordered(p, p + i, null);
                    }
                }
            }));
        }
        for (Thread t : producers) {
            t.join(WAIT.toMillis());
        }
        Harness.await(WAIT, () -> written.size() == 3 * perProducer, "every item written");
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
    void aFullFlowBlocksItsProducerButNeitherOtherFlowsNorTheUrgentLane() throws Exception {
        Outbox<String> box = outbox();
        holdTheWriter();
        int size = Outbox.QUEUE_LIMIT_BYTES / 2;
        box.ordered("a", item("a1", size), null);
        box.ordered("a", item("a2", size), null);
        CountDownLatch third = new CountDownLatch(1);
        Thread blocked = producer("third", () -> {
            box.ordered("a", item("a3", size), null);
            third.countDown();
        });
        // flow a holds its limit: its third item waits (checked by its state, then by a bounded look)
        Harness.await(WAIT, () -> blocked.getState() == Thread.State.TIMED_WAITING || blocked.getState() == Thread.State.WAITING,
              "third producer waiting");
        assertFalse(third.await(300, TimeUnit.MILLISECONDS), "ordered() must block while its flow is full");
        // another flow and the urgent lane do not block, even now
        box.ordered("b", "b1", null);
        box.urgent("u1");
        assertEquals(List.of(), written, "nothing written while the socket is held");
        release.countDown();
        assertTrue(third.await(WAIT.toMillis(), TimeUnit.MILLISECONDS), "the blocked producer went on once written");
        Harness.await(WAIT, () -> written.size() == 6, "everything written");
        // the urgent item first, then b1 (a new flow with one small item) ahead of the bulk flow a
        assertEquals(List.of("hold", "u1", "b1", "a1", "a2", "a3"), writtenNames());
    }

    @Test
    void aSmallItemOfAQuietFlowOvertakesBulkQueuedBeforeIt() throws Exception {
        Outbox<String> box = outbox();
        holdTheWriter();
        int bulk = 16 * 1024;
        for (int f = 0; f < 20; f++) {
            for (int i = 0; i < 4; i++) {
                box.ordered("bulk" + f, item("bulk" + f + "-" + i, bulk), null);
            }
        }
        box.ordered("probe", "probe", null);
        release.countDown();
        Harness.await(WAIT, () -> written.size() == 1 + 20 * 4 + 1, "everything written");
        // 1.3 MiB of bulk was queued first; the probe goes right after the held item
        assertEquals("probe", written.get(1), "the probe's place: " + writtenNames().subList(0, 5));
    }

    @Test
    void bulkFlowsTakeTurnsByQuantum() throws Exception {
        Outbox<String> box = outbox();
        holdTheWriter();
        int size = FrameScheduler.QUANTUM;
        for (int i = 0; i < 6; i++) {
            box.ordered("a", item("a" + i, size), null);
        }
        for (int i = 0; i < 6; i++) {
            box.ordered("b", item("b" + i, size), null);
        }
        release.countDown();
        Harness.await(WAIT, () -> written.size() == 13, "everything written");
        // b queued after all of a, yet they alternate, one quantum each per turn
        assertEquals(List.of("hold", "a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4", "a5", "b5"),
                     writtenNames());
    }

    @Test
    void everyItemsTakenCallbackRunsOnceWhetherWrittenDroppedOrRefused() throws Exception {
        Outbox<String> box = outbox();
        java.util.Map<String, Integer> runs = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.function.Function<String, Runnable> cb = name -> () -> runs.merge(name, 1, Integer::sum);
        box.ordered("a", "direct", cb.apply("direct"));
        assertEquals(1, runs.get("direct"), "a direct write runs it once written");
        holdTheWriter();
        box.ordered("a", "queued", cb.apply("queued"));
        assertEquals(null, runs.get("queued"), "not before it is written");
        box.stop();
        assertThrows(IllegalStateException.class, () -> box.ordered("a", "refused", cb.apply("refused")));
        release.countDown();
        assertTrue(box.awaitStopped(WAIT));
        Harness.await(WAIT, () -> runs.containsKey("queued"), "the dropped item's callback ran");
        assertEquals(java.util.Map.of("direct", 1, "queued", 1, "refused", 1), runs);
    }

    @Test
    void tooManyUnsentUrgentBytesFailTheOutbox() throws Exception {
        Outbox<String> box = outbox();
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
        Harness.await(WAIT, () -> written.contains("hold"), "the held write finishes");
        assertEquals(List.of("hold"), written, "nothing queued is written after the failure");
    }

    @Test
    void stopDropsPendingItemsRefusesNewOnesAndReleasesABlockedProducer() throws Exception {
        Outbox<String> box = outbox();
        holdTheWriter();
        box.ordered("f", item("o1", Outbox.QUEUE_LIMIT_BYTES), null);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        Thread blocked = producer("blocked", () -> {
            try {
                box.ordered("f", "o2", null);
            } catch (Throwable t) {
                thrown.set(t);
            } finally {
                done.countDown();
            }
        });
        Harness.await(WAIT, () -> blocked.getState() == Thread.State.TIMED_WAITING || blocked.getState() == Thread.State.WAITING,
              "second producer waiting");
        box.stop();
        assertTrue(box.isClosed());
        assertTrue(done.await(WAIT.toMillis(), TimeUnit.MILLISECONDS), "stop() releases a producer blocked on a full lane");
        assertTrue(thrown.get() instanceof IllegalStateException, "and it learns the outbox is closed: " + thrown.get());
        assertThrows(IllegalStateException.class, () -> box.ordered("late"));
        assertThrows(IllegalStateException.class, () -> box.urgent("late"));
        assertTrue(box.awaitStopped(WAIT), "the writer thread ends");
        release.countDown();
        Harness.await(WAIT, () -> written.contains("hold"), "the held write finishes");
        assertEquals(List.of("hold"), written, "pending items are dropped, not written");
    }

    @Test
    void theLastItemGoesOutAfterEverythingQueuedAndNothingAfterIt() throws Exception {
        Outbox<String> box = outbox();
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
        Outbox<String> box = outbox();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> box.ordered("fail"));
        assertEquals("socket broke", e.getCause().getMessage());
        assertTrue(box.isClosed());
        assertThrows(IllegalStateException.class, () -> box.ordered("a"));
        assertThrows(IllegalStateException.class, () -> box.urgent("b"));
        assertTrue(box.awaitStopped(WAIT), "the writer thread ends too");
    }

    @Test
    void aFailedBatchWriteClosesTheOutbox() throws Exception {
        Outbox<String> box = outbox();
        holdTheWriter();
        box.urgent("fail");
        box.ordered("after");
        release.countDown();
        assertTrue(box.awaitStopped(WAIT), "the writer ends at the failure");
        Harness.await(WAIT, () -> written.contains("hold"), "the held write finishes");
        assertTrue(box.isClosed());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> box.ordered("x"));
        assertEquals("socket broke", e.getCause().getMessage(), "the failure is the cause");
        assertEquals(List.of("hold"), written);
    }
}
