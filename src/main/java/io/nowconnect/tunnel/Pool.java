package io.nowconnect.tunnel;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamObserver;

/**
 * All the agent's tunnels: one {@link ReplicaPool} per URL of {@code NC_AGENT_URL} (independent hubs, e.g. two
 * regions), each keeping a tunnel to every replica its hub names. They share the token, the stream limit
 * ({@code NC_MAX_INFLIGHT_CIDS}), the metrics and the {@link TunnelStatus}, which is READY while at least one tunnel
 * of any pool is acknowledged.
 *
 * <p>Threads: the public methods may be called from any thread.
 */
public final class Pool {
    private final List<ReplicaPool> hubs;
    private final TunnelStatus status;

    private Pool(List<ReplicaPool> hubs, TunnelStatus status) {
        this.hubs = hubs;
        this.status = status;
    }

    /**
     * Create the pools of a premise agent.
     *
     * @param config agent configuration
     * @param version project version, sent in HELLO
     * @param status state tracker to feed
     * @param shares the agent's memory budget for streams and its shares, one per tunnel
     * @param observer stream metrics
     * @return pool, not started
     * @throws io.nowconnect.config.ConfigException when the TLS material cannot be used
     */
    public static Pool create(AgentConfig config, String version, TunnelStatus status, Shares shares,
                              StreamObserver observer) {
        TokenSource tokens = TokenSource.create(config.tokenFile());
        StreamBudget budget = StreamBudget.create(config.maxInflight());
        List<ReplicaPool> hubs = new ArrayList<>();
        for (URI url : config.urls()) {
            hubs.add(new ReplicaPool(config.withUrl(url), version, tokens, status, budget, shares, observer));
        }
        return new Pool(List.copyOf(hubs), status);
    }

    /** Start every pool's first slot (more are added as hubs name their replicas). */
    public void start() {
        hubs.forEach(ReplicaPool::start);
    }

    /**
     * Use new connectors, targets or tunnel settings on every tunnel (each moves to a new tunnel gracefully).
     *
     * @param newConfig validated configuration
     */
    public void reconfigure(AgentConfig newConfig) {
        hubs.forEach(h -> h.reconfigure(newConfig));
    }

    /**
     * Stop gracefully: every tunnel drains (DRAIN where supported) for up to {@code drainTimeout}, all at once; returns
     * once all are closed.
     *
     * @param drainTimeout longest wait for open streams
     */
    public void shutdown(Duration drainTimeout) {
        status.stopping();
        List<Thread> stops = new ArrayList<>();
        for (ReplicaPool h : hubs) {
            for (Supervisor s : h.stopping()) {
                stops.add(Thread.ofVirtual().name("nc-stop-slot").start(() -> s.shutdown(drainTimeout)));
            }
        }
        for (Thread t : stops) {
            try {
                t.join(drainTimeout.plusSeconds(10).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Wait for every slot to stop.
     *
     * @param timeout how long (real time), in all
     * @return whether all stopped
     */
    public boolean awaitStopped(Duration timeout) {
        long end = System.nanoTime() + timeout.toNanos();
        for (ReplicaPool h : hubs) {
            for (Supervisor s : h.supervisors()) {
                if (!s.awaitStopped(Duration.ofNanos(Math.max(0, end - System.nanoTime())))) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Whether every slot's supervisor still runs (liveness).
     *
     * @return true until one stopped
     */
    public boolean isRunning() {
        return hubs.stream().allMatch(ReplicaPool::isRunning);
    }

    /**
     * Slots (tunnels kept, one per replica reached or sought) of each hub URL, in the order of {@code NC_AGENT_URL}.
     *
     * @return slot counts
     */
    public List<Integer> slots() {
        return hubs.stream().map(ReplicaPool::slots).toList();
    }
}
