package io.nowconnect.hub;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.nowconnect.Version;
import io.nowconnect.hub.status.RateHistory;
import io.nowconnect.hub.status.StatusSnapshot;
import io.nowconnect.hub.status.StatusSource;
import io.nowconnect.stream.MemoryBudget;

/**
 * The hub's state as the status page shows it, read from the registry, the meters, the caps and the memory budget
 * (nothing is probed). Thread-safe: everything read is.
 */
final class HubStatus implements StatusSource {
    private final Map<String, ConnectorListener> listeners;
    private final AgentRegistry agents;
    private final HubMetrics metrics;
    private final TunnelCap cap;
    private final int perAgentMax;
    private final MemoryBudget memory;
    private final String replica;
    private final Instant started = Instant.now();

    HubStatus(Map<String, ConnectorListener> listeners, AgentRegistry agents, HubMetrics metrics, TunnelCap cap,
              int perAgentMax, MemoryBudget memory, String replica) {
        this.listeners = listeners;
        this.agents = agents;
        this.metrics = metrics;
        this.cap = cap;
        this.perAgentMax = perAgentMax;
        this.memory = memory;
        this.replica = replica;
    }

    @Override
    public Map<String, Long> byteTotals() {
        Map<String, Long> out = new LinkedHashMap<>();
        listeners.keySet().forEach(c -> out.put(c, metrics.bytes(c)));
        return out;
    }

    @Override
    public StatusSnapshot snapshot(RateHistory history) {
        Instant now = Instant.now();
        List<StatusSnapshot.Connector> connectors = new ArrayList<>();
        listeners.forEach((name, listener) -> {
            List<Double> rates = history.rates(name);
            connectors.add(new StatusSnapshot.Connector(name, listener.port(), agents.serving(name),
                                                        metrics.activeStreams(name), metrics.bytes(name),
                                                        rates.isEmpty() ? 0 : rates.getLast(), rates,
                                                        metrics.refusals(name)));
        });
        List<AgentTunnel> ready = agents.tunnels();
        List<StatusSnapshot.Agent> rows = ready.stream()
                .sorted(Comparator.comparing(AgentTunnel::agentId))
                .limit(StatusSnapshot.MAX_AGENTS)
                .map(t -> agent(t, now))
                .toList();
        StatusSnapshot.Process process = new StatusSnapshot.Process(memory.used(), memory.limit(), cap.open(), cap.max(),
                                                                    perAgentMax, metrics.tunnelRefusals(),
                                                                    metrics.authFailures());
        return new StatusSnapshot(Version.current(), replica, started.truncatedTo(ChronoUnit.SECONDS).toString(),
                                  Duration.between(started, now).toSeconds(), history.period().toSeconds(), connectors,
                                  rows, ready.size(), process);
    }

    private StatusSnapshot.Agent agent(AgentTunnel t, Instant now) {
        Duration up = t.readyFor();
        Instant since = now.minus(up);
        return new StatusSnapshot.Agent(t.agentId(), replica, since.truncatedTo(ChronoUnit.SECONDS).toString(),
                                        up.toSeconds(), Duration.between(now, t.tokenExpiresAt()).toSeconds(),
                                        t.caps(), t.connectors().stream().sorted().toList(), t.activeStreams(), t.bytes(),
                                        t.draining());
    }
}
