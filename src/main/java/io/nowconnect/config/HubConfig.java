package io.nowconnect.config;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.helidon.config.Config;

import io.nowconnect.hub.auth.Revocations;
import io.nowconnect.hub.auth.TokenVerifier;
import io.nowconnect.protocol.ConnectorName;

/**
 * Hub configuration, validated once at start.
 *
 * @param host {@code NC_HUB_HOST} (0.0.0.0): bind address of the WebSocket and HTTP server
 * @param port {@code NC_HUB_PORT} (8765): its port; {@code /tunnel}, {@code /healthz}, {@code /readyz}, {@code /metrics}
 *             (with an admin listener: {@code /tunnel} and a {@code /healthz} without details only)
 * @param admin {@code NC_HUB_ADMIN_HOST} (127.0.0.1) and {@code NC_HUB_ADMIN_PORT} (unset = off): a second listener,
 *              plain HTTP, with {@code /metrics}, {@code /readyz} (and {@code ?connector=}) and {@code /healthz}, which
 *              then leave the hub's port; the port must differ from {@code NC_HUB_PORT} and the listeners' ports
 * @param tlsCert {@code NC_HUB_TLS_CERT}: PEM certificate chain; with {@code NC_HUB_TLS_KEY} the server speaks TLS
 * @param tlsKey {@code NC_HUB_TLS_KEY}: PEM private key (PKCS#8 or PKCS#1)
 * @param tlsClientCa {@code NC_HUB_TLS_CLIENT_CA}: PEM CA bundle; when set, agents must present a client certificate
 * @param tlsBindAgentId {@code NC_HUB_TLS_BIND_AGENT_ID} (false): with a client CA, the client certificate's subject CN
 *                       or a subject alternative name must equal the token's {@code agent_id} (else 403)
 * @param jwtSecretFile {@code NC_HUB_JWT_SECRET_FILE}: HS256 secrets, one per line, newest first (each line trimmed,
 *        taken as bytes); read again when the file changes, so a key rotation needs no restart
 * @param jwksFile {@code NC_HUB_JWKS_FILE}: JWKS (several keys with {@code kid}) or public key PEM for RS/ES tokens;
 *        read again when the file changes
 * @param audience {@code NC_HUB_AUDIENCE} (nowconnect): required {@code aud} of agent tokens
 * @param issuer {@code NC_HUB_ISSUER} (none): when set, agent tokens must carry this {@code iss}
 * @param requireConnectorsClaim {@code NC_HUB_REQUIRE_CONNECTORS_CLAIM} (true): refuse (HTTP 403) agent tokens without
 *        a {@code connectors} claim; tokens that carry it are always held to it. {@code false} lets an unscoped token
 *        serve any connector (logged as a WARNING at start)
 * @param revokedFile {@code NC_HUB_REVOKED_FILE} (none): revocation list, one {@code jti} or {@code agent_id} per line
 *        ({@code #} comments); watched: matching tunnels are closed within seconds and their upgrades refused (401)
 * @param listeners {@code NC_HUB_LISTENERS}: {@code connector=host:port} list; a client connection becomes a stream
 * @param allowCidrs {@code NC_HUB_ALLOW_CIDRS}: when set, only clients from these ranges may use the listeners
 * @param maxWsPayload {@code NC_HUB_MAX_WS_PAYLOAD} (8192): most raw bytes per DATA frame
 * @param maxConnections {@code NC_HUB_MAX_CONNECTIONS} (2000): most concurrent client streams
 * @param maxTunnels {@code NC_HUB_MAX_TUNNELS} (10000): most agent tunnels at once (upgraded, acknowledged or not);
 *                   beyond it the upgrade is refused with 503. The hub's default heap holds this many idle tunnels.
 * @param maxTunnelsPerAgent {@code NC_HUB_MAX_TUNNELS_PER_AGENT} (4): most tunnels of one {@code agent_id} at once
 *                           (a rotation overlaps two); beyond it the upgrade is refused with 429
 * @param maxTcpConnections {@code NC_HUB_MAX_TCP_CONNECTIONS} ({@code NC_HUB_MAX_TUNNELS} + 1000): most connections to
 *                          the hub's port at once, tunnels, upgrades in progress and health or metrics requests together;
 *                          beyond it new connections wait in the listen backlog. Must exceed {@code NC_HUB_MAX_TUNNELS}.
 * @param requestTimeout {@code NC_HUB_REQUEST_TIMEOUT_SEC} (5): a connection to the hub's port that has not become a
 *                       tunnel this long after it was accepted (slow request headers, a health check, nothing sent)
 *                       is closed
 * @param tlsHandshakeTimeout {@code NC_HUB_TLS_HANDSHAKE_TIMEOUT_SEC} (5): with TLS, a connection whose handshake has not
 *                            completed this long after it was accepted is closed; the request deadline starts after it
 * @param maxFrameBytes {@code NC_HUB_MAX_FRAME_BYTES} (1048576): largest WebSocket frame accepted from an agent
 * @param pingInterval {@code NC_HUB_PING_INTERVAL_SEC} (20)
 * @param pingTimeout {@code NC_HUB_PING_TIMEOUT_SEC} (20)
 * @param idleTimeout {@code NC_HUB_IDLE_TIMEOUT_MS} (60000; 0 = never)
 * @param queueDepth {@code NC_HUB_QUEUE_DEPTH_PER_CID} (100)
 * @param drainTimeout {@code NC_HUB_DRAIN_TIMEOUT_SEC} (30): once an agent's token has expired on its live tunnel, how
 *        long the tunnel's open streams may finish before it is closed; on SIGTERM, how long open client streams may
 *        finish after the listeners stopped accepting
 * @param lameDuck {@code NC_HUB_LAMEDUCK_MS} (0): on SIGTERM, how long the hub goes on accepting and carrying clients
 *        while {@code /readyz} already answers 503, before its listeners close: a balancer whose health checks take
 *        this long to notice sends no client to a closed port. 0 to 600000
 * @param memoryBudgetBytes {@code NC_HUB_MEMORY_BUDGET_MB} (a quarter of the maximum heap): most bytes held for
 *                          streams, received from agents and not yet written to clients
 * @param replicaId {@code NC_HUB_REPLICA_ID} (the host name): this replica's id, named in the ack of agents that offer
 *        the {@code replicas} capability
 * @param replicas {@code NC_HUB_REPLICAS} (none): ids of every replica behind the agents' URL (with a Kubernetes
 *        StatefulSet, the pod names); when set it must include {@code NC_HUB_REPLICA_ID}
 * @param jwksUrl {@code NC_HUB_JWKS_URL} and its settings: the identity provider's keys, if set
 * @param pdp {@code NC_HUB_PDP_*}: the policy decision point asked about each client connection, if set
 * @param clients the listeners' client limits and agent wait ({@link ClientLimits})
 * @param requireBin1 {@code NC_HUB_REQUIRE_BIN1} (false): refuse agents without the {@code bin1} capability (no flow
 *        control) with close code 1008; needs {@code NC_HUB_MAX_FRAME_BYTES} of at least 65797 (a full binary frame)
 * @param log {@code NC_LOG_LEVEL}, {@code NC_LOG_FORMAT}, {@code NC_ACCESS_LOG}, {@code NC_ACCESS_LOG_FILE}, ...
 * @param adminTokenFile {@code NC_HUB_ADMIN_TOKEN_FILE} (none): a file holding the bearer token that the status page
 *        ({@code /status}, {@code /status.json}) requires; re-read on each request, whitespace trimmed, at least 16
 *        characters
 * @param statusSample {@code NC_HUB_STATUS_SAMPLE_SEC} (10, 1-60): time between two points of the status page's plots,
 *        which keep 90 points (15 minutes at the default)
 * @param streamSendBuffer {@code NC_HUB_STREAM_SNDBUF_KB} (0: the kernel's own sizing), in bytes: the kernel send buffer
 *        of each client socket
 */
