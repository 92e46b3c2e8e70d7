package io.nowconnect.ws;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The writer's scheduler on its own, on one thread: which item comes next. Items are strings named
 * {@code queue:number}, their size given when added.
 */
@Timeout(30)
class FrameSchedulerTest {
    private static final int QUANTUM = FrameScheduler.QUANTUM;
    private static final int SMALL = FrameScheduler.SMALL_ITEM;

    private final FrameScheduler<String> scheduler = new FrameScheduler<>();
    private final Map<String, Integer> left = new TreeMap<>();

    private void add(String queue, int n, int bytes) {
        for (int i = 0; i < n; i++) {
            scheduler.add(queue, null, queue + ":" + i, bytes, null);
        }
    }

    private List<String> take(int maxBytes) {
        List<String> batch = new ArrayList<>();
        scheduler.take(batch, new ArrayList<>(), maxBytes, Long.MAX_VALUE,
                       (key, bytes) -> left.put((String) key, bytes));
        return batch;
    }

    private static List<String> queuesOf(List<String> items) {
        return items.stream().map(s -> s.substring(0, s.indexOf(':'))).toList();
    }

    @Test
    void itemsOfOneQueueKeepTheirOrder() {
        add("a", 5, 100);
        assertEquals(List.of("a:0", "a:1", "a:2", "a:3", "a:4"), take(Integer.MAX_VALUE));
        assertEquals(0, scheduler.size());
        assertEquals(0, scheduler.queuedBytes("a"), "an empty queue is forgotten");
    }

    @Test
    void aSmallItemOfAQuietQueueGoesBeforeQueuedBulk() {
        add("bulk", 20, QUANTUM);
        add("ssh", 1, 100);
        // the bulk queue went on the old list first, the small item on the new list: the new list is served first
        assertEquals(List.of("ssh:0", "bulk:0"), take(101));
    }

    @Test
    void aLargeFirstItemJoinsTheOldList() {
        add("bulk", 2, QUANTUM);
        add("big", 1, SMALL + 1);
        add("tiny", 1, SMALL);
        // tiny on the new list; big behind bulk on the old list, which then take turns
        assertEquals(List.of("tiny", "bulk", "big", "bulk"), queuesOf(take(Integer.MAX_VALUE)));
    }

    @Test
    void aNewQueueWithMoreThanOneItemGoesOnAsAnOldOne() {
        add("old", 4, QUANTUM);
        add("chatty", 3, 100);
        // chatty's first item as a new queue, then it waits its turn behind the old queue's quantum
        assertEquals(List.of("chatty", "old", "chatty", "chatty", "old", "old", "old"),
                     queuesOf(take(Integer.MAX_VALUE)));
    }

    @Test
    void bulkQueuesTakeTurnsOfAQuantumEach() {
        add("a", 8, QUANTUM / 2);
        add("b", 8, QUANTUM / 2);
        add("c", 2, QUANTUM / 2);
        assertEquals(List.of("a", "a", "b", "b", "c", "c", "a", "a", "b", "b", "a", "a", "b", "b", "a", "a", "b", "b"),
                     queuesOf(take(Integer.MAX_VALUE)));
    }

    @Test
    void anItemLargerThanTheQuantumGoesOutAndItsQueueSitsOutTheDebt() {
        add("huge", 2, 3 * QUANTUM);
        add("b", 6, QUANTUM);
        // huge sends once (deficit 1 quantum -> -2), then needs three turns to be owed credit again
        assertEquals(List.of("huge", "b", "b", "b", "huge", "b", "b", "b"), queuesOf(take(Integer.MAX_VALUE)));
    }

    @Test
    void aBatchStopsOnceItHoldsMaxBytesButTakesAtLeastOne() {
        add("a", 4, 1000);
        assertEquals(List.of("a:0"), take(1));
        assertEquals(List.of("a:1", "a:2"), take(1500));
        assertEquals(1, scheduler.size());
        assertEquals(1000, scheduler.queuedBytes("a"));
        assertEquals(List.of("a:3"), take(Integer.MAX_VALUE));
        assertEquals(List.of(), take(Integer.MAX_VALUE), "nothing queued, nothing taken");
    }

    @Test
    void everyTakenItemReportsWhatItsQueueStillHolds() {
        add("a", 3, 1000);
        add("b", 1, 10);
        take(1);
        assertEquals(Map.of("a", 2000), left);
        take(Integer.MAX_VALUE);
        assertEquals(Map.of("a", 0, "b", 0), left);
    }

