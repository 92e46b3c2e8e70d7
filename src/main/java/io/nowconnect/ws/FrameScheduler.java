package io.nowconnect.ws;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which queued frame the tunnel's writer sends next: one queue per stream, and between queues new-then-old deficit
 * round robin (after fq_codel, RFC 8290 section 4). Items of one queue keep their order.
 *
 * <p>A queue that had nothing queued and gets a small item ({@link #SMALL_ITEM} bytes at most: a request, an answer, a
 * keystroke) goes on the <em>new</em> list, served before everything else; other queues take turns on the
 * <em>old</em> list, each sending up to {@link #QUANTUM} bytes per turn. So an interactive stream beside thousands of
 * bulk ones waits for at most the batch in progress and the other new queues (each with one small item), not for the
 * bulk queued before it; and bulk streams share the tunnel evenly. A queue is forgotten once it has nothing queued, so
 * an idle tunnel keeps no allocation here.
 *
 * <p>Threads and locks: none; not thread-safe. Like Netty's {@code WeightedFairQueueByteDistributor} it is plain state
 * that one caller at a time changes: {@link Outbox} calls it only while holding its queue lock.
 *
 * @param <T> item type (encoded frames)
 */
final class FrameScheduler<T> {
    /** Bytes a queue on the old list may send per turn. */
    static final int QUANTUM = 16 * 1024;
    /** Largest item (frame bytes) that puts a queue that had nothing queued on the new list. */
    static final int SMALL_ITEM = 4 * 1024;

    /** Queues with items queued. */
    private final Map<Object, Queue<T>> queues = new HashMap<>();
    /** Small until used: a hub holds thousands of idle tunnels (the deques grow as queues fill). */
    private final ArrayDeque<Queue<T>> newList = new ArrayDeque<>(1);
    private final ArrayDeque<Queue<T>> oldList = new ArrayDeque<>(1);
    private int count;

    /** Told, for each queue an item was taken from, how many bytes that queue still holds. */
    @FunctionalInterface
    interface Drained {
        /**
         * An item left a queue.
         *
         * @param key the queue's key
         * @param bytesLeft bytes still queued there
         */
        void drained(Object key, int bytesLeft);
    }

    /**
     * Add an item at the end of its queue; a queue that had nothing queued joins the new list (small item) or the end
     * of the old list.
     *
     * @param key the queue (a stream's id, or a key of frames of no stream)
     * @param item item
     * @param bytes its size
     * @param taken what to run once it was written or dropped; may be null
     */
    void add(Object key, T item, int bytes, Runnable taken) {
        Queue<T> q = queues.computeIfAbsent(key, Queue::new);
        q.items.addLast(new Entry<>(item, bytes, taken));
        q.bytes += bytes;
        count++;
        if (q.list == Queue.NONE) {
            q.deficit = QUANTUM;
            if (bytes <= SMALL_ITEM) {
                q.list = Queue.NEW;
                newList.addLast(q);
            } else {
                q.list = Queue.OLD;
                oldList.addLast(q);
            }
        }
    }

    /**
     * Bytes queued for a key.
     *
     * @param key the queue
     * @return bytes, 0 when nothing is queued
     */
    int queuedBytes(Object key) {
        Queue<T> q = queues.get(key);
        return q == null ? 0 : q.bytes;
    }

    /**
     * Items queued across all queues.
     *
     * @return count
     */
    int size() {
        return count;
    }

    /**
     * Move up to {@code maxBytes} of items into the batch (at least one when any is queued): new queues first, then
     * old queues by deficit round robin.
     *
     * @param batch where the items go, in the order to write them
     * @param taken where the items' {@code taken} callbacks go
     * @param maxBytes bytes after which no more items are taken
     * @param drained told of every item taken (may be used to wake a producer waiting for room)
     */
    void take(List<T> batch, List<Runnable> taken, int maxBytes, Drained drained) {
        int bytes = 0;
        while (bytes < maxBytes) {
            ArrayDeque<Queue<T>> list = newList.isEmpty() ? oldList : newList;
            Queue<T> q = list.peekFirst();
            if (q == null) {
                return;
            }
            if (q.deficit <= 0) {
                // its turn is used up: to the end of the old list with a new quantum
                list.pollFirst();
                q.deficit += QUANTUM;
                q.list = Queue.OLD;
                oldList.addLast(q);
                continue;
            }
            Entry<T> e = q.items.pollFirst();
            count--;
            q.bytes -= e.bytes;
            q.deficit -= e.bytes;
            batch.add(e.item);
            if (e.taken != null) {
                taken.add(e.taken);
            }
            bytes += e.bytes;
            if (q.items.isEmpty()) {
                list.pollFirst();
                q.list = Queue.NONE;
                queues.remove(q.key);
            } else if (list == newList) {
                // more than one small item: it goes on as an old queue
                newList.pollFirst();
                q.list = Queue.OLD;
                oldList.addLast(q);
            }
            drained.drained(q.key, q.bytes);
        }
    }

    /**
     * Drop everything queued.
     *
     * @param taken where the dropped items' {@code taken} callbacks go
     */
    void clear(List<Runnable> taken) {
        for (Queue<T> q : queues.values()) {
            for (Entry<T> e : q.items) {
                if (e.taken != null) {
                    taken.add(e.taken);
                }
            }
        }
        queues.clear();
        newList.clear();
        oldList.clear();
        count = 0;
    }

    /** One queued item and what its producer runs once it is gone. */
    private record Entry<T>(T item, int bytes, Runnable taken) {
    }

    /** One stream's queue. */
    private static final class Queue<T> {
        static final int NONE = 0;
        static final int NEW = 1;
        static final int OLD = 2;

        final Object key;
        final ArrayDeque<Entry<T>> items = new ArrayDeque<>(4);
        int bytes;
        int deficit;
        /** Which list it is on: {@link #NONE}, {@link #NEW} or {@link #OLD}. */
        int list = NONE;

        Queue(Object key) {
            this.key = key;
        }
    }
}
