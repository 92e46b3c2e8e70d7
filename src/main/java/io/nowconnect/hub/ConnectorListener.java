package io.nowconnect.hub;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.config.Cidr;
import io.nowconnect.hub.authz.AccessRequest;
import io.nowconnect.hub.authz.ConnectionPolicy;
import io.nowconnect.hub.authz.Verdict;
import io.nowconnect.log.AccessLog;
import io.nowconnect.log.Event;
import io.nowconnect.stream.Acceptor;

/**
 * A TCP listener for one connector: each accepted client connection becomes a stream on the least busy ready
 * tunnel that exports the connector. A client outside {@code NC_HUB_ALLOW_CIDRS} or beyond a connection limit
 * ({@link ClientAdmission}) is closed at once; one that finds no ready agent waits up to {@code NC_HUB_AGENT_WAIT_MS}
 * for one (a replica just restarted, before its agents are back), then is closed ({@code no_agent_for_connector}).
 * With a policy decision point ({@code NC_HUB_PDP_URL}) the client goes on only once the PDP allowed it: until then
 * nothing is read from its socket and no OPEN is sent; a denial has its access line. Refusals are counted per reason
 * and logged at most once per {@link LogThrottle#PERIOD} per reason.
 *
 * <p>Threads: a paced {@link Acceptor}: at most {@link #SETUPS_IN_FLIGHT} clients of this connector are being set up
 * at once (admitted, given a tunnel, their OPEN sent); the rest of a burst waits in the listen backlog, so a burst on
 * one connector does not queue ahead of every other connector's clients and streams on the virtual-thread scheduler.
 * Each client is handed over on its own virtual thread, which also does the waiting (parked on the
 * {@link AgentRegistry}'s condition, woken when a tunnel becomes ready or the listener closes, or for the PDP); a
 * client that waits has ended its set-up, and holds its place in the connection limits. Once the stream is open the
 * same thread goes on as its socket reader.
 */
