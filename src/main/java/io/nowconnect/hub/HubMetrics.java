package io.nowconnect.hub;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.Gauge;
import io.helidon.metrics.api.Meter;
import io.helidon.metrics.api.MeterRegistry;
import io.helidon.metrics.api.Tag;

import io.nowconnect.health.Counters;
import io.nowconnect.protocol.Direction;
import io.nowconnect.stream.MemoryBudget;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.WireEvent;

/**
 * The hub's meters ({@code nowconnect_hub_*}). Labels are connector names from the hub's own listener list and
 * reasons from a fixed set, never a {@code cid} or anything an agent chose freely. Thread-safe.
 */
final class HubMetrics implements StreamObserver {
    private final MeterRegistry registry;
    private final Map<String, AtomicLong> active = new ConcurrentHashMap<>();
    private final Counters counters;
    // gauges read this hub's state: removed on close, or a later hub in the same JVM would report this one's values
    private final List<Meter> gauges = new CopyOnWriteArrayList<>();
    private final AgentRegistry agents;
    /** Counts for the status page: refusals by connector and reason, auth failures and tunnel refusals by reason. */
    private final Map<String, Map<String, LongAdder>> refusals = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> authFailures = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> tunnelRefusals = new ConcurrentHashMap<>();

    HubMetrics(MeterRegistry registry, AgentRegistry agents) {
        this.registry = registry;
        this.agents = agents;
        this.counters = new Counters(registry, "nowconnect_hub_bytes_total");
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_agents_connected", agents, a -> (double) a.size())
                                                .description("Agent tunnels that completed HELLO")));
    }

    @Override
    public void opened(String connector) {
        gauge(connector).incrementAndGet();
    }

    @Override
    public void closed(String connector, String result) {
        gauge(connector).decrementAndGet();
        counter("nowconnect_hub_streams_total", "connector", connector, "result", result).increment();
        if (!"ok".equals(result)) {
            counter("nowconnect_hub_resets_total", "reason", result).increment();
        }
    }

    @Override
    public void refused(String connector, String result) {
        tally(refusals.computeIfAbsent(connector, c -> new ConcurrentHashMap<>()), result);
        counter("nowconnect_hub_streams_total", "connector", connector, "result", result).increment();
    }

    @Override
    public void bytes(String connector, Direction direction, int bytes) {
        counters.bytes(connector, direction, bytes);
    }

    @Override
    public void wire(WireEvent event) {
        counters.wire("nowconnect_hub_wire_frames_total", event);
    }

    @Override
    public void dropped(String reason) {
        counter("nowconnect_hub_frames_dropped_total", "reason", reason).increment();
    }

    void authFailure(String reason) {
        tally(authFailures, reason);
        counter("nowconnect_hub_auth_failures_total", "reason", reason).increment();
    }

    /** Remove this hub's gauges from the registry (counters stay: they are process totals). */
    void close() {
        gauges.forEach(registry::remove);
        gauges.clear();
    }

    /**
     * Report the tunnel cap's use as {@code nowconnect_hub_tunnels_open} (upgraded tunnels, acknowledged or not) and
     * {@code nowconnect_hub_tunnels_max}.
     *
     * @param cap the hub's tunnel cap
     */
    void tunnelCap(TunnelCap cap) {
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_tunnels_open", cap, c -> (double) c.open())
                                                .description("Agent tunnels open now, acknowledged or not")));
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_tunnels_max", cap, c -> (double) c.max())
                                                .description("Most agent tunnels at once (NC_HUB_MAX_TUNNELS)")));
    }

    /**
     * Gauges of the hub's memory budget for streams.
     *
     * @param shares the budget and its shares between agents
     */
    void memory(Shares shares) {
        MemoryBudget memory = shares.budget();
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_memory_busy_agents", shares,
                                                      s -> (double) s.busyTenants())
                                                .description("Agents (agent_id) with a stream open: the memory budget "
                                                                     + "is shared fairly between them")));
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_memory_used_bytes", memory, m -> (double) m.used())
                                                .description("Bytes held for streams: received and not yet written to a "
                                                                     + "client socket, or read and not yet sent")));
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_memory_limit_bytes", memory, m -> (double) m.limit())
                                                .description("The memory budget for streams (NC_HUB_MEMORY_BUDGET_MB)")));
    }

    /**
     * Gauges of the TLS port's connection accounting: {@code nowconnect_hub_connections_open} (accepted, not yet closed,
     * whatever their state) and {@code nowconnect_hub_tls_handshakes_in_progress}.
     *
     * @param admission the front door's accounting
     */
    void frontDoor(io.nowconnect.hub.tls.Admission admission) {
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_connections_open", admission, a -> (double) a.open())
                                                .description("Connections to the hub's port open now, from accept to "
                                                                     + "close (TLS hub)")));
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_tls_handshakes_in_progress", admission,
                                                      a -> (double) a.handshaking())
                                                .description("TLS handshakes running now on the hub's port")));
    }

    /**
     * Gauges of the listeners' client connections: {@code nowconnect_hub_client_connections} (admitted and not ended,
     * waiting for an agent included) and {@code nowconnect_hub_client_addresses} (client addresses or IPv6 prefixes
     * holding one now: the per-address bookkeeping).
     *
     * @param admission the hub's client limits
     */
    void clients(ClientAdmission admission) {
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_client_connections", admission, a -> (double) a.held())
                                                .description("Client connections held now, waiting for an agent "
                                                                     + "included")));
        gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_client_addresses", admission,
                                                      a -> (double) a.addresses())
                                                .description("Client addresses (IPv6: prefixes) holding a connection now")));
    }

    void tunnelRefused(String reason) {
        tally(tunnelRefusals, reason);
        counter("nowconnect_hub_tunnels_refused_total", "reason", reason).increment();
    }

    /**
     * A connection to the hub's port was closed by the hub before it became a tunnel.
     *
     * @param reason why ({@code request_timeout}, {@code tls_handshake_timeout}, {@code tls_handshake_failed},
     *               {@code tls_handshake_closed})
     */
    void connectionCut(String reason) {
        counter("nowconnect_hub_connections_cut_total", "reason", reason).increment();
    }

    void tunnelEnded(String reason) {
        counter("nowconnect_hub_tunnels_closed_total", "reason", reason).increment();
    }

    /**
     * One gauge per configured connector, {@code nowconnect_hub_connector_agents}: the ready tunnels exporting it
     * (0: clients of that connector are refused with {@code no_agent_for_connector}).
     *
     * @param names the hub's connectors ({@code NC_HUB_LISTENERS})
     */
    void connectors(Iterable<String> names) {
        for (String c : names) {
            gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_connector_agents", agents,
                                                          a -> (double) a.serving(c))
                                                    .tags(List.of(Tag.create("connector", c)))
                                                    .description("Ready agent tunnels exporting the connector")));
            gauge(c);
        }
    }

    /**
     * Client streams of a connector open now.
     *
     * @param connector connector
     * @return count
     */
    long activeStreams(String connector) {
        AtomicLong v = active.get(connector);
        return v == null ? 0 : v.get();
    }

    /**
     * Bytes carried for a connector in both directions (a process total, like the counter).
     *
     * @param connector connector
     * @return bytes
     */
    long bytes(String connector) {
        return counters.bytesTotal(connector);
    }

    /**
     * Client connections of a connector refused, by reason (this hub's, since start).
     *
     * @param connector connector
     * @return reason to count, sorted
     */
    Map<String, Long> refusals(String connector) {
        return sums(refusals.getOrDefault(connector, Map.of()));
    }

    /**
     * Auth failures by reason (this hub's, since start).
     *
     * @return reason to count, sorted
     */
    Map<String, Long> authFailures() {
        return sums(authFailures);
    }

    /**
     * Tunnel upgrades refused by reason (this hub's, since start).
     *
     * @return reason to count, sorted
     */
    Map<String, Long> tunnelRefusals() {
        return sums(tunnelRefusals);
    }

    /** Reasons come from fixed sets and connectors from the configuration: these maps stay small. */
    private static void tally(Map<String, LongAdder> map, String reason) {
        map.computeIfAbsent(reason, r -> new LongAdder()).increment();
    }

    private static Map<String, Long> sums(Map<String, LongAdder> map) {
        Map<String, Long> out = new TreeMap<>();
        map.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    private AtomicLong gauge(String connector) {
        return active.computeIfAbsent(connector, c -> {
            AtomicLong v = new AtomicLong();
            gauges.add(registry.getOrCreate(Gauge.builder("nowconnect_hub_streams_active", v, AtomicLong::doubleValue)
                                                    .tags(java.util.List.of(Tag.create("connector", c)))
                                                    .description("Client streams open now")));
            return v;
        });
    }

    private Counter counter(String name, String... labels) {
        return counters.counter(name, labels);
    }
}
