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
import io.nowconnect.log.Event;
import io.nowconnect.stream.Acceptor;

/**
 * A TCP listener for one connector: each accepted client connection becomes a stream on the least busy ready
 * tunnel that exports the connector, or is closed at once when there is none ({@code no_agent_for_connector}).
 * Refused clients are logged at most once per {@link LogThrottle#PERIOD} for each reason, with their count.
 *
 * <p>Threads: an {@link Acceptor}; each client is handed over on its own virtual thread.
 */
final class ConnectorListener implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(ConnectorListener.class.getName());

    private final String connector;
    private final AgentRegistry agents;
    private final HubMetrics metrics;
    private final List<Cidr> allow;
    /** Refused clients come in floods (a scan, a balancer's checks while no agent is there): one line per period. */
    private final LogThrottle notAllowedLog = new LogThrottle();
    private final LogThrottle noAgentLog = new LogThrottle();
    private final LogThrottle streamRefusedLog = new LogThrottle();
    private volatile Acceptor acceptor;

    private ConnectorListener(String connector, AgentRegistry agents, HubMetrics metrics, List<Cidr> allow) {
        this.connector = connector;
        this.agents = agents;
        this.metrics = metrics;
        this.allow = allow;
    }

    static ConnectorListener start(String connector, InetSocketAddress bind, AgentRegistry agents, HubMetrics metrics,
                                   List<Cidr> allow) throws IOException {
        ConnectorListener listener = new ConnectorListener(connector, agents, metrics, allow);
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
        String refusal = tunnel.get().openStream(client, connector);
        if (refusal != null) {
            long refused = streamRefusedLog.countAndDue();
            if (refused > 0) {
                Event.of("stream_refused").with("connector", connector).with("reason", refusal).with("refused", refused)
                        .log(LOGGER, Level.WARNING, "Client connection refused by the tunnel; " + refused
                                + " refused since the last such line");
            }
            closeQuietly(client);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
