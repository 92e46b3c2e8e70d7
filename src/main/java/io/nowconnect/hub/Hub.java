package io.nowconnect.hub;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.common.socket.SocketOptions;
import io.helidon.metrics.api.Metrics;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;

import io.nowconnect.config.ConfigException;
import io.nowconnect.config.HubConfig;
import io.nowconnect.health.ServerStart;
import io.nowconnect.hub.authz.ConnectionPolicy;
import io.nowconnect.hub.status.RateHistory;
import io.nowconnect.hub.status.StatusPage;
import io.nowconnect.hub.tls.Admission;
import io.nowconnect.hub.tls.ReloadingTls;
import io.nowconnect.log.Event;
import io.nowconnect.stream.MemoryBudget;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamSettings;

/**
 * A running NowConnect hub: the Helidon WebServer with {@code /tunnel}, {@code /healthz}, {@code /readyz} and
 * {@code /metrics} (the last three on the admin listener when there is one, see {@link HubAdmin}, which then serves the
 * status page {@code /status} too, see {@link StatusPage}), plus one TCP listener per connector.
 */
public final class Hub implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(Hub.class.getName());
    private static final int RECEIVE_BUFFER = 4 << 20;
    /** Longest a listener takes to accept what its backlog holds at a stop, before it is closed regardless. */
    private static final Duration LISTENER_DRAIN = Duration.ofSeconds(2);

    private final WebServer server;
    private final Map<String, ConnectorListener> listeners;
    private final AgentRegistry agents;
    private final HubMetrics metrics;
    private final String replicaId;
    private final UpgradeDeadline deadline;
    private final ReloadingTls tls;
    private final HubTrust trust;
    private final RateHistory rates;
    private final ClientAdmission admission;
    private final Duration lameDuck;
    private volatile boolean stopping;

    private Hub(WebServer server, Map<String, ConnectorListener> listeners, AgentRegistry agents, HubMetrics metrics,
                HubConfig config, UpgradeDeadline deadline, ReloadingTls tls, HubTrust trust, RateHistory rates,
                ClientAdmission admission) {
        this.admission = admission;
        this.lameDuck = config.lameDuck();
        this.replicaId = config.replicaId();
        this.trust = trust;
        this.tls = tls;
        this.rates = rates;
        this.deadline = deadline;
        this.server = server;
        this.listeners = listeners;
        this.agents = agents;
        this.metrics = metrics;
    }

    /**
     * Start a hub.
     *
     * @param config validated configuration
     * @return the running hub
     * @throws ConfigException when key material is unusable or a port cannot be bound (all problems listed)
     */
    public static Hub start(HubConfig config) {
        // keys and revocation list, watched: a rotation or a revocation needs no restart
        HubTrust trust = HubTrust.start(config);
        AgentRegistry agents = new AgentRegistry();
        HubMetrics metrics = new HubMetrics(Metrics.globalRegistry(), agents);
        StreamSettings streams = new StreamSettings(config.maxWsPayload(), config.queueDepth(), config.idleTimeout(),
                                                    Duration.ofSeconds(10), config.maxConnections(),
                                                    config.streamSendBuffer());
        MemoryBudget memory = MemoryBudget.create(config.memoryBudgetBytes());
        Shares shares = Shares.of(memory);
        metrics.memory(shares);
        AgentTunnel.Context ctx = new AgentTunnel.Context(agents, metrics, StreamBudget.create(config.maxConnections()),
                                                          shares, streams, config.pingInterval(), config.pingTimeout(),
                                                          config.maxFrameBytes(), config.drainTimeout(),
                                                          config.replicaId(),
                                                          config.replicas().isEmpty() ? List.of(config.replicaId())
                                                                  : config.replicas(), trust.verifier(),
                                                          config.log().access(), config.requireBin1());
        TunnelCap cap = new TunnelCap(config.maxTunnels());
        metrics.tunnelCap(cap);
        AgentTunnelCap perAgent = new AgentTunnelCap(config.maxTunnelsPerAgent());

        ClientAdmission admission = new ClientAdmission(config.maxConnections(), config.clients().perConnector(),
                                                        config.clients().perClient(), config.clients().ipv6Prefix(),
                                                        config.listeners().keySet());
        metrics.clients(admission);
        Optional<ConnectionPolicy> policy = config.pdp().map(p -> ConnectionPolicy.create(p, Metrics.globalRegistry()));
        ConnectorListener.Shared shared = new ConnectorListener.Shared(agents, metrics, config.allowCidrs(), admission,
                                                                       config.clients().agentWait(), policy,
                                                                       config.replicaId(), config.log().access());
        Map<String, ConnectorListener> listeners = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, InetSocketAddress> e : config.listeners().entrySet()) {
            try {
                listeners.put(e.getKey(), ConnectorListener.start(e.getKey(), e.getValue(), shared));
            } catch (IOException ex) {
                problems.add("NC_HUB_LISTENERS: " + ex.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            listeners.values().forEach(ConnectorListener::close);
            metrics.close();
            trust.close();
            throw new ConfigException(problems);
        }
        metrics.connectors(listeners.keySet());
        HubStatus status = new HubStatus(listeners, agents, metrics, cap, config.maxTunnelsPerAgent(), memory,
                                         config.replicaId());
        RateHistory rates = RateHistory.start(List.copyOf(listeners.keySet()), status::byteTotals,
                                              config.statusSample());
        StatusPage statusPage = new StatusPage(status, rates, config.adminTokenFile());

        UpgradeDeadline deadline = new UpgradeDeadline(config.requestTimeout(), metrics);
        Hub[] self = new Hub[1];
        // /healthz, /readyz, /metrics: on the hub's port, or on the admin listener (NC_HUB_ADMIN_PORT)
        HubAdmin admin = new HubAdmin(config, agents, () -> self[0] != null && self[0].ready(),
                                      () -> self[0] != null && self[0].stopping, () -> jwks(trust));
        TunnelUpgrader upgrader = new TunnelUpgrader(trust.verifier(), ctx, cap, perAgent, deadline,
                                                     config.tlsBindAgentId());
        WebServerConfig.Builder builder = WebServer.builder()
                .host(config.host())
                .port(config.port())
                // small frames (WINDOW, pong, one-line replies) must not wait for Nagle and a delayed ACK
                .connectionOptions(SocketOptions.builder().tcpNoDelay(true).build())
                // Helidon 4.2.0 sets SO_RCVBUF 4096 on the listening socket unless told otherwise, and accepted sockets
                // inherit it: an 8 KiB receive window held agent->hub bulk to about 0.7 Gbit/s on loopback. The kernel
                // caps this at net.core.rmem_max.
                .putListenerSocketOption(StandardSocketOptions.SO_RCVBUF, RECEIVE_BUFFER)
                .featuresDiscoverServices(false)
                // one HTTP/1.1 handler whose only upgrade is ours (not Helidon's WebSocket upgrader, see TunnelUpgrader)
                .protocolsDiscoverServices(false)
                // unauthenticated load: at most this many connections at once (beyond it they wait in the backlog),
                // and each must have become a tunnel within NC_HUB_REQUEST_TIMEOUT_SEC (slow request headers)
                .maxTcpConnections(config.maxTcpConnections())
                .addConnectionSelector(deadline.watch(admin.publicSelector(upgrader)));
        // the status page names agents and connectors: on the admin listener only, never on the agents' port
        if (config.admin().isPresent()) {
            admin.route(statusPage::register);
        }
        admin.configure(builder);
        ReloadingTls tls = null;
        if (config.tlsCert().isPresent()) {
            try {
                tls = ReloadingTls.start(config.tlsCert().get(), config.tlsKey().orElseThrow(), config.tlsClientCa());
            } catch (IllegalArgumentException e) {
                listeners.values().forEach(ConnectorListener::close);
                deadline.close();
                metrics.close();
                trust.close();
                rates.close();
                throw new ConfigException(List.of("NC_HUB_TLS_CERT/NC_HUB_TLS_KEY: " + e.getMessage()));
            }
            // the handshake runs in the front door, under its own deadline, before Helidon takes the connection
            Admission frontDoor = new Admission(config.maxTcpConnections(), config.tlsHandshakeTimeout(),
                                                metrics::connectionCut);
            metrics.frontDoor(frontDoor);
            builder.tls(tls.helidonTls(frontDoor));
        }
        WebServer server;
        String failure = null;
        try {
            server = ServerStart.start(builder);
            if (server.port() < 0 || admin.separate() && server.port(HubAdmin.SOCKET) < 0) {
                // Helidon 4.2.0 starts anyway after a failed bind (and then reports no port for any listener); a hub
                // without its endpoint must not run
                server.stop();
                failure = "address in use or not available";
            }
        } catch (RuntimeException e) {
            server = null;
            failure = rootMessage(e);
        }
        if (failure != null) {
            rates.close();
            listeners.values().forEach(ConnectorListener::close);
            if (tls != null) {
                tls.close();
            }
            deadline.close();
            metrics.close();
            trust.close();
            if (server != null && config.admin().isPresent() && !HubAdmin.bindable(config.admin().get())) {
                throw new ConfigException(List.of("NC_HUB_ADMIN_HOST/NC_HUB_ADMIN_PORT: cannot listen on "
                        + config.admin().get().getHostString() + ":" + config.admin().get().getPort() + " (" + failure + ")"));
            }
            throw new ConfigException(List.of("NC_HUB_HOST/NC_HUB_PORT: cannot start the hub server on " + config.host()
                                                      + ":" + config.port() + " (" + failure + ")"));
        }
        Hub hub = new Hub(server, listeners, agents, metrics, config, deadline, tls, trust, rates, admission);
        self[0] = hub;
        Map<String, Integer> ports = hub.listenerPorts();
        Event.of("hub_started").with("port", server.port()).with("tls", config.tlsCert().isPresent())
                .with("listeners", ports.toString()).with("replica", config.replicaId())
                .log(LOGGER, Level.INFO, "NowConnect hub listening on " + config.host() + ":" + server.port() + " (/tunnel)");
        return hub;
    }

    /**
     * Port of the WebSocket/HTTP server.
     *
     * @return port
     */
    public int port() {
        return server.port();
    }

    /**
     * Port of the admin listener ({@code NC_HUB_ADMIN_PORT}), or of the hub's server when there is none.
     *
     * @return port where {@code /metrics} and {@code /readyz} are served
     */
    public int adminPort() {
        int admin = server.port(HubAdmin.SOCKET);
        return admin > 0 ? admin : server.port();
    }

    /**
     * Bound port of each connector listener.
     *
     * @return connector to port
     */
    public Map<String, Integer> listenerPorts() {
        Map<String, Integer> ports = new LinkedHashMap<>();
        listeners.forEach((k, v) -> ports.put(k, v.port()));
        return ports;
    }

    /**
     * Agent tunnels that completed HELLO.
     *
     * @return count
     */
    public int agentCount() {
        return agents.size();
    }

    /**
     * {@code jti} claims of the ready tunnels exporting a connector, least busy first (tests use it to see which token a
     * stream travels on).
     *
     * @param connector connector
     * @return jti values
     */
    public List<String> tunnelTokenIds(String connector) {
        return agents.tunnels().stream().filter(t -> t.exports(connector)).map(t -> t.jti().orElse("")).toList();
    }

    /**
     * Active streams per ready tunnel exporting a connector.
     *
     * @param connector connector
     * @return stream counts
     */
    public List<Integer> tunnelStreamCounts(String connector) {
        return agents.tunnels().stream().filter(t -> t.exports(connector)).map(AgentTunnel::activeStreams).toList();
    }

    /**
     * Whether the WebSocket server runs and every listener is bound.
     *
     * @return readiness
     */
    public boolean ready() {
        return !stopping && server.isRunning() && listeners.values().stream().allMatch(ConnectorListener::isBound)
                && trust.keysReady();
    }

    /** The JWKS URL's part of {@code /readyz}: fetched or not, age, keys, and whether the last fetch failed. */
    private static String jwks(HubTrust trust) {
        return trust.jwksStatus().map(s -> ",\"jwks\":{\"fetched\":" + s.fetched() + ",\"age_sec\":" + s.age().toSeconds()
                + ",\"keys\":" + s.keys() + ",\"stale\":" + s.problem().isPresent() + "}").orElse("");
    }

    /**
     * Graceful stop (SIGTERM): {@code /readyz} answers 503 from now on, so a balancer moves new clients and new tunnels
     * to the other replicas; for the lame-duck period ({@code NC_HUB_LAMEDUCK_MS}) the listeners still accept and carry
     * clients while the balancer's checks notice; then the listeners stop accepting, without dropping what their listen
     * backlogs hold (those clients are carried); client connections (being set up or open) may finish for up to
     * {@code drainTimeout} while the agents stay connected; then the tunnels are closed (1001, the agents re-dial) and
     * the server stops.
     *
     * @param drainTimeout longest wait for open streams ({@code NC_HUB_DRAIN_TIMEOUT_SEC})
     */
    public void stop(Duration drainTimeout) {
        stopping = true;
        try {
            if (lameDuck.isPositive()) {
                Event.of("hub_lameduck").with("replica", replicaId).with("ms", lameDuck.toMillis())
                        .log(LOGGER, Level.INFO, "Stopping: /readyz answers 503, the listeners close in "
                                + lameDuck.toMillis() + " ms");
                Thread.sleep(lameDuck);
            }
            closeListeners();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            listeners.values().forEach(ConnectorListener::close);
        }
        int open = clientConnections();
        Event.of("hub_stopping").with("replica", replicaId).with("streams", open).with("agents", agents.size())
                .log(LOGGER, Level.INFO, "Stopping: listeners closed, " + open + " open streams may finish for up to "
                        + drainTimeout.toSeconds() + " s");
        long deadline = System.nanoTime() + drainTimeout.toNanos();
        while (clientConnections() > 0 && System.nanoTime() - deadline < 0 && !Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        open = clientConnections();
        if (open > 0) {
            Event.of("hub_drain_timeout").with("replica", replicaId).with("streams", open)
                    .log(LOGGER, Level.WARNING, "Drain timed out: closing the tunnels with " + open + " streams open");
        }
        close();
    }

    /** Every listener takes what its backlog holds and closes, all at once. */
    private void closeListeners() throws InterruptedException {
        List<Thread> closing = new ArrayList<>();
        for (ConnectorListener listener : listeners.values()) {
            closing.add(Thread.ofVirtual().name("nc-hub-listener-close").start(() -> {
                try {
                    listener.drainAndClose(LISTENER_DRAIN);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        for (Thread t : closing) {
            t.join();
        }
    }

    /**
     * Client connections the hub holds: open streams, and clients accepted and not yet a stream (being set up, waiting
     * for an agent or for the policy decision point).
     */
    private int clientConnections() {
        return Math.max(admission.held(), openStreams());
    }

    private int openStreams() {
        return agents.tunnels().stream().mapToInt(AgentTunnel::activeStreams).sum();
    }

    @Override
    public void close() {
        stopping = true;
        listeners.values().forEach(ConnectorListener::close);
        server.stop();
        if (tls != null) {
            tls.close();
        }
        deadline.close();
        rates.close();
        metrics.close();
        trust.close();
        Event.of("hub_stopped").log(LOGGER, Level.INFO, "NowConnect hub stopped");
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
    }
}