final class ConnectorListener implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(ConnectorListener.class.getName());
    private static final String NO_AGENT = "no_agent_for_connector";
    /** Clients of one connector being set up at once (CPU work only: waiting for an agent or the PDP is not). */
    static final int SETUPS_IN_FLIGHT = 16;

    /**
     * What the listeners of a hub share.
     *
     * @param agents registry of ready tunnels
     * @param metrics hub meters
     * @param allow {@code NC_HUB_ALLOW_CIDRS}
     * @param admission the connection limits
     * @param agentWait {@code NC_HUB_AGENT_WAIT_MS}: how long a client may wait for an agent; zero = not at all
     * @param policy the policy decision point ({@code NC_HUB_PDP_URL}), if any
     * @param replicaId this replica's id, told to the PDP
     * @param accessLog whether refusals by the PDP get an access line ({@code NC_ACCESS_LOG})
     */
    record Shared(AgentRegistry agents, HubMetrics metrics, List<Cidr> allow, ClientAdmission admission,
                  Duration agentWait, Optional<ConnectionPolicy> policy, String replicaId, boolean accessLog) {
    }

    private final String connector;
    private final String bindAddress;
    private final Shared shared;
    private final Map<String, LogThrottle> refusals = new ConcurrentHashMap<>();
    private volatile Acceptor acceptor;
    private volatile boolean closed;

    private ConnectorListener(String connector, String bindAddress, Shared shared) {
        this.connector = connector;
        this.bindAddress = bindAddress;
        this.shared = shared;
    }

    static ConnectorListener start(String connector, InetSocketAddress bind, Shared shared) throws IOException {
        ConnectorListener listener = new ConnectorListener(connector, bind.getHostString() + ":" + bind.getPort(), shared);
        try {
            listener.acceptor = Acceptor.startPaced(bind.getHostString(), bind.getPort(), 1024, "nc-hub-client",
                                                    SETUPS_IN_FLIGHT, listener::handle);
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

    /** Stop accepting at once (the kernel resets what the backlog holds); clients waiting for an agent are closed. */
    @Override
    public void close() {
        closed = true;
        acceptor.close();
        shared.agents().wake();
    }

    /**
     * Stop accepting without dropping a client the kernel took: what the listen backlog holds is accepted and carried
     * (or refused for a reason of its own, as any client), then the socket closes; clients waiting for an agent are
     * closed.
     *
     * @param timeout longest wait for the backlog to be taken
     * @throws InterruptedException when interrupted (the listener is closed at once)
     */
    void drainAndClose(Duration timeout) throws InterruptedException {
        try {
            acceptor.drainAndClose(timeout);
        } finally {
            // the acceptor's socket is closed by now; closing it again does nothing
            close();
        }
    }

    private void handle(Socket client, Runnable setUp) {
        InetAddress peer = client.getInetAddress();
        List<Cidr> allow = shared.allow();
        if (!allow.isEmpty() && allow.stream().noneMatch(c -> c.contains(peer))) {
            refuse(client, "not_allowed", peer, "Client address not in NC_HUB_ALLOW_CIDRS: closed");
            return;
        }
        ClientAdmission.Slot slot = shared.admission().admit(connector, peer);
        if (slot.refusal() != null) {
            refuse(client, slot.refusal(), peer, "Client connection over a limit (" + limitVariable(slot.refusal())
                    + "): closed");
            return;
        }
        boolean handedOver = false;
        try {
            client.setTcpNoDelay(true);
            long start = System.nanoTime();
            Optional<AgentTunnel> tunnel = shared.agents().pick(connector);
            if (tunnel.isEmpty() && !shared.agentWait().isZero() && !closed) {
                setUp.run();
                tunnel = shared.agents().await(connector, start + shared.agentWait().toNanos(), () -> closed);
            }
            long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            if (tunnel.isEmpty()) {
                refuse(client, NO_AGENT, peer, "No agent exports connector " + connector
                        + (shared.agentWait().isZero() ? "" : " (waited " + waitedMs + " ms)") + ": client closed");
                return;
            }
            if (shared.policy().isPresent()) {
                setUp.run();
            }
            if (shared.policy().isPresent() && !allowed(shared.policy().get(), client, tunnel.get())) {
                return;
            }
            String refusal = tunnel.get().openStream(client, connector, slot, waitedMs, setUp);
            handedOver = refusal == null;
            if (!handedOver) {
                // counted by the tunnel (nowconnect_hub_streams_total{result}); logged here at most once per period
                logRefusal(refusal, peer, "Client connection refused by the tunnel (" + refusal + "): closed");
            }
        } catch (IOException e) {
            // the client went away before it could be carried
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (!handedOver) {
                slot.release();
                closeQuietly(client);
            }
        }
    }

    /** Ask the PDP; a refusal is counted ({@code pdp_denied}, {@code pdp_error}), logged and has an access line. */
    private boolean allowed(ConnectionPolicy pdp, Socket client, AgentTunnel tunnel) {
        InetAddress peer = client.getInetAddress();
        Verdict v = pdp.check(new AccessRequest(peer.getHostAddress(), connector, tunnel.agentId(), shared.replicaId(),
                                                bindAddress));
        if (v.allowed()) {
            return true;
        }
        String reason = "error".equals(v.result()) ? "pdp_error" : "pdp_denied";
        shared.metrics().refused(connector, reason);
        logRefusal(reason, peer, "Client refused by the policy decision point");
        if (shared.accessLog()) {
            AccessLog.refused(AccessLog.event(connector).with("client", peer.getHostAddress())
                                      .with("client_port", client.getPort()).with("agent_id", tunnel.agentId())
                                      .with("replica", shared.replicaId()), reason, v.reason().orElse(null));
        }
        return false;
    }

    /** Close a client that is not carried: counted per reason, logged at most once per period per reason. */
    private void refuse(Socket client, String reason, InetAddress peer, String message) {
        shared.metrics().refused(connector, reason);
        logRefusal(reason, peer, message);
        closeQuietly(client);
    }

    private void logRefusal(String reason, InetAddress peer, String message) {
        LogThrottle throttle = refusals.computeIfAbsent(reason, r -> new LogThrottle());
        throttle.count();
        long n = throttle.due();
        if (n > 0) {
            Event event = switch (reason) {
            case NO_AGENT -> Event.of(NO_AGENT);
            case "not_allowed" -> Event.of("client_not_allowed");
            default -> Event.of("client_refused").with("reason", reason);
            };
            event.with("connector", connector).with("peer", peer.getHostAddress()).with("count", n)
                    .log(LOGGER, Level.WARNING, message + (n > 1 ? " (" + n + " such since the last line)" : ""));
        }
    }

    private static String limitVariable(String reason) {
        return switch (reason) {
        case ClientAdmission.PER_CONNECTOR -> "NC_HUB_MAX_CONNECTIONS_PER_CONNECTOR";
        case ClientAdmission.PER_CLIENT -> "NC_HUB_MAX_CONNECTIONS_PER_CLIENT";
        default -> "NC_HUB_MAX_CONNECTIONS";
        };
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
