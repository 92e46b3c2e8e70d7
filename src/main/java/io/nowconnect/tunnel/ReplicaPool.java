package io.nowconnect.tunnel;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.HubConfig;
import io.nowconnect.log.Event;
import io.nowconnect.protocol.Frame;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamObserver;

/**
 * The tunnels to one hub URL: one {@link Supervisor} per <em>slot</em>, and one slot per hub replica the hub names
 * ({@code replicas} capability). Each slot dials the URL (usually a balancer) on its own, keeps its tunnel, rotates,
 * drains and re-dials exactly as a single supervisor does; this class only decides, when a hub acknowledges a tunnel,
 * whether the replica it reached is already held by another slot ({@link ReplicaGate}). If so, that tunnel serves
 * whatever the hub opened before it saw DRAIN, closes normally ({@link EndReason#REPLICA_HELD}) and its slot dials
 * again after a back-off of at most {@link Supervisor#REPLICA_RETRY_MAX}, until the balancer sends it to a replica
 * nobody holds. A hub without the capability names no replica: the pool stays one slot, as before replicas.
 *
 * <p>Why slots of whole supervisors rather than one supervisor with N tunnels: every rule of a tunnel's life (back-off,
 * make-before-break rotation, drain, refresh before {@code exp}, TLS and config changes) stays in one place, tested
 * with fakes by {@code SupervisorTest}; a slot is not bound to a replica, only the set of replicas held is unique.
 *
 * <p>Bounds: at most {@link HubConfig#MAX_REPLICAS} slots; replica ids that are not valid ids are ignored, and so are
 * ids beyond the first {@link HubConfig#MAX_REPLICAS} of an ack (logged once). The replicas known are those of the
 * latest ack: one the hub stops naming is forgotten ({@link TunnelStatus#replicaForgotten}: its series and
 * {@code /readyz} entry go) once no tunnel is on it. Slots are added when a hub names more replicas and kept until the
 * agent stops. When a listed replica has had no tunnel for
 * {@link #UNREACHABLE_AFTER}, a warning ({@code replica_unreachable}) names it, again at most once per that period.
 *
 * <p>Threads and lock: {@link #admit} and {@link #released} come from tunnel threads; the object's monitor guards the
 * fields below it. Supervisors are started and told under it (they only post signals); nothing blocks under it.
 */
final class ReplicaPool {
    private static final Logger LOGGER = Logger.getLogger(ReplicaPool.class.getName());
    /** A listed replica without a tunnel this long is logged ({@code replica_unreachable}). */
    static final Duration UNREACHABLE_AFTER = Duration.ofSeconds(60);

    private record Claim(int slot, String replica) {
    }

    private final URI url;
    private final String hub;
    private final String version;
    private final TokenSource tokens;
    private final TunnelStatus status;
    private final StreamBudget budget;
    private final Shares shares;
    private final StreamObserver observer;

    // guarded by this
    private AgentConfig config;
    private final List<Supervisor> slots = new ArrayList<>();
    private final Map<TunnelConnection, Claim> claims = new HashMap<>();
    /** Replica id to the slot holding it, and how many of that slot's tunnels are on it (two while rotating). */
    private final Map<String, Claim> holders = new HashMap<>();
    private final Map<String, Integer> holds = new HashMap<>();
    private List<String> known = List.of();
    private boolean started;
    private boolean stopping;
    private long missingSinceNanos;
    private long lastWarnNanos;
    private boolean allReachedLogged;
    private boolean overLimitLogged;

    ReplicaPool(AgentConfig config, String version, TokenSource tokens, TunnelStatus status, StreamBudget budget,
                Shares shares, StreamObserver observer) {
        this.config = config;
        this.url = config.url();
        this.hub = url.toString();
        this.version = version;
        this.tokens = tokens;
        this.status = status;
        this.budget = budget;
        this.shares = shares;
        this.observer = observer;
        // the first slot is made here, so unusable TLS material fails the start
        slots.add(newSlot(0));
    }

    synchronized void start() {
        started = true;
        slots.forEach(Supervisor::start);
    }

    synchronized void reconfigure(AgentConfig newConfig) {
        config = newConfig.withUrl(url);
        slots.forEach(s -> s.reconfigure(config));
    }

    /** Tell every slot to drain and stop; returns at once (see {@link #awaitStopped}). */
    List<Supervisor> stopping() {
        synchronized (this) {
            stopping = true;
            return List.copyOf(slots);
        }
    }

    synchronized List<Supervisor> supervisors() {
        return List.copyOf(slots);
    }

    synchronized boolean isRunning() {
        return slots.stream().allMatch(Supervisor::isRunning);
    }

    synchronized int slots() {
        return slots.size();
    }

    private Supervisor newSlot(int index) {
        ReplicaGate gate = new ReplicaGate() {
            @Override
            public boolean admit(TunnelConnection tunnel, Frame.HelloAck ack) {
                return ReplicaPool.this.admit(index, tunnel, ack);
            }

            @Override
            public void released(TunnelConnection tunnel) {
                ReplicaPool.this.released(tunnel);
            }
        };
        ConnectionFactory connections = new ConnectionFactory(HubClient.create(config), tokens, status, budget, shares,
                                                              observer, gate);
        return new Supervisor(config, version, tokens, status, connections, TimeSource.SYSTEM, new Random());
    }

