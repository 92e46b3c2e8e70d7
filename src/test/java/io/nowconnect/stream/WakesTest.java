package io.nowconnect.stream;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.nowconnect.testkit.Harness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Wakes}: past {@link Wakes#RUNNABLE} threads woken and not yet run, bulk wake-ups and new threads wait their
 * turn, in order, and small wake-ups never do; and with real stream queues, flow control and threads, no wake-up is
 * ever lost (every byte queued is taken, every credit wait ends) and the counts end at zero.
 */
@Timeout(60)
class WakesTest {
    /** A tunnel's wake-ups with {@link Wakes#RUNNABLE} threads counted as runnable: the next bulk one waits. */
    private static Wakes atTheBound() {
        Wakes wakes = new Wakes();
        for (int i = 0; i < Wakes.RUNNABLE; i++) {
            wakes.woke();
        }
        return wakes;
    }

    @Test
    void bulkWakeUpsPastTheBoundWaitTheirTurnInOrderAndSmallOnesNever() {
        Wakes wakes = new Wakes();
        for (int i = 0; i < Wakes.RUNNABLE - 1; i++) {
            wakes.woke();
        }
        assertTrue(wakes.mayWake(false), "below the bound a bulk wake-up goes at once");
        wakes.woke();
        assertFalse(wakes.mayWake(false), "at the bound it waits");
        assertTrue(wakes.mayWake(true), "a small one never waits");

        List<Integer> order = new CopyOnWriteArrayList<>();
        for (int i = 1; i <= 3; i++) {
            int n = i;
            wakes.defer(() -> {
                order.add(n);
                wakes.woke();
            });
        }
        assertEquals(3, wakes.deferred());
        wakes.drain();
        assertEquals(List.of(), order, "nothing runs while the bound is reached");
        wakes.ran();
        assertEquals(List.of(1), order, "one ran, the first deferred takes its place");
        wakes.ran();
        wakes.ran();
        assertEquals(List.of(1, 2, 3), order);
        assertEquals(0, wakes.deferred());
        assertEquals(Wakes.RUNNABLE, wakes.pending());
    }

    @Test
    void aDeferredStartGoesBeforeDeferredBulkWakeUps() throws InterruptedException {
        Wakes wakes = atTheBound();
        List<String> order = new CopyOnWriteArrayList<>();
        // a bulk wake-up deferred first: when its turn comes its thread counts as runnable (and never runs here)
        wakes.defer(() -> {
            order.add("bulk");
            wakes.woke();
        });
        CountDownLatch started = new CountDownLatch(1);
        wakes.start("test-new-stream", "c", started::countDown, () -> { });
        assertEquals(2, wakes.deferred());
        // one turn: it goes to the new stream's thread, not to the bulk wake-up deferred before it
        wakes.ran();
        assertTrue(started.await(5, TimeUnit.SECONDS), "the new stream's thread started with the first turn: " + order);
    }

    @Test
    void aThreadStartedPastTheBoundStartsWhenAnotherRuns() throws InterruptedException {
        Wakes wakes = atTheBound();
        CountDownLatch started = new CountDownLatch(1);
        wakes.start("test-deferred", "c", started::countDown, () -> { });
        assertFalse(started.await(200, TimeUnit.MILLISECONDS), "no thread before its turn");
        assertEquals(1, wakes.deferred());
        wakes.ran();
        assertTrue(started.await(5, TimeUnit.SECONDS), "started once another ran");
        Harness.await(java.time.Duration.ofSeconds(5), () -> wakes.pending() == Wakes.RUNNABLE - 1,
                      "the started thread counted itself as run");
    }

    @Test
    void aSmallStartNeverWaits() throws InterruptedException {
        Wakes wakes = atTheBound();
        CountDownLatch started = new CountDownLatch(1);
        // a writer for an answer or a FIN: started at once, as a small wake-up is never deferred
        wakes.start("test-small-writer", "c", started::countDown, () -> { }, true);
        assertEquals(0, wakes.deferred());
        assertTrue(started.await(5, TimeUnit.SECONDS), "started at the bound");
        Harness.await(java.time.Duration.ofSeconds(5), () -> wakes.pending() == Wakes.RUNNABLE,
                      "counted while runnable, then as run");
    }

    @Test
    void deferredStartsOfConnectorsTakeTurns() throws InterruptedException {
        Wakes wakes = atTheBound();
        // each start's thread records its id: ids are given as threads are made, so sorting by id gives the order
        // of the starts, whatever order the threads then ran in (a busy machine may hold one back for a while)
        Map<Long, String> started = new ConcurrentSkipListMap<>();
        CountDownLatch all = new CountDownLatch(103);
        // a burst of 100 starts on one connector, then one on each of three others
        for (int i = 0; i < 100; i++) {
            String name = "storm-" + i;
            wakes.start(name, "storm", () -> {
                started.put(Thread.currentThread().threadId(), name);
                all.countDown();
            }, () -> { });
        }
        for (String c : List.of("a", "b", "c")) {
            wakes.start(c, c, () -> {
                started.put(Thread.currentThread().threadId(), c);
                all.countDown();
            }, () -> { });
        }
        assertEquals(103, wakes.deferred());
        // one turn: each started thread, as it runs, gives the next start its turn; in turns, the three others come
        // right after the storm's first, not after its 100
        wakes.ran();
        assertTrue(all.await(10, TimeUnit.SECONDS), "every start ran: " + started.size());
        List<String> order = new ArrayList<>(started.values());
        for (String c : List.of("a", "b", "c")) {
            assertTrue(order.indexOf(c) < 6, c + " started within the first turns: " + order.subList(0, 10));
        }
        assertTrue(order.indexOf("storm-99") > 96, "the storm's starts keep their order: " + order.subList(90, 103));
        assertEquals(0, wakes.deferred());
    }

    /**
     * 300 stream queues whose writer sessions start as {@link Stream} starts them (on the first bytes to a queue without
     * one, at once when small, in turn when bulk), 4 producers adding small and bulk payloads at random (the tunnel's
     * reader calls {@link Wakes#drain} after each frame, as here) and an idle sweep retiring waiting sessions all the
     * while: every byte reaches a writer, at most one session per queue runs at a time, a sweep leaves no session
     * running, every FIN is taken, and nothing is left counted or deferred.
     */
    @Test
    void noWakeUpIsLostUnderLoad() throws Exception {
        Wakes wakes = new Wakes();
        int queues = 300;
        List<InboundQueue> inbound = new ArrayList<>();
        AtomicLong taken = new AtomicLong();
        AtomicLong maxDeferred = new AtomicLong();
        AtomicLong sessions = new AtomicLong();
        AtomicLong overlapping = new AtomicLong();
        AtomicLong running = new AtomicLong();
        CountDownLatch finsTaken = new CountDownLatch(queues);
        for (int i = 0; i < queues; i++) {
            String name = "test-writer-" + i;
            // the session that started last: one still taking after another started would find it changed (a
            // session that ended takes nothing more, whenever its thread gets to return)
            AtomicReference<Thread> owner = new AtomicReference<>();
            InboundQueue[] self = new InboundQueue[1];
            Runnable session = () -> {
                owner.set(Thread.currentThread());
                running.incrementAndGet();
                List<InboundQueue.Entry> batch = new ArrayList<>();
                try {
                    while (true) {
                        batch.clear();
                        InboundQueue.Take took = self[0].take(batch, true);
                        if (took != InboundQueue.Take.NONE && owner.get() != Thread.currentThread()) {
                            overlapping.incrementAndGet();
                        }
                        for (InboundQueue.Entry e : batch) {
                            taken.addAndGet(e.length());
                        }
                        if (took == InboundQueue.Take.FIN) {
                            finsTaken.countDown();
                            return;
                        }
                        if (took == InboundQueue.Take.NONE) {
                            return;
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    running.decrementAndGet();
                }
            };
            InboundQueue q = new InboundQueue(wakes, small -> {
                sessions.incrementAndGet();
                wakes.start(name, "c", session, () -> { }, small);
            });
            self[0] = q;
            inbound.add(q);
            assertFalse(q.release(), "nothing queued yet: no session");
        }
        // one producer per queue at a time, as the tunnel has one reader: each producer owns a quarter of the queues
        int producers = 4;
        long[] added = new long[producers];
        List<Thread> producing = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            int me = p;
            producing.add(Thread.ofPlatform().start(() -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                for (int i = 0; i < 20_000; i++) {
                    int index = me + producers * r.nextInt(queues / producers);
                    InboundQueue q = inbound.get(index);
                    // mostly bulk (the wake-ups that may wait), some small (those that never do)
                    int length = r.nextInt(10) == 0 ? 1 + r.nextInt(200) : 4096;
                    assertTrue(q.add(new byte[length], q.chargeFor(length)));
                    added[me] += length;
                    maxDeferred.accumulateAndGet(wakes.deferred(), Math::max);
                    wakes.drain();
                }
            }));
        }
        // the idle sweep at the same time, its quiet time taken as passed: sessions retire while bytes keep coming
        AtomicLong retired = new AtomicLong();
        java.util.concurrent.atomic.AtomicBoolean producersDone = new java.util.concurrent.atomic.AtomicBoolean();
        Thread sweeper = Thread.ofPlatform().start(() -> {
            while (!producersDone.get()) {
                for (InboundQueue q : inbound) {
                    if (q.retireIfQuiet(System.nanoTime() + 2 * InboundQueue.QUIET_NANOS)) {
                        retired.incrementAndGet();
                    }
                }
                wakes.drain();
            }
        });
        for (Thread t : producing) {
            t.join();
        }
        producersDone.set(true);
        sweeper.join();
        long sum = 0;
        for (long a : added) {
            sum += a;
        }
        long expected = sum;
        // before any FIN (which always wakes at once): a lost bulk wake-up would leave bytes queued for good
        Harness.await(java.time.Duration.ofSeconds(10), () -> {
            wakes.drain();
            return taken.get() == expected;
        }, () -> "every byte queued was taken: " + taken.get() + " of " + expected + ", deferred " + wakes.deferred());
        assertTrue(maxDeferred.get() > 0, "the load made bulk writers' starts wait their turn");
        // the bound: a queue has at most one session running or starting, so at most one deferred start
        assertTrue(maxDeferred.get() <= queues, "at most one deferred start per stream: " + maxDeferred.get());
        assertEquals(0, overlapping.get(), "never two sessions of one queue at once");
        assertTrue(retired.get() > 0 && sessions.get() > queues,
                   "sessions were retired and later bytes started new ones: " + retired.get() + " retired, "
                   + sessions.get() + " started");
        // a sweep of quiet queues ends every session: no thread is left for an idle stream
        Harness.await(java.time.Duration.ofSeconds(10), () -> {
            for (InboundQueue q : inbound) {
                q.retireIfQuiet(System.nanoTime() + 2 * InboundQueue.QUIET_NANOS);
            }
            wakes.drain();
            return running.get() == 0;
        }, () -> "every session retired: " + running.get() + " running");
        for (InboundQueue q : inbound) {
            assertFalse(q.retireIfQuiet(System.nanoTime()), "nothing to retire without a session");
        }
        for (InboundQueue q : inbound) {
            q.finish();
        }
        for (int i = 0; i < 100 && finsTaken.getCount() > 0; i++) {
            wakes.drain();
            finsTaken.await(50, TimeUnit.MILLISECONDS);
        }
        assertEquals(0, finsTaken.getCount(), "every FIN started a session that took it");
        assertEquals(0, wakes.pending(), "every wake-up counted ran");
        assertEquals(0, wakes.deferred(), "nothing left waiting its turn");
    }

    /** Credit waits end whatever the interleaving: 200 readers spend 1 MiB each in grants of 1 to 4 KiB. */
    @Test
    void everyCreditWaitEnds() throws Exception {
        Wakes wakes = new Wakes();
        Account account = Shares.of(MemoryBudget.create(64L << 20)).open("agent-a");
        int readers = 200;
        long each = 1 << 20;
        List<FlowControl> flows = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(readers);
        for (int i = 0; i < readers; i++) {
            FlowControl flow = new FlowControl(4096, 0, account, wakes);
            flows.add(flow);
            wakes.start("test-reader-" + i, "c", () -> {
                long spent = 0;
                while (spent < each) {
                    long c = flow.awaitCredit(StreamObserver.NONE);
                    if (c < 0) {
                        return;
                    }
                    int n = (int) Math.min(c, each - spent);
                    flow.take(n);
                    spent += n;
                }
                done.countDown();
            }, () -> { });
        }
        long[] granted = new long[readers];
        ThreadLocalRandom r = ThreadLocalRandom.current();
        int open = readers;
        while (open > 0) {
            open = 0;
            for (int i = 0; i < readers; i++) {
                if (granted[i] < each) {
                    int g = (int) Math.min(1024 + r.nextInt(3 * 1024), each - granted[i]);
                    assertTrue(flows.get(i).granted(g));
                    granted[i] += g;
                    open++;
                }
            }
            wakes.drain();
        }
        for (int i = 0; i < 100 && done.getCount() > 0; i++) {
            wakes.drain();
            done.await(50, TimeUnit.MILLISECONDS);
        }
        assertEquals(0, done.getCount(), "every reader got all its credit");
        Harness.await(java.time.Duration.ofSeconds(5), () -> wakes.pending() == 0 && wakes.deferred() == 0,
                      "nothing left counted or waiting its turn");
    }
}
