package io.nowconnect.hub;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.config.Cidr;
import io.nowconnect.hub.authz.AccessRequest;
import io.nowconnect.hub.authz.ConnectionPolicy;
import io.nowconnect.hub.authz.Verdict;
import io.nowconnect.log.Event;
import io.nowconnect.stream.Acceptor;

/**
 * A TCP listener for one connector: each accepted client connection becomes a stream on the least busy ready
 * tunnel that exports the connector, or is closed at once when there is none ({@code no_agent_for_connector}).
 * With a policy decision point ({@code NC_HUB_PDP_URL}) the client goes on only once the PDP allowed it: until then
 * nothing is read from its socket and no OPEN is sent. Refused clients are logged at most once per
 * {@link LogThrottle#PERIOD} for each reason, with their count.
 *
 * <p>Threads: an {@link Acceptor}; each client is handed over on its own virtual thread.
 */
final class ConnectorListener implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(ConnectorListener.class.getName());

    private final String connector;
    private final AgentRegistry agents;
    private final HubMetrics metrics;
    private final List<Cidr> allow;
    private final Optional<ConnectionPolicy> policy;
    private final String replicaId;
    private final String bindAddress;
    /** Refused clients come in floods (a scan, a balancer's checks while no agent is there): one line per period. */
    private final LogThrottle notAllowedLog = new LogThrottle();
    private final LogThrottle noAgentLog = new LogThrottle();
    private final LogThrottle denials = new LogThrottle();
    private volatile Acceptor acceptor;

    private ConnectorListener(String connector, AgentRegistry agents, HubMetrics metrics, List<Cidr> allow,
                              Optional<ConnectionPolicy> policy, String replicaId, String bindAddress) {
        this.connector = connector;
        this.agents = agents;
        this.metrics = metrics;
        this.allow = allow;
        this.policy = policy;
        this.replicaId = replicaId;
        this.bindAddress = bindAddress;
    }

    static ConnectorListener start(String connector, InetSocketAddress bind, AgentRegistry agents, HubMetrics metrics,
                                   List<Cidr> allow, Optional<ConnectionPolicy> policy, String replicaId)
            throws IOException {
        ConnectorListener listener = new ConnectorListener(connector, agents, metrics, allow, policy, replicaId,
                                                           bind.getHostString() + ":" + bind.getPort());
        try {
            listener.acceptor = Acceptor.start(bind.getHostString(), bind.getPort(), 1024, "nc-hub-client", listener::handle);
        } catch (IOException e) {
            throw new IOException("cannot listen on " + bind.getHostString() + ":" + bind.getPort() + " for connector "
                                          + connector + ": " + e.getMessage(), e);
        }
        return listener;
    }

    String connector() {
        return connector;
    }

    int port() {
        return acceptor.port();
    }

    boolean isBound() {
        return acceptor.isBound();
    }

    @Override
    public void close() {
        acceptor.close();
    }

    private void handle(Socket client) {
        InetAddress peer = client.getInetAddress();
        if (!allow.isEmpty() && allow.stream().noneMatch(c -> c.contains(peer))) {
            metrics.refused(connector, "not_allowed");
            long refused = notAllowedLog.countAndDue();
            if (refused > 0) {
                Event.of("client_not_allowed").with("connector", connector).with("peer", peer.getHostAddress())
                        .with("refused", refused)
                        .log(LOGGER, Level.WARNING, "Client address not in NC_HUB_ALLOW_CIDRS: closed; " + refused
                                + " refused since the last such line");
            }
            closeQuietly(client);
            return;
        }
        try {
            client.setTcpNoDelay(true);
        } catch (IOException e) {
            closeQuietly(client);
            return;
        }
        Optional<AgentTunnel> tunnel = agents.pick(connector);
        if (tunnel.isEmpty()) {
            metrics.refused(connector, "no_agent_for_connector");
            long refused = noAgentLog.countAndDue();
            if (refused > 0) {
                Event.of("no_agent_for_connector").with("connector", connector).with("refused", refused)
                        .log(LOGGER, Level.WARNING, "No agent exports the connector: client closed; " + refused
                                + " refused since the last such line");
            }
            closeQuietly(client);
            return;
        }
        if (policy.isPresent() && !allowed(policy.get(), peer, tunnel.get())) {
            closeQuietly(client);
            return;
        }
        if (!tunnel.get().openStream(client, connector)) {
            closeQuietly(client);
        }
    }

    /** Ask the PDP; a refusal is counted ({@code pdp_denied}, {@code pdp_error}) and logged at most once a period. */
    private boolean allowed(ConnectionPolicy pdp, InetAddress peer, AgentTunnel tunnel) {
        Verdict v = pdp.check(new AccessRequest(peer.getHostAddress(), connector, tunnel.agentId(), replicaId,
                                                bindAddress));
        if (v.allowed()) {
            return true;
        }
        String reason = "error".equals(v.result()) ? "pdp_error" : "pdp_denied";
        metrics.refused(connector, reason);
        denials.count();
        long n = denials.due();
        if (n > 0) {
            Event.of(reason).with("connector", connector).with("peer", peer.getHostAddress())
                    .with("agent_id", tunnel.agentId()).with("pdp_reason", v.reason().orElse(null)).with("count", n)
                    .log(LOGGER, Level.WARNING, "Client refused by the policy decision point (" + n
                            + " in the last period)");
        }
        return false;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
