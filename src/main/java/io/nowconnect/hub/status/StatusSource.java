package io.nowconnect.hub.status;

import java.util.Map;

/** Where the status page reads the hub's state: implemented by the hub, called from request and sampler threads. */
public interface StatusSource {
    /**
     * Bytes carried per connector since start, both directions (sampled for the plots).
     *
     * @return connector to bytes
     */
    Map<String, Long> byteTotals();

    /**
     * The state now.
     *
     * @param history the connectors' recent rates
     * @return snapshot
     */
    StatusSnapshot snapshot(RateHistory history);
}
