package io.nowconnect.hub;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The cap on tunnels per {@code agent_id} ({@code NC_HUB_MAX_TUNNELS_PER_AGENT}): one stolen or runaway token cannot
 * take the hub's tunnel slots from every other agent. Our agent holds one tunnel, two while a rotation overlaps the
 * old one with the new; the default leaves room for that and a reconnect racing the old tunnel's end. A slot is taken
 * at the upgrade, after the token verified, and given back when the tunnel's connection ends.
 *
 * <p>Thread-safe; an agent id is in the map only while it holds a tunnel, so the map is bounded by the tunnels.
 */
final class AgentTunnelCap {
    private final int max;
    private final ConcurrentHashMap<String, Integer> open = new ConcurrentHashMap<>();
    private final LogThrottle refusals = new LogThrottle();

    /**
     * A cap.
     *
     * @param max most tunnels of one agent id at once
     */
    AgentTunnelCap(int max) {
        this.max = max;
    }

    /**
     * Take a slot for a new tunnel of this agent.
     *
     * @param agentId the token's agent id
     * @return whether one was free (if so, {@link #release} gives it back)
     */
    boolean tryAcquire(String agentId) {
        boolean[] taken = {false};
        open.compute(agentId, (id, n) -> {
            int count = n == null ? 0 : n;
            if (count >= max) {
                return n;
            }
            taken[0] = true;
            return count + 1;
        });
        if (!taken[0]) {
            refusals.count();
        }
        return taken[0];
    }

    /**
     * Give a slot back.
     *
     * @param agentId agent id
     */
    void release(String agentId) {
        open.computeIfPresent(agentId, (id, n) -> n <= 1 ? null : n - 1);
    }

    /**
     * Tunnels of an agent id open now.
     *
     * @param agentId agent id
     * @return count
     */
    int open(String agentId) {
        return open.getOrDefault(agentId, 0);
    }

    /**
     * The cap.
     *
     * @return most tunnels per agent id
     */
    int max() {
        return max;
    }

    /**
     * Whether a refusal should be logged now (at most once per {@link LogThrottle#PERIOD}), and how many were
     * refused since the last line.
     *
     * @return refusals since the last line (this one included), or 0 when this one is not to be logged
     */
    long refusalsToLog() {
        return refusals.due();
    }

}
