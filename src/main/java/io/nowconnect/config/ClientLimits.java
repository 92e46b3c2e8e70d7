package io.nowconnect.config;

import java.time.Duration;

/**
 * The hub's limits on client connections to its listeners, besides {@code NC_HUB_MAX_CONNECTIONS}, and how long a
 * client may wait for an agent. A client connection counts from its accept (while it waits for an agent too) until
 * its stream ends.
 *
 * @param perConnector {@code NC_HUB_MAX_CONNECTIONS_PER_CONNECTOR}: most client connections of one connector; default
 *        half of {@code NC_HUB_MAX_CONNECTIONS} when the hub has several listeners (so the clients of one connector
 *        leave at least half to the others), all of it with one listener
 * @param perClient {@code NC_HUB_MAX_CONNECTIONS_PER_CLIENT}: most client connections from one address (IPv6: one
 *        prefix); default a quarter of {@code NC_HUB_MAX_CONNECTIONS} (500 at the default 2000). Clients behind one
 *        NAT or proxy share it: raise it there
 * @param ipv6Prefix {@code NC_HUB_CLIENT_IPV6_PREFIX} (64): IPv6 client addresses are counted by their first this many
 *        bits (one host usually holds a whole /64); 1 to 128
 * @param agentWait {@code NC_HUB_AGENT_WAIT_MS} (10000): a client that arrives while no agent serves its connector on
 *        this hub waits up to this long for one (a replica just restarted, before the agent is back on it), then is
 *        closed; 0 closes it at once. 0 to 600000
 */
public record ClientLimits(int perConnector, int perClient, int ipv6Prefix, Duration agentWait) {
    /** Default of {@code NC_HUB_AGENT_WAIT_MS}. */
    public static final int DEFAULT_AGENT_WAIT_MS = 10_000;

    static ClientLimits read(Settings s, int maxConnections, int listeners) {
        int perConnector = s.integer("NC_HUB_MAX_CONNECTIONS_PER_CONNECTOR",
                                     listeners > 1 ? Math.max(1, maxConnections / 2) : maxConnections, 1, 1_000_000);
        int perClient = s.integer("NC_HUB_MAX_CONNECTIONS_PER_CLIENT", Math.max(1, maxConnections / 4), 1, 1_000_000);
        int prefix = s.integer("NC_HUB_CLIENT_IPV6_PREFIX", 64, 1, 128);
        int waitMs = s.integer("NC_HUB_AGENT_WAIT_MS", DEFAULT_AGENT_WAIT_MS, 0, 600_000);
        return new ClientLimits(perConnector, perClient, prefix, Duration.ofMillis(waitMs));
    }
}
