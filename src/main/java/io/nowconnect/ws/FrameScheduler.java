package io.nowconnect.ws;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which queued frame the tunnel's writer sends next: one queue per stream, queues in groups (a stream's connector), and
 * at both levels new-then-old deficit round robin (after fq_codel, RFC 8290 section 4). Items of one queue keep their
 * order.
 *
 * <p>Groups first take turns, then the queues of a group: a connector with two thousand busy streams gets the same
 * turns as a connector with one, so a storm on one connector of an agent delays another connector by a turn of the
 * storm's group, not by a turn of each of its streams.
 *
 * <p>At each level, a member (group or queue) that had nothing queued and gets a small item ({@link #SMALL_ITEM} bytes
 * at most: a request, an answer, a keystroke, an OPEN) goes on the <em>new</em> list, served before everything else;
 * other members take turns on the <em>old</em> list, each sending up to {@link #QUANTUM} bytes per turn. So an
 * interactive stream beside thousands of bulk ones waits for at most the batch in progress and the other new members
 * (each with one small item), not for the bulk queued before it; and bulk streams share the tunnel evenly.
 *
 * <p>Pacing ({@link Pacer}): {@link #take} may be given an allowance of bytes. Items of groups on the old list count
 * against it and stop once it is spent; the one small item of a group on the new list does not count (it is what the
 * allowance exists to let through quickly). A member is forgotten once it has nothing queued, so an idle tunnel keeps
 * no allocation here.
 *
 * <p>Threads and locks: none; not thread-safe. Like Netty's {@code WeightedFairQueueByteDistributor} it is plain state
 * that one caller at a time changes: {@link Outbox} calls it only while holding its queue lock.
 *
 * @param <T> item type (encoded frames)
 */
final class FrameScheduler<T> {
    /** Bytes a member on the old list may send per turn. */
    static final int QUANTUM = 16 * 1024;
    /** Largest item (frame bytes) that puts a member that had nothing queued on the new list. */
    static final int SMALL_ITEM = 4 * 1024;
    /** The group of items given none (frames of no stream, or of a stream whose connector is unknown here). */
    private static final Object NO_GROUP = new Object();

    /** Queues with items queued. */
    private final Map<Object, Queue<T>> queues = new HashMap<>();
    /** Groups with items queued. */
    private final Map<Object, Group<T>> groups = new HashMap<>();
    private final Turns<Group<T>> groupTurns = new Turns<>();
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
     * Add an item at the end of its queue; a queue (and a group) that had nothing queued joins the new list (small
     * item) or the end of the old list. A queue keeps the group it joined with until it has nothing queued.
     *
     * @param key the queue (a stream's id, or a key of frames of no stream)
     * @param group the queue's group (a connector's name), or null
     * @param item item
     * @param bytes its size
     * @param taken what to run once it was written or dropped; may be null
     * @return whether its group had nothing queued and joined the new list (a writer held back by pacing may send it)
     */
    boolean add(Object key, Object group, T item, int bytes, Runnable taken) {
        Queue<T> q = queues.get(key);
        if (q == null) {
            Object g = group == null ? NO_GROUP : group;
            q = new Queue<>(key, groups.computeIfAbsent(g, Group::new));
            queues.put(key, q);
        }
        q.items.addLast(new Entry<>(item, bytes, taken));
        q.bytes += bytes;
        count++;
        boolean small = bytes <= SMALL_ITEM;
        if (q.list == Turn.NONE) {
            q.group.turns.join(q, small);
        }
        if (q.group.list == Turn.NONE) {
            groupTurns.join(q.group, small);
            return small;
        }
        return false;
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
     * Whether an item may be taken with no allowance: a group is on the new list.
     *
     * @return true when {@link #take} with an allowance of 0 takes something
     */
    boolean hasNew() {
        return groupTurns.hasNew();
    }

    /**
     * Move up to {@code maxBytes} of items into the batch (at least one when any may be taken): new groups first, then
     * old groups by deficit round robin while {@code allowance} is not spent; within a group, new queues first, then
     * old queues by deficit round robin.
     *
     * @param batch where the items go, in the order to write them
     * @param taken where the items' {@code taken} callbacks go
     * @param maxBytes bytes after which no more items are taken
     * @param allowance bytes of old groups' items that may be taken: they are taken while less than this has been
     *                  (the last one may go past it)
     * @param drained told of every item taken (may be used to wake a producer waiting for room)
     * @return bytes taken that counted against the allowance
     */
    long take(List<T> batch, List<Runnable> taken, int maxBytes, long allowance, Drained drained) {
        int bytes = 0;
        long paced = 0;
        while (bytes < maxBytes) {
            Group<T> g = groupTurns.next(paced < allowance);
            if (g == null) {
                break;
            }
            boolean counted = g.list == Turn.OLD;
            Queue<T> q = g.turns.next(true);
            Entry<T> e = q.items.pollFirst();
            count--;
            q.bytes -= e.bytes;
            batch.add(e.item);
            if (e.taken != null) {
                taken.add(e.taken);
            }
            bytes += e.bytes;
            if (counted) {
                paced += e.bytes;
            }
            boolean queueEmpty = q.items.isEmpty();
            g.turns.served(q, e.bytes, queueEmpty);
            if (queueEmpty) {
                queues.remove(q.key);
            }
            boolean groupEmpty = g.turns.isEmpty();
            groupTurns.served(g, e.bytes, groupEmpty);
            if (groupEmpty) {
                groups.remove(g.key);
            }
            drained.drained(q.key, q.bytes);
        }
        return paced;
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
        groups.clear();
        groupTurns.clear();
        count = 0;
    }

    /** One queued item and what its producer runs once it is gone. */
    private record Entry<T>(T item, int bytes, Runnable taken) {
    }

    /** A member of a round: a queue within its group, or a group within the tunnel. */
    private abstract static class Turn {
        static final int NONE = 0;
        static final int NEW = 1;
        static final int OLD = 2;

        int deficit;
        /** Which list it is on: {@link #NONE}, {@link #NEW} or {@link #OLD}. */
        int list = NONE;
    }

    /** The new and old lists of one level. */
    private static final class Turns<M extends Turn> {
        /** Small until used: a hub holds thousands of idle tunnels (the deques grow as queues fill). */
        private final ArrayDeque<M> newList = new ArrayDeque<>(1);
        private final ArrayDeque<M> oldList = new ArrayDeque<>(1);

        /** A member that had nothing queued got an item. */
        void join(M m, boolean small) {
            m.deficit = QUANTUM;
            if (small) {
                m.list = Turn.NEW;
                newList.addLast(m);
            } else {
                m.list = Turn.OLD;
                oldList.addLast(m);
            }
        }

        boolean hasNew() {
            return !newList.isEmpty();
        }

        boolean isEmpty() {
            return newList.isEmpty() && oldList.isEmpty();
        }

        /**
         * The member whose turn it is, left at the head of its list: new members first, then old ones (when allowed);
         * a member whose turn is used up goes to the end of the old list with a new quantum.
         */
        M next(boolean oldAllowed) {
            while (true) {
                ArrayDeque<M> list = !newList.isEmpty() ? newList : oldAllowed ? oldList : null;
                M m = list == null ? null : list.peekFirst();
                if (m == null) {
                    return null;
                }
                if (m.deficit > 0) {
                    return m;
                }
                list.pollFirst();
                m.deficit += QUANTUM;
                m.list = Turn.OLD;
                oldList.addLast(m);
            }
        }

        /** The member {@link #next} returned sent an item; {@code empty}: it has nothing left. */
        void served(M m, int bytes, boolean empty) {
            m.deficit -= bytes;
            if (empty) {
                (m.list == Turn.NEW ? newList : oldList).pollFirst();
                m.list = Turn.NONE;
            } else if (m.list == Turn.NEW) {
                // more than one small item: it goes on as an old member
                newList.pollFirst();
                m.list = Turn.OLD;
                oldList.addLast(m);
            }
        }

        void clear() {
            newList.clear();
            oldList.clear();
        }
    }

    /** One group's queues. */
    private static final class Group<T> extends Turn {
        final Object key;
        final Turns<Queue<T>> turns = new Turns<>();

        Group(Object key) {
            this.key = key;
        }
    }

    /** One stream's queue. */
    private static final class Queue<T> extends Turn {
        final Object key;
        final Group<T> group;
        final ArrayDeque<Entry<T>> items = new ArrayDeque<>(4);
        int bytes;

        Queue(Object key, Group<T> group) {
            this.key = key;
            this.group = group;
        }
    }
}
