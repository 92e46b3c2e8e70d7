package io.nowconnect.hub;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * Ready agent tunnels. A new stream goes to the ready tunnel with the fewest active streams that exports the
 * connector and has not announced drain. A client that arrives while none is ready may wait for one
 * ({@link #await}): each tunnel that becomes ready wakes the waiters, nobody polls.
 *
 * <p>Threads: thread-safe; lookups do not lock. {@link #lock} guards only {@link #generation} and the condition the
 * waiters (client threads, virtual) park on; {@link #add} and {@link #wake} signal it.
 */
final class AgentRegistry {
    private final CopyOnWriteArrayList<AgentTunnel> tunnels = new CopyOnWriteArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Counts additions and wake-ups, so a waiter that looked before one never misses it. Guarded by {@link #lock}. */
    private long generation;

    void add(AgentTunnel tunnel) {
        tunnels.addIfAbsent(tunnel);
        wake();
    }

    void remove(AgentTunnel tunnel) {
        tunnels.remove(tunnel);
    }

    /** Wake every waiter to look again (a tunnel became ready, a listener closed). */
    void wake() {
        lock.lock();
        try {
            generation++;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    Optional<AgentTunnel> pick(String connector) {
        return tunnels.stream()
                .filter(t -> !t.draining() && t.exports(connector))
                .min(Comparator.comparingInt(AgentTunnel::activeStreams));
    }

    /**
     * A ready tunnel for the connector, waiting up to the deadline for one to arrive.
     *
     * @param connector the connector
     * @param deadlineNanos the {@link System#nanoTime()} after which it gives up
     * @param stop when this turns true (checked at each wake-up) it gives up at once
     * @return the tunnel, or empty when none came in time
     * @throws InterruptedException when the waiting thread is interrupted
     */
    Optional<AgentTunnel> await(String connector, long deadlineNanos, BooleanSupplier stop) throws InterruptedException {
        long seen = generation();
        while (true) {
            Optional<AgentTunnel> tunnel = pick(connector);
            long left = deadlineNanos - System.nanoTime();
            if (tunnel.isPresent() || left <= 0 || stop.getAsBoolean()) {
                return tunnel;
            }
            lock.lock();
            try {
                while (generation == seen && left > 0) {
                    left = changed.awaitNanos(left);
                }
                seen = generation;
            } finally {
                lock.unlock();
            }
        }
    }

    List<AgentTunnel> tunnels() {
        return List.copyOf(tunnels);
    }

    /**
     * Ready tunnels exporting a connector, draining or not.
     *
     * @param connector connector
     * @return count
     */
    int serving(String connector) {
        int n = 0;
        for (AgentTunnel t : tunnels) {
            if (t.exports(connector)) {
                n++;
            }
        }
        return n;
    }

    int size() {
        return tunnels.size();
    }

    private long generation() {
        lock.lock();
        try {
            return generation;
        } finally {
            lock.unlock();
        }
    }
}
