package io.nowconnect.tunnel;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The one state tracker of the agent: tunnel events feed it, and the TCP health port, {@code /readyz} and the metrics
 * only read it.
 *
 * <p>Threads and lock: reads never block ({@link #snapshot()} is one volatile read of an immutable record; counters are
 * atomic). The object's monitor serialises the read-modify-write of the snapshot and is held by nothing else:
 * {@code ...Locked} methods need it held, and no outside code (no listener) is called while it is. Ending listeners are
 * called on the supervisor thread, without the lock.
 */
public final class TunnelStatus {
    /** Overall state, as probes see it. */
    public enum State {
        /** Started, no tunnel acknowledged yet. */
        STARTING,
        /** Trying to reach the hub. */
        CONNECTING,
        /** At least one tunnel is acknowledged by the hub. */
        READY,
        /** The last tunnel ended; waiting to reconnect. */
        DISCONNECTED,
        /** Shutting down. */
        STOPPING
    }

    /**
     * Immutable view.
     *
     * @param state current state
     * @param hub hub URL (no credentials)
     * @param since when the state last changed
     * @param lastError last disconnect or failure reason with detail, if any
     * @param readyTunnels tunnels acknowledged now (two during a graceful reconnect)
     * @param readySince when the current ready period started, if ready
     */
    public record Snapshot(State state, String hub, Instant since, Optional<String> lastError, int readyTunnels,
                           Optional<Instant> readySince) {
        /**
         * Whether a tunnel is acknowledged by the hub.
         *
         * @return true when ready
         */
        public boolean ready() {
            return readyTunnels > 0;
        }
    }

    /** Most errors {@link #recentErrors()} keeps. */
    public static final int RECENT_ERRORS = 10;

    /**
     * A tunnel failure.
     *
     * @param at when
     * @param error reason and detail, as {@link Snapshot#lastError()} shows it
     */
    public record Failure(Instant at, String error) {
    }

    private final String hub;
    /** The last {@link #RECENT_ERRORS} failures, oldest first; guarded by this object's monitor. */
    private final java.util.ArrayDeque<Failure> recent = new java.util.ArrayDeque<>();
    private final CopyOnWriteArrayList<Consumer<String>> endingListeners = new CopyOnWriteArrayList<>();
    private final AtomicLong connects = new AtomicLong();
    private final ConcurrentHashMap<String, LongAdder> endings =
            new ConcurrentHashMap<>();
    /**
     * Acknowledged tunnels per hub URL and replica id. Bounded: the URLs come from the configuration; per URL, the
     * replicas named in the latest ack (at most 16) and those a tunnel is on (at most one per slot, 16 slots).
     */
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, AtomicInteger>> replicas = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<BiConsumer<String, String>> replicaListeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<BiConsumer<String, String>> forgetListeners = new CopyOnWriteArrayList<>();
    private volatile Snapshot snapshot;
    private volatile long pingRttNanos = -1;
    /** {@code exp} of the token of the newest ready tunnel, if it has one. */
    private volatile Optional<Instant> tokenExpiresAt = Optional.empty();

    private TunnelStatus(String hub) {
        this.hub = hub;
        this.snapshot = new Snapshot(State.STARTING, hub, Instant.now(), Optional.empty(), 0, Optional.empty());
    }

    /**
     * Create a tracker.
     *
     * @param hub hub URL as shown to operators
     * @return tracker
     */
    public static TunnelStatus create(String hub) {
        return new TunnelStatus(hub);
    }

    /**
     * Current state.
     *
     * @return snapshot
     */
    public Snapshot snapshot() {
        return snapshot;
    }

    /**
     * Tunnels acknowledged since start.
     *
     * @return count
     */
    public long connects() {
        return connects.get();
    }

    /**
     * The last tunnel failures (at most {@link #RECENT_ERRORS}), oldest first.
     *
     * @return failures
     */
    public synchronized java.util.List<Failure> recentErrors() {
        return java.util.List.copyOf(recent);
    }

    /**
     * The {@code exp} of the token the newest ready tunnel authenticated with.
     *
     * @return expiry, empty before the first tunnel or for a token without {@code exp}
     */
    public Optional<Instant> tokenExpiresAt() {
        return tokenExpiresAt;
    }

    /**
     * Record the token expiry of a tunnel that just became the active one.
     *
     * @param expiresAt its token's {@code exp}, if any
     */
    public void tokenExpiresAt(Optional<Instant> expiresAt) {
        tokenExpiresAt = expiresAt;
    }

    /**
     * Round-trip time of the last answered ping.
     *
     * @return nanoseconds, or -1 before the first pong
     */
    public long pingRttNanos() {
        return pingRttNanos;
    }

    /**
     * Tunnel endings by reason label since start (the {@code reason} of reconnects).
     *
     * @return reason to count
     */
    public Map<String, Long> endings() {
        Map<String, Long> out = new TreeMap<>();
        endings.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /**
     * Hub replicas the agent knows of (from hubs with the {@code replicas} capability), with the tunnels acknowledged
     * to each now: 0 means the replica is missing and its slot is re-dialling.
     *
     * @return hub URL to replica id to tunnels, sorted
     */
    public Map<String, Map<String, Integer>> replicas() {
        Map<String, Map<String, Integer>> out = new TreeMap<>();
        replicas.forEach((hub, m) -> {
            Map<String, Integer> r = new TreeMap<>();
            m.forEach((id, n) -> r.put(id, n.get()));
            out.put(hub, r);
        });
        return out;
    }

    /**
     * Tunnels acknowledged now to one replica.
     *
     * @param hub hub URL
     * @param replica replica id
     * @return count, 0 when unknown or missing
     */
    public int replicaTunnels(String hub, String replica) {
        var m = replicas.get(hub);
        AtomicInteger n = m == null ? null : m.get(replica);
        return n == null ? 0 : n.get();
    }

    /**
     * Be told of every replica when it first becomes known (metrics register a gauge for it).
     *
     * @param listener called with the hub URL and the replica id; must not block
     */
    public void addReplicaListener(BiConsumer<String, String> listener) {
        addReplicaListener(listener, (hub, replica) -> { });
    }

    /**
     * Be told of every replica when it first becomes known, and when it is forgotten (the hub no longer names it and
     * no tunnel is on it): metrics add and remove its gauge.
     *
     * @param known called with the hub URL and the replica id; must not block
     * @param forgotten called likewise when the replica is forgotten; must not block
     */
    public void addReplicaListener(BiConsumer<String, String> known, BiConsumer<String, String> forgotten) {
        replicaListeners.add(known);
        forgetListeners.add(forgotten);
        replicas.forEach((hub, m) -> m.keySet().forEach(id -> known.accept(hub, id)));
    }

    /** The hub no longer names a replica and no tunnel is on it: it leaves {@code /readyz} and the metrics. */
    void replicaForgotten(String hub, String replica) {
        var m = replicas.get(hub);
        if (m != null && m.remove(replica) != null) {
            forgetListeners.forEach(l -> l.accept(hub, replica));
        }
    }

    void replicaKnown(String hub, String replica) {
        var m = replicas.computeIfAbsent(hub, h -> new ConcurrentHashMap<>());
        if (m.putIfAbsent(replica, new AtomicInteger()) == null) {
            replicaListeners.forEach(l -> l.accept(hub, replica));
        }
    }

    void replicaTunnels(String hub, String replica, int delta) {
        replicaKnown(hub, replica);
        replicas.get(hub).get(replica).addAndGet(delta);
    }

    void pingRtt(long nanos) {
        pingRttNanos = nanos;
    }

    /**
     * Be told the reason label of every tunnel that ends.
     *
     * @param listener called on the supervisor thread; must not block
     */
    public void addEndingListener(Consumer<String> listener) {
        endingListeners.add(listener);
    }

    void countEnding(String reason) {
        endings.computeIfAbsent(reason, r -> new LongAdder()).increment();
        for (var l : endingListeners) {
            l.accept(reason);
        }
    }

    synchronized void connecting() {
        Snapshot s = snapshot;
        if (s.readyTunnels() == 0 && s.state() != State.STOPPING) {
            updateLocked(new Snapshot(State.CONNECTING, hub, Instant.now(), s.lastError(), 0, Optional.empty()));
        }
    }

    synchronized void tunnelReady() {
        connects.incrementAndGet();
        Snapshot s = snapshot;
        int ready = s.readyTunnels() + 1;
        State state = s.state() == State.STOPPING ? State.STOPPING : State.READY;
        Instant now = Instant.now();
        updateLocked(new Snapshot(state, hub, ready == 1 ? now : s.since(), s.lastError(), ready,
                                  Optional.of(s.readySince().orElse(now))));
    }

    synchronized void tunnelEnded(boolean wasReady, String error) {
        if (error != null) {
            if (recent.size() == RECENT_ERRORS) {
                recent.removeFirst();
            }
            recent.addLast(new Failure(Instant.now(), error));
        }
        Snapshot s = snapshot;
        int ready = Math.max(0, s.readyTunnels() - (wasReady ? 1 : 0));
        Optional<String> lastError = error == null ? s.lastError() : Optional.of(error);
        State state = s.state() == State.STOPPING ? State.STOPPING : ready > 0 ? State.READY : State.DISCONNECTED;
        updateLocked(new Snapshot(state, hub, state == s.state() ? s.since() : Instant.now(), lastError, ready,
                                  ready > 0 ? s.readySince() : Optional.empty()));
    }

    synchronized void stopping() {
        Snapshot s = snapshot;
        updateLocked(new Snapshot(State.STOPPING, hub, Instant.now(), s.lastError(), s.readyTunnels(), s.readySince()));
    }

    private void updateLocked(Snapshot next) {
        assert Thread.holdsLock(this);
        snapshot = next;
    }
}