public record HubConfig(String host,
                        int port,
                        Optional<InetSocketAddress> admin,
                        Optional<Path> tlsCert,
                        Optional<Path> tlsKey,
                        Optional<Path> tlsClientCa,
                        boolean tlsBindAgentId,
                        Optional<Path> jwtSecretFile,
                        Optional<Path> jwksFile,
                        String audience,
                        Optional<String> issuer,
                        boolean requireConnectorsClaim,
                        Optional<Path> revokedFile,
                        Map<String, InetSocketAddress> listeners,
                        List<Cidr> allowCidrs,
                        int maxWsPayload,
                        int maxConnections,
                        int maxTunnels,
                        int maxTunnelsPerAgent,
                        int maxTcpConnections,
                        Duration requestTimeout,
                        Duration tlsHandshakeTimeout,
                        int maxFrameBytes,
                        Duration pingInterval,
                        Duration pingTimeout,
                        Duration idleTimeout,
                        int queueDepth,
                        Duration drainTimeout,
                        Duration lameDuck,
                        long memoryBudgetBytes,
                        String replicaId,
                        List<String> replicas,
                        Optional<JwksUrlSettings> jwksUrl,
                        Optional<PdpSettings> pdp,
                        ClientLimits clients,
                        boolean requireBin1,
                        LogSettings log,
                        Optional<Path> adminTokenFile,
                        Duration statusSample,
                        int streamSendBuffer) {

    /** Default of {@code NC_HUB_MAX_TUNNELS}: what the launcher's hub heap ({@code -Xmx512m}) holds with room to spare. */
    public static final int DEFAULT_MAX_TUNNELS = 10_000;
    /** Default of {@code NC_HUB_MAX_TCP_CONNECTIONS} beyond {@code NC_HUB_MAX_TUNNELS}: room for upgrades and probes. */
    public static final int TCP_CONNECTIONS_ABOVE_TUNNELS = 1000;

    /**
     * Copies the collections.
     */
    public HubConfig {
        listeners = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(listeners));
        allowCidrs = List.copyOf(allowCidrs);
        replicas = List.copyOf(replicas);
    }

    /**
     * Read and validate the hub configuration.
     *
     * @param config merged environment and env file
     * @return valid configuration
     * @throws ConfigException listing every problem
     */
    public static HubConfig create(Config config) {
        Settings s = new Settings(config);
        String host = s.host("NC_HUB_HOST", "0.0.0.0");
        int port = s.port("NC_HUB_PORT", 8765);
        Optional<Path> cert = s.readableFile("NC_HUB_TLS_CERT");
        Optional<Path> key = s.readableFile("NC_HUB_TLS_KEY");
        Optional<Path> clientCa = s.readableFile("NC_HUB_TLS_CLIENT_CA");
        if (cert.isPresent() != key.isPresent()) {
            s.problem("NC_HUB_TLS_CERT and NC_HUB_TLS_KEY must be set together");
        }
        if (clientCa.isPresent() && cert.isEmpty()) {
            s.problem("NC_HUB_TLS_CLIENT_CA needs TLS (NC_HUB_TLS_CERT and NC_HUB_TLS_KEY)");
        }
        boolean bindAgentId = s.bool("NC_HUB_TLS_BIND_AGENT_ID", false);
        if (bindAgentId && s.optional("NC_HUB_TLS_CLIENT_CA").isEmpty()) {
            s.problem("NC_HUB_TLS_BIND_AGENT_ID needs client certificates (NC_HUB_TLS_CLIENT_CA)");
        }
        Optional<Path> secret = s.readableFile("NC_HUB_JWT_SECRET_FILE");
        Optional<Path> jwks = s.readableFile("NC_HUB_JWKS_FILE");
        Optional<JwksUrlSettings> jwksUrl = JwksUrlSettings.read(s);
        if (s.optional("NC_HUB_JWT_SECRET_FILE").isEmpty() && s.optional("NC_HUB_JWKS_FILE").isEmpty()
                && s.optional("NC_HUB_JWKS_URL").isEmpty()) {
            s.problem("NC_HUB_JWT_SECRET_FILE, NC_HUB_JWKS_FILE or NC_HUB_JWKS_URL is required (agents are authenticated "
                              + "with JWTs)");
        }
        // key material: unusable or weak keys (HS256 secret under 32 bytes, RSA under 2048 bits) are refused here
        TokenVerifier.keyProblems(secret.filter(HubConfig::readable), jwks.filter(HubConfig::readable)).forEach(s::problem);
        String audience = s.string("NC_HUB_AUDIENCE", "nowconnect");
        Optional<String> issuer = s.optional("NC_HUB_ISSUER").map(String::strip).filter(i -> !i.isEmpty());
        boolean requireConnectorsClaim = s.bool("NC_HUB_REQUIRE_CONNECTORS_CLAIM", true);
        Optional<Path> revoked = s.readableFile(Revocations.VARIABLE);
        Revocations.problems(revoked.filter(HubConfig::readable)).forEach(s::problem);
        Map<String, InetSocketAddress> listeners = listeners(s, s.string("NC_HUB_LISTENERS", ""));
        Optional<InetSocketAddress> admin = admin(s, port, listeners);
        List<Cidr> cidrs = new ArrayList<>();
        for (String c : s.string("NC_HUB_ALLOW_CIDRS", "").split(",")) {
            if (!c.isBlank()) {
                Cidr.parse(c).ifPresentOrElse(cidrs::add,
                                              () -> s.problem("NC_HUB_ALLOW_CIDRS: \"" + c.strip() + "\" is not a CIDR range"));
            }
        }
        // bin1 DATA carries at most 64 KiB: a larger setting could never be honoured
        int maxWsPayload = s.integer("NC_HUB_MAX_WS_PAYLOAD", 8192, 256, 65536);
        int maxConnections = s.integer("NC_HUB_MAX_CONNECTIONS", 2000, 1, 1_000_000);
        int maxTunnels = s.integer("NC_HUB_MAX_TUNNELS", DEFAULT_MAX_TUNNELS, 1, 1_000_000);
        int maxTunnelsPerAgent = s.integer("NC_HUB_MAX_TUNNELS_PER_AGENT", 4, 1, 1_000_000);
        int maxTcpConnections = s.integer("NC_HUB_MAX_TCP_CONNECTIONS", maxTunnels + TCP_CONNECTIONS_ABOVE_TUNNELS, 2,
                                          2_000_000);
        if (maxTcpConnections <= maxTunnels) {
            s.problem("NC_HUB_MAX_TCP_CONNECTIONS (" + maxTcpConnections + ") must be above NC_HUB_MAX_TUNNELS (" + maxTunnels
                              + "): with every tunnel open, upgrades and health checks still need connections");
        }
        int requestTimeout = s.integer("NC_HUB_REQUEST_TIMEOUT_SEC", 5, 1, 300);
        int handshakeTimeout = s.integer("NC_HUB_TLS_HANDSHAKE_TIMEOUT_SEC", 5, 1, 300);
        int maxFrame = s.integer("NC_HUB_MAX_FRAME_BYTES", 1 << 20, 4096, 64 << 20);
        int pingInterval = s.integer("NC_HUB_PING_INTERVAL_SEC", 20, 1, 3600);
        int pingTimeout = s.integer("NC_HUB_PING_TIMEOUT_SEC", 20, 1, 3600);
        int idle = s.integer("NC_HUB_IDLE_TIMEOUT_MS", 60_000, 0, Integer.MAX_VALUE);
        int queueDepth = s.integer("NC_HUB_QUEUE_DEPTH_PER_CID", 100, 1, 100_000);
        int streamSendBuffer = AgentConfig.streamSendBuffer(s, "NC_HUB_STREAM_SNDBUF_KB");
        int drainTimeout = s.integer("NC_HUB_DRAIN_TIMEOUT_SEC", 30, 0, 86_400);
        int lameDuck = s.integer("NC_HUB_LAMEDUCK_MS", 0, 0, 600_000);
        if (maxFrame < maxWsPayload * 2) {
            s.problem("NC_HUB_MAX_FRAME_BYTES must be at least twice NC_HUB_MAX_WS_PAYLOAD (DATA is base64 in JSON)");
        }
        String replicaId = s.optional("NC_HUB_REPLICA_ID").map(String::strip).filter(r -> !r.isEmpty())
                .orElseGet(HubConfig::hostName);
        List<String> replicas = replicas(s, replicaId, s.string("NC_HUB_REPLICAS", ""));
        long memoryBudget = AgentConfig.memoryBudget(s, "NC_HUB_MEMORY_BUDGET_MB");
        ClientLimits clients = ClientLimits.read(s, maxConnections, listeners.size());
        boolean requireBin1 = s.bool("NC_HUB_REQUIRE_BIN1", false);
        if (requireBin1 && maxFrame < BIN1_MESSAGE) {
            s.problem("NC_HUB_REQUIRE_BIN1 needs NC_HUB_MAX_FRAME_BYTES of at least " + BIN1_MESSAGE
                              + " (a full bin1 frame), got " + maxFrame);
        }
        Optional<PdpSettings> pdp = PdpSettings.read(s);
        LogSettings log = LogSettings.read(s);
        Optional<Path> adminToken = s.readableFile("NC_HUB_ADMIN_TOKEN_FILE");
        adminToken.filter(HubConfig::readable).ifPresent(f -> {
            try {
                if (Files.readString(f).strip().length() < 16) {
                    s.problem("NC_HUB_ADMIN_TOKEN_FILE: " + f + " must hold a token of at least 16 characters");
                }
            } catch (java.io.IOException | java.io.UncheckedIOException e) {
                s.problem("NC_HUB_ADMIN_TOKEN_FILE: cannot read " + f + " (" + e.getClass().getSimpleName() + ")");
            }
        });
        int statusSample = s.integer("NC_HUB_STATUS_SAMPLE_SEC", 10, 1, 60);
        s.throwIfProblems();
        return new HubConfig(host, port, admin, cert, key, clientCa, bindAgentId, secret, jwks, audience, issuer,
                             requireConnectorsClaim, revoked,
                             listeners, cidrs, maxWsPayload, maxConnections, maxTunnels, maxTunnelsPerAgent,
                             maxTcpConnections, Duration.ofSeconds(requestTimeout),
                             Duration.ofSeconds(handshakeTimeout), maxFrame,
                             Duration.ofSeconds(pingInterval), Duration.ofSeconds(pingTimeout), Duration.ofMillis(idle),
                             queueDepth, Duration.ofSeconds(drainTimeout), Duration.ofMillis(lameDuck), memoryBudget,
                             replicaId, replicas, jwksUrl, pdp,
                             clients, requireBin1, log, adminToken, Duration.ofSeconds(statusSample), streamSendBuffer);
    }

    /** The largest bin1 message (a full DATA frame with a 255-byte cid): {@code BinaryCodec.MAX_MESSAGE}. */
    private static final int BIN1_MESSAGE = io.nowconnect.protocol.BinaryCodec.MAX_MESSAGE;

    /** {@code NC_HUB_ADMIN_HOST}/{@code NC_HUB_ADMIN_PORT}: unset port = no admin listener. */
    private static Optional<InetSocketAddress> admin(Settings s, int hubPort, Map<String, InetSocketAddress> listeners) {
        Optional<Integer> port = s.optionalPort("NC_HUB_ADMIN_PORT");
        String host = s.host("NC_HUB_ADMIN_HOST", "127.0.0.1");
        if (port.isEmpty()) {
            if (s.optional("NC_HUB_ADMIN_HOST").isPresent()) {
                s.problem("NC_HUB_ADMIN_HOST is set but NC_HUB_ADMIN_PORT is not (the admin listener needs a port)");
            }
            return Optional.empty();
        }
        int p = port.get();
        if (p != 0 && p == hubPort) {
            s.problem("NC_HUB_ADMIN_PORT (" + p + ") must differ from NC_HUB_PORT");
        }
        listeners.forEach((name, address) -> {
            if (p != 0 && address.getPort() == p) {
                s.problem("NC_HUB_ADMIN_PORT (" + p + ") is the port of listener \"" + name + "\" in NC_HUB_LISTENERS");
            }
        });
        return Optional.of(InetSocketAddress.createUnresolved(host, p));
    }

    /** Most replicas in {@code NC_HUB_REPLICAS} (an agent keeps a tunnel to each). */
    public static final int MAX_REPLICAS = 16;

    /**
     * Whether a replica id is usable: 1-64 letters, digits, {@code .}, {@code _} or {@code -} (host and pod names fit).
     *
     * @param id candidate id
     * @return true when valid
     */
    public static boolean validReplicaId(String id) {
        return id != null && id.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    }

    private static List<String> replicas(Settings s, String replicaId, String list) {
        if (!validReplicaId(replicaId)) {
            s.problem("NC_HUB_REPLICA_ID: \"" + replicaId + "\" must be 1-64 letters, digits, . _ or - (default: the host name)");
        }
        List<String> ids = new ArrayList<>();
        for (String raw : list.split(",")) {
            String id = raw.strip();
            if (id.isEmpty()) {
                continue;
            }
            if (!validReplicaId(id)) {
                s.problem("NC_HUB_REPLICAS: \"" + id + "\" must be 1-64 letters, digits, . _ or -");
            } else if (ids.contains(id)) {
                s.problem("NC_HUB_REPLICAS: \"" + id + "\" is listed twice");
            } else {
                ids.add(id);
            }
        }
        if (ids.size() > MAX_REPLICAS) {
            s.problem("NC_HUB_REPLICAS: at most " + MAX_REPLICAS + " replicas, got " + ids.size());
        }
        if (!ids.isEmpty() && validReplicaId(replicaId) && !ids.contains(replicaId)) {
            s.problem("NC_HUB_REPLICAS must include this replica's NC_HUB_REPLICA_ID \"" + replicaId + "\"");
        }
        return ids;
    }

    /** The host name's first label (a pod name in Kubernetes), cut to a valid replica id; "hub" when there is none. */
    private static String hostName() {
        String name = System.getenv("HOSTNAME");
        if (name == null || name.isBlank()) {
            try {
                name = java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.io.IOException e) {
                name = "";
            }
        }
        String label = name.strip().split("\\.", 2)[0].replaceAll("[^A-Za-z0-9_-]", "");
        label = label.length() > 64 ? label.substring(0, 64) : label;
        return validReplicaId(label) ? label : "hub";
    }

    private static boolean readable(Path file) {
        return Files.isRegularFile(file) && Files.isReadable(file);
    }

    /**
     * Parse {@code connector=host:port,...}.
     *
     * @param s problem collector
     * @param list the variable's value
     * @return listeners in order
     */
    static Map<String, InetSocketAddress> listeners(Settings s, String list) {
        Map<String, InetSocketAddress> result = new LinkedHashMap<>();
        for (String raw : list.split(",")) {
            String item = raw.strip();
            if (item.isEmpty()) {
                continue;
            }
            int eq = item.indexOf('=');
            int colon = item.lastIndexOf(':');
            if (eq <= 0 || colon < eq) {
                s.problem("NC_HUB_LISTENERS: \"" + item + "\" must be connector=host:port");
                continue;
            }
            String name = item.substring(0, eq).strip();
            String host = item.substring(eq + 1, colon).strip();
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            if (!ConnectorName.isValid(name)) {
                s.problem("NC_HUB_LISTENERS: connector name \"" + name + "\" must be letters, digits, _ or -");
                continue;
            }
            int port;
            try {
                port = Integer.parseInt(item.substring(colon + 1).strip());
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 0 || port > 65535) {
                s.problem("NC_HUB_LISTENERS: \"" + item + "\" has an invalid port");
                continue;
            }
            if (result.containsKey(name)) {
                s.problem("NC_HUB_LISTENERS: connector \"" + name + "\" is listed twice");
                continue;
            }
            result.put(name, InetSocketAddress.createUnresolved(host.isEmpty() ? "0.0.0.0" : host, port));
        }
        return result;
    }
}
