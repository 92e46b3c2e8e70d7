package io.nowconnect.hub.status;

import java.util.List;
import java.util.Map;

/**
 * What the status page shows, read at one moment; also the body of {@code /status.json} (field names as here).
 * Counts only: nothing here is a token or payload.
 *
 * @param version the hub's version
 * @param replica this replica's id ({@code NC_HUB_REPLICA_ID})
 * @param startedAt when the hub started (ISO-8601, whole seconds)
 * @param uptimeSeconds seconds since start
 * @param sampleSeconds seconds between two points of a connector's plot
 * @param connectors the configured connectors, in configuration order
 * @param agents ready agent tunnels, sorted by id, at most {@link #MAX_AGENTS}
 * @param agentsTotal ready agent tunnels in all (may exceed the rows shown)
 * @param process the process-wide numbers
 */
public record StatusSnapshot(String version, String replica, String startedAt, long uptimeSeconds, long sampleSeconds,
                             List<Connector> connectors, List<Agent> agents, int agentsTotal, Process process) {
    /** Most agent rows in one snapshot: the page of a hub with thousands of tunnels stays a page. */
    public static final int MAX_AGENTS = 500;

    /**
     * One connector.
     *
     * @param name connector name
     * @param port bound port of its listener
     * @param agents ready tunnels exporting it (0: its clients are refused)
     * @param streams client streams open now
     * @param bytes bytes carried, both directions, since start
     * @param bytesPerSecond rate over the last sample period
     * @param rates bytes per second per sample period, oldest first (at most 15 minutes)
     * @param refusals refused client connections by reason
     */
    public record Connector(String name, int port, int agents, long streams, long bytes, double bytesPerSecond,
                            List<Double> rates, Map<String, Long> refusals) {
    }

    /**
     * One ready agent tunnel.
     *
     * @param id the token's {@code agent_id} (peer-supplied: escape it)
     * @param replica the replica it is connected to (this one)
     * @param connectedSince when its tunnel became ready (ISO-8601, whole seconds)
     * @param connectedSeconds seconds since then
     * @param tokenSecondsLeft seconds until its token's {@code exp} (negative: expired, draining its streams)
     * @param caps capabilities agreed in HELLO
     * @param connectors connectors it serves
     * @param streams streams open now
     * @param bytes payload bytes carried, both directions
     * @param draining whether it announced drain
     */
    public record Agent(String id, String replica, String connectedSince, long connectedSeconds, long tokenSecondsLeft,
                        List<String> caps, List<String> connectors, int streams, long bytes, boolean draining) {
    }

    /**
     * The process.
     *
     * @param memoryUsedBytes bytes held for streams now
     * @param memoryLimitBytes the memory budget ({@code NC_HUB_MEMORY_BUDGET_MB})
     * @param tunnelsOpen agent tunnels open now, acknowledged or not
     * @param tunnelsMax {@code NC_HUB_MAX_TUNNELS}
     * @param tunnelsPerAgentMax {@code NC_HUB_MAX_TUNNELS_PER_AGENT}
     * @param tunnelRefusals refused tunnel upgrades by reason
     * @param authFailures auth failures by reason
     */
    public record Process(long memoryUsedBytes, long memoryLimitBytes, int tunnelsOpen, int tunnelsMax,
                          int tunnelsPerAgentMax, Map<String, Long> tunnelRefusals, Map<String, Long> authFailures) {
    }
}
