package io.nowconnect.health;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.FunctionalCounter;
import io.helidon.metrics.api.Gauge;
import io.helidon.metrics.api.Meter;
import io.helidon.metrics.api.MeterRegistry;
import io.helidon.metrics.api.Tag;
import io.helidon.metrics.api.Timer;

import io.nowconnect.protocol.Direction;
import io.nowconnect.stream.MemoryBudget;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.WireEvent;
import io.nowconnect.tunnel.TunnelStatus;

/**
 * The agent's meters ({@code nowconnect_*}, documented in the README). Gauges read {@link TunnelStatus}; stream
 * events arrive as a {@link StreamObserver}. Labels are connector names from the configuration (anything else is
 * {@code unknown}) and reasons from fixed sets: never a {@code cid}. Thread-safe.
 */
public final class AgentMetrics implements StreamObserver, AutoCloseable {
    private static final String UNKNOWN = "unknown";

    private final MeterRegistry registry;
    private final Set<String> connectors;
    private final Map<String, AtomicLong> active = new ConcurrentHashMap<>();
    private final Counters counters;
    private final Map<String, Timer> connectTimers = new ConcurrentHashMap<>();
    private final List<Meter> owned = new CopyOnWriteArrayList<>();
    /** The {@code nowconnect_replica_tunnels} gauge of each known replica, by hub URL and replica id. */
    private final Map<List<String>, Meter> replicaGauges = new ConcurrentHashMap<>();

    private AgentMetrics(MeterRegistry registry, List<String> connectors, TunnelStatus status, MemoryBudget memory) {
        this.registry = registry;
        this.counters = new Counters(registry, "nowconnect_bytes_total");
        this.connectors = Set.copyOf(connectors);
        owned.add(registry.getOrCreate(Gauge.builder("nowconnect_tunnel_up", status,
                                                     s -> s.snapshot().ready() ? 1.0 : 0.0)
                                               .description("1 while a tunnel is acknowledged by the hub")));
        owned.add(registry.getOrCreate(FunctionalCounter.builder("nowconnect_tunnel_connects_total", status,
                                                                 TunnelStatus::connects)
                                               .description("Tunnels acknowledged by the hub since start")));
        owned.add(registry.getOrCreate(Gauge.builder("nowconnect_tunnel_uptime_seconds", status, AgentMetrics::uptime)
                                               .description("Seconds since the tunnel became ready, 0 when down")));
        owned.add(registry.getOrCreate(Gauge.builder("nowconnect_ping_rtt_seconds", status,
                                                     s -> Math.max(0, s.pingRttNanos()) / 1e9)
                                               .description("Round-trip time of the last answered ping")));
        owned.add(registry.getOrCreate(Gauge.builder("nowconnect_token_expiry_timestamp_seconds", status,
                                                     s -> s.tokenExpiresAt().map(t -> (double) t.getEpochSecond()).orElse(0.0))
                                               .description("Unix time of the exp of the active tunnel's token (0: none "
                                                                    + "yet, or no exp)")));
        owned.add(registry.getOrCreate(Gauge.builder("nowconnect_memory_used_bytes", memory, m -> (double) m.used())
                                               .description("Bytes held for streams: received and not yet written to a "
                                                                    + "local socket, or read and not yet sent")));
        owned.add(registry.getOrCreate(Gauge.builder("nowconnect_memory_limit_bytes", memory, m -> (double) m.limit())
                                               .description("The memory budget for streams (NC_MEMORY_BUDGET_MB)")));
        for (String c : connectors) {
            gauge(c);
        }
        // by replica: hub URL and replica id, both bounded (URLs from the configuration, at most 16 valid ids per hub)
        // a replica the hub stops naming (and no tunnel is on) loses its series
        status.addReplicaListener((hub, replica) -> replicaGauges.computeIfAbsent(List.of(hub, replica), k -> {
            Meter m = registry.getOrCreate(
                    Gauge.builder("nowconnect_replica_tunnels", status, s -> s.replicaTunnels(hub, replica))
                            .tags(List.of(Tag.create("hub", hub), Tag.create("replica", replica)))
                            .description("Tunnels acknowledged by this hub replica now (0: missing, re-dialling)"));
            owned.add(m);
            return m;
        }), (hub, replica) -> {
            Meter m = replicaGauges.remove(List.of(hub, replica));
            if (m != null) {
                owned.remove(m);
                registry.remove(m);
            }
        });
        status.addEndingListener(reason -> counter("nowconnect_tunnel_reconnects_total", "reason", reason).increment());
    }

