package io.nowconnect.tunnel;

import java.net.InetSocketAddress;
import java.util.Map;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.Target;
import io.nowconnect.log.AccessLog;
import io.nowconnect.log.Event;
import io.nowconnect.stream.StreamEnd;
import io.nowconnect.stream.StreamObserver;

/**
 * The agent's access log: at each stream's end, its connector, the target it dialled (as configured, {@code host:port}),
 * cid, bytes each way, duration and result ({@link AccessLog}). Called on stream threads; holds nothing but the
 * configuration it was made with.
 */
public final class AgentAccessLog implements StreamObserver {
    private final String agentId;
    private final Map<String, Target> targets;

    /**
     * An access log for an agent.
     *
     * @param config the agent's configuration (its id and connectors' targets)
     */
    public AgentAccessLog(AgentConfig config) {
        this.agentId = config.agentId();
        this.targets = Map.copyOf(config.connectors());
    }

    @Override
    public void ended(StreamEnd end) {
        Target target = targets.get(end.connector());
        InetSocketAddress peer = end.peer();
        String where = target != null ? target.host() + ":" + target.port()
                : peer == null ? null : peer.getHostString() + ":" + peer.getPort();
        Event line = AccessLog.event(end.connector()).with("target", where).with("agent_id", agentId);
        AccessLog.log(end, line);
    }
}