    @Test
    void takenCallbacksComeWithTheirItemsAndClearHandsOverTheRest() {
        AtomicInteger ran = new AtomicInteger();
        for (int i = 0; i < 3; i++) {
            scheduler.add("a", null, "a:" + i, 10, ran::incrementAndGet);
        }
        scheduler.add("b", null, "b:0", 10, null);
        List<Runnable> taken = new ArrayList<>();
        List<String> batch = new ArrayList<>();
        scheduler.take(batch, taken, 1, Long.MAX_VALUE, (k, b) -> { });
        assertEquals(1, batch.size());
        assertEquals(batch.getFirst().startsWith("a") ? 1 : 0, taken.size());
        List<Runnable> dropped = new ArrayList<>();
        scheduler.clear(dropped);
        assertEquals(3, taken.size() + dropped.size(), "every callback is handed out exactly once");
        assertEquals(0, scheduler.size());
        assertEquals(0, scheduler.queuedBytes("a"));
        assertTrue(take(Integer.MAX_VALUE).isEmpty());
    }

    @Test
    void aQueueThatEmptiedStartsAfreshAsANewQueue() {
        add("a", 3, QUANTUM);
        add("b", 1, QUANTUM);
        assertEquals(List.of("a", "b", "a", "a"), queuesOf(take(Integer.MAX_VALUE)));
        add("c", 3, QUANTUM);
        add("b", 1, 10);
        assertEquals(List.of("b", "c", "c", "c"), queuesOf(take(Integer.MAX_VALUE)));
    }

    private void addIn(String group, String queue, int n, int bytes) {
        for (int i = 0; i < n; i++) {
            scheduler.add(queue, group, queue + ":" + i, bytes, null);
        }
    }

    private List<String> take(int maxBytes, long allowance) {
        List<String> batch = new ArrayList<>();
        scheduler.take(batch, new ArrayList<>(), maxBytes, allowance, (key, bytes) -> left.put((String) key, bytes));
        return batch;
    }

    @Test
    void groupsTakeTurnsBeforeTheirQueues() {
        // a connector with 100 busy streams and one with a single bulk stream that joined after them
        for (int i = 0; i < 100; i++) {
            addIn("storm", "s" + i, 4, QUANTUM / 2);
        }
        addIn("other", "o", 4, QUANTUM / 2);
        List<String> order = queuesOf(take(Integer.MAX_VALUE));
        // one turn of the storm's group (a quantum: two items), then the other group's turn
        assertEquals("o", order.get(2), "the other connector waits one turn of the storm, not one per stream: "
                + order.subList(0, 6));
        assertEquals(List.of("o", "o", "o", "o"), order.stream().filter("o"::equals).toList());
        int lastO = order.lastIndexOf("o");
        assertTrue(lastO < 12, "the other connector's 4 items go out within its first 2 turns: at " + lastO);
        assertEquals(404, order.size());
        // within the storm, streams still take turns: the first 8 of its items come from 4 different streams
        List<String> firstStorm = order.stream().filter(q -> !q.equals("o")).limit(8).toList();
        assertEquals(4, firstStorm.stream().distinct().count(),
                     "storm streams share their group's turns: " + firstStorm);
    }

    @Test
    void aQuietGroupsSmallItemGoesFirstAndIsNotPaced() {
        for (int i = 0; i < 10; i++) {
            addIn("storm", "s" + i, 4, QUANTUM);
        }
        addIn("probe", "p", 1, 100);
        // no allowance: only the small item of the group that had nothing queued may go
        assertEquals(List.of("p:0"), take(Integer.MAX_VALUE, 0));
        assertTrue(take(Integer.MAX_VALUE, 0).isEmpty(), "bulk waits for allowance");
        assertTrue(!scheduler.hasNew());
        // an allowance of one byte lets one item go (the first past it is not taken)
        assertEquals(1, take(Integer.MAX_VALUE, 1).size());
        assertEquals(2, take(Integer.MAX_VALUE, QUANTUM + 1).size());
    }

    @Test
    void aGroupsSecondSmallItemIsPaced() {
        addIn("storm", "s", 4, QUANTUM);
        addIn("chat", "c", 3, 100);
        assertTrue(scheduler.hasNew());
        assertEquals(List.of("c:0"), take(Integer.MAX_VALUE, 0), "one small item of a quiet group");
        assertTrue(take(Integer.MAX_VALUE, 0).isEmpty(), "then the group is an old one");
        List<String> rest = take(Integer.MAX_VALUE, Long.MAX_VALUE);
        assertEquals(6, rest.size());
        assertEquals(0, scheduler.size());
    }

    @Test
    void allowanceCountsOnlyOldGroupsItems() {
        addIn("bulk", "b", 10, 5000);
        List<String> batch = new ArrayList<>();
        long paced = scheduler.take(batch, new ArrayList<>(), Integer.MAX_VALUE, 12_000, (k, b) -> { });
        assertEquals(3, batch.size(), "items are taken while the allowance is not spent (the last may go past it)");
        assertEquals(15_000, paced);
        addIn("quiet", "q", 1, 10);
        batch.clear();
        paced = scheduler.take(batch, new ArrayList<>(), Integer.MAX_VALUE, 0, (k, b) -> { });
        assertEquals(List.of("q:0"), batch);
        assertEquals(0, paced, "a quiet group's small item is not counted");
    }
}