    private synchronized boolean admit(int slot, TunnelConnection tunnel, Frame.HelloAck ack) {
        String replica = ack.replica();
        if (replica.isEmpty() || !HubConfig.validReplicaId(replica)) {
            // a hub without replicas: its one tunnel is kept, as before
            return true;
        }
        learn(replica, ack.replicas());
        Claim holder = holders.get(replica);
        if (holder != null && holder.slot() != slot) {
            missed();
            return false;
        }
        holders.put(replica, new Claim(slot, replica));
        int n = holds.merge(replica, 1, Integer::sum);
        claims.put(tunnel, new Claim(slot, replica));
        status.replicaTunnels(hub, replica, 1);
        if (n == 1) {
            List<String> missing = missing();
            Event.of("replica_reached").with("hub", hub).with("replica", replica).with("held", holders.size())
                    .with("replicas", known.size())
                    .log(LOGGER, Level.INFO, "Tunnel to replica " + replica + " (" + holders.size() + " of "
                            + known.size() + " replicas)");
            if (missing.isEmpty()) {
                missingSinceNanos = 0;
                if (!allReachedLogged && known.size() > 1) {
                    allReachedLogged = true;
                    Event.of("replicas_all_reached").with("hub", hub).with("replicas", known.size())
                            .log(LOGGER, Level.INFO, "Tunnels to all " + known.size() + " replicas of " + hub);
                }
            }
        }
        return true;
    }

    private synchronized void released(TunnelConnection tunnel) {
        Claim claim = claims.remove(tunnel);
        if (claim == null) {
            return;
        }
        status.replicaTunnels(hub, claim.replica(), -1);
        int n = holds.merge(claim.replica(), -1, Integer::sum);
        if (n > 0) {
            return;
        }
        holds.remove(claim.replica());
        holders.remove(claim.replica());
        if (!known.contains(claim.replica())) {
            // the hub stopped naming it while a tunnel was on it: forgotten now that none is
            status.replicaForgotten(hub, claim.replica());
        }
        allReachedLogged = false;
        if (missingSinceNanos == 0) {
            missingSinceNanos = System.nanoTime();
        }
        if (!stopping) {
            Event.of("replica_lost").with("hub", hub).with("replica", claim.replica()).with("held", holders.size())
                    .log(LOGGER, Level.INFO, "No tunnel to replica " + claim.replica() + " any more: dialling " + hub
                            + " until the balancer sends a tunnel there");
        }
    }

    /**
     * The replicas the hub names in its latest ack (this one included, valid ids only, at most MAX_REPLICAS: the rest
     * is ignored and logged once); adds slots for them, and forgets those it no longer names that no tunnel is on.
     */
    private void learn(String replica, List<String> listed) {
        Set<String> ids = new LinkedHashSet<>();
        ids.add(replica);
        int ignored = 0;
        for (String id : listed) {
            if (!HubConfig.validReplicaId(id) || ids.contains(id)) {
                continue;
            }
            if (ids.size() < HubConfig.MAX_REPLICAS) {
                ids.add(id);
            } else {
                ignored++;
            }
        }
        if (ignored > 0 && !overLimitLogged) {
            overLimitLogged = true;
            Event.of("replicas_over_limit").with("hub", hub).with("replicas", ids.size() + ignored)
                    .with("limit", HubConfig.MAX_REPLICAS)
                    .log(LOGGER, Level.WARNING, "The hub names " + (ids.size() + ignored) + " replicas; the protocol allows "
                            + HubConfig.MAX_REPLICAS + ": the others are ignored (logged once)");
        }
        List<String> now = List.copyOf(ids);
        if (!now.equals(known)) {
            List<String> before = known;
            known = now;
            // a replica the hub no longer names goes from /readyz and the metrics, unless a tunnel is still on it;
            // first, so that a reader never sees the old and the new list together
            before.stream().filter(id -> !now.contains(id) && !holds.containsKey(id))
                    .forEach(id -> status.replicaForgotten(hub, id));
            now.forEach(id -> status.replicaKnown(hub, id));
        }
        while (slots.size() < known.size() && !stopping) {
            try {
                Supervisor s = newSlot(slots.size());
                slots.add(s);
                if (started) {
                    s.start();
                }
            } catch (RuntimeException e) {
                Event.of("replica_slot_failed").with("hub", hub)
                        .log(LOGGER, Level.WARNING, "Cannot add a tunnel for another replica: " + e.getMessage());
                return;
            }
        }
        if (missingSinceNanos == 0 && !missing().isEmpty()) {
            missingSinceNanos = System.nanoTime();
        }
    }

    /** A dial reached a replica held already: warn when a listed one has been out of reach too long. */
    private void missed() {
        List<String> missing = missing();
        long now = System.nanoTime();
        if (missing.isEmpty() || missingSinceNanos == 0) {
            return;
        }
        long missingFor = now - missingSinceNanos;
        if (missingFor >= UNREACHABLE_AFTER.toNanos()
                && (lastWarnNanos == 0 || now - lastWarnNanos >= UNREACHABLE_AFTER.toNanos())) {
            lastWarnNanos = now;
            Event.of("replica_unreachable").with("hub", hub).with("replicas", String.join(",", missing))
                    .with("seconds", TimeUnit.NANOSECONDS.toSeconds(missingFor))
                    .log(LOGGER, Level.WARNING, "No tunnel to replica " + String.join(", ", missing) + " for "
                            + TimeUnit.NANOSECONDS.toSeconds(missingFor) + " s: every dial of " + hub
                            + " reaches a replica this agent holds already. Check that the replica runs and is in "
                            + "the balancer's pool, and that the balancer spreads new connections (round robin or "
                            + "least connections, no source affinity)");
        }
    }

    private List<String> missing() {
        return known.stream().filter(id -> !holders.containsKey(id)).toList();
    }
}