    /**
     * Register the agent's meters.
     *
     * @param registry meter registry
     * @param connectors configured connector names
     * @param status the agent's state tracker
     * @param memory the agent's memory budget for streams
     * @return metrics
     */
    public static AgentMetrics create(MeterRegistry registry, List<String> connectors, TunnelStatus status,
                                      MemoryBudget memory) {
        return new AgentMetrics(registry, connectors, status, memory);
    }

    @Override
    public void opened(String connector) {
        gauge(label(connector)).incrementAndGet();
    }

    @Override
    public void closed(String connector, String result) {
        gauge(label(connector)).decrementAndGet();
        counter("nowconnect_streams_total", "connector", label(connector), "result", result).increment();
    }

    @Override
    public void refused(String connector, String result) {
        counter("nowconnect_streams_total", "connector", label(connector), "result", result).increment();
    }

    @Override
    public void bytes(String connector, Direction direction, int bytes) {
        counters.bytes(label(connector), direction, bytes);
    }

    @Override
    public void connectTime(String connector, long nanos) {
        connectTimers.computeIfAbsent(label(connector), c -> {
            Timer t = registry.getOrCreate(Timer.builder("nowconnect_target_connect_seconds")
                                                   .tags(List.of(Tag.create("connector", c)))
                                                   .buckets(Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(25),
                                                            Duration.ofMillis(100), Duration.ofMillis(500), Duration.ofSeconds(1),
                                                            Duration.ofSeconds(3))
                                                   // no quantiles: Helidon's default percentiles would put summary
                                                   // lines into this histogram family, which parsers reject
                                                   .percentiles(new double[0])
                                                   .description("Time to connect to a connector's target"));
            owned.add(t);
            return t;
        }).record(Duration.ofNanos(nanos));
    }

    @Override
    public void wire(WireEvent event) {
        counters.wire("nowconnect_wire_frames_total", event);
    }

    @Override
    public void dropped(String reason) {
        counter("nowconnect_frames_dropped_total", "reason", reason).increment();
    }

    /**
     * Streams of a configured connector open now.
     *
     * @param connector connector
     * @return count
     */
    public long activeStreams(String connector) {
        AtomicLong v = active.get(connector);
        return v == null ? 0 : v.get();
    }

    /** Remove this agent's meters (tests and embedders start several agents in one JVM). */
    @Override
    public void close() {
        owned.forEach(registry::remove);
        counters.removeAll();
        owned.clear();
    }

    private String label(String connector) {
        return connectors.contains(connector) ? connector : UNKNOWN;
    }

    private static double uptime(TunnelStatus s) {
        return s.snapshot().readySince().map(t -> Duration.between(t, Instant.now()).toMillis() / 1000.0).orElse(0.0);
    }

    private AtomicLong gauge(String connector) {
        return active.computeIfAbsent(connector, c -> {
            AtomicLong v = new AtomicLong();
            owned.add(registry.getOrCreate(Gauge.builder("nowconnect_streams_active", v, AtomicLong::doubleValue)
                                                   .tags(List.of(Tag.create("connector", c)))
                                                   .description("Streams open now")));
            return v;
        });
    }

    private Counter counter(String name, String... labels) {
        return counters.counter(name, labels);
    }
}
