package io.nowconnect.hub;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Ready agent tunnels. A new stream goes to the ready tunnel with the fewest active streams that exports the
 * connector and has not announced drain. Thread-safe; lookups do not lock.
 */
final class AgentRegistry {
    private final CopyOnWriteArrayList<AgentTunnel> tunnels = new CopyOnWriteArrayList<>();

    void add(AgentTunnel tunnel) {
        tunnels.addIfAbsent(tunnel);
    }

    void remove(AgentTunnel tunnel) {
        tunnels.remove(tunnel);
    }

    Optional<AgentTunnel> pick(String connector) {
        return tunnels.stream()
                .filter(t -> !t.draining() && t.exports(connector))
                .min(Comparator.comparingInt(AgentTunnel::activeStreams));
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
}
