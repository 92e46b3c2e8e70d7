package io.nowconnect.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import io.helidon.config.Config;

import io.nowconnect.protocol.ConnectorName;
import io.nowconnect.stream.MemoryBudget;

/**
 * Premise agent configuration, validated once at start.
 *
 * @param url {@code NC_AGENT_URL} (required): {@code wss://host[:port]/path} of the hub's tunnel endpoint;
 *            {@code ws://} only to a loopback host unless {@code NC_ALLOW_INSECURE=true}; the first of {@code urls}
 * @param agentId {@code NC_AGENT_ID} (required): this agent's identity, sent in HELLO; must match the token's claim
 * @param tokenFile {@code NC_TOKEN_FILE} (recommended): file holding the bearer JWT, re-read at every connect
 * @param connectors {@code NC_CONNECTORS} (required) with {@code NC_TARGET_<name>_HOST}/{@code _PORT} for each
 *                   name: the only targets the agent ever dials, in declaration order
 * @param log {@code NC_LOG_LEVEL}, {@code NC_LOG_FORMAT} and the access log ({@code NC_ACCESS_LOG},
 *            {@code NC_ACCESS_LOG_FILE}, ...)
 * @param trustEnv {@code NC_TRUST_ENV} (false): use proxy settings from the environment
 * @param proxy proxies from {@code HTTPS_PROXY}, {@code HTTP_PROXY}, {@code ALL_PROXY} and {@code NO_PROXY} (either
 *              case, lower-case first) when {@code trustEnv}; {@link ProxySettings#NONE} otherwise
 * @param healthHost {@code NC_HEALTH_HOST} (0.0.0.0): bind address of the TCP health port
 * @param healthPort {@code NC_HEALTH_PORT} (8090): TCP health port, 0 picks a free port
 * @param httpHost {@code NC_HTTP_HOST} (0.0.0.0): bind address of the optional HTTP health/metrics endpoint
 * @param httpPort {@code NC_HTTP_PORT} (unset = off): port of the HTTP health/metrics endpoint
 * @param caBundle {@code NC_CA_BUNDLE}: PEM file of CA certificates that replaces the JVM trust for the hub
 * @param clientCert {@code NC_CLIENT_CERT}: PEM client certificate (chain) for hubs that require mTLS
 * @param clientKey {@code NC_CLIENT_KEY}: PEM private key (PKCS#8 or PKCS#1, RSA or EC) of the client certificate
 * @param maxWsPayload {@code NC_MAX_WS_PAYLOAD} (8192): most raw bytes per DATA frame
 * @param pingInterval {@code NC_PING_INTERVAL_SEC} (20): WebSocket ping interval
 * @param pingTimeout {@code NC_PING_TIMEOUT_SEC} (20): a pong later than this ends the tunnel
 * @param connectTimeout {@code NC_CONNECT_TIMEOUT_MS} (3000): timeout dialling a target, and the hub's TCP connect
 * @param idleTimeout {@code NC_IDLE_TIMEOUT_MS} (60000; 0 = never): a stream with no bytes either way is ended
 * @param queueDepth {@code NC_QUEUE_DEPTH_PER_CID} (100): frames buffered toward one target before RST queue_overflow
 * @param maxInflight {@code NC_MAX_INFLIGHT_CIDS} (2000): most concurrent streams; OPEN beyond it gets an RST
 * @param reconnectMin {@code NC_RECONNECT_MIN_MS} (500): first back-off ceiling
 * @param reconnectMax {@code NC_RECONNECT_MAX_MS} (30000): largest back-off ceiling
 * @param drainTimeout {@code NC_DRAIN_TIMEOUT_SEC} (30): how long open streams may finish at shutdown or rotation
 * @param allowInsecure {@code NC_ALLOW_INSECURE} (false): allow {@code ws://} to a non-loopback hub
 * @param memoryBudgetBytes {@code NC_MEMORY_BUDGET_MB} (a quarter of the maximum heap): most bytes held for streams,
 *                          received from the hub and not yet written to a target
 * @param urls every URL of {@code NC_AGENT_URL} (a comma list: independent hubs, one tunnel pool each; at most
 *             {@value #MAX_URLS})
 * @param streamSendBuffer {@code NC_STREAM_SNDBUF_KB} (0: the kernel's own sizing), in bytes: the kernel send buffer of
 *                         each socket to a target
 */
public record AgentConfig(URI url,
                          String agentId,
                          Optional<Path> tokenFile,
                          Map<String, Target> connectors,
                          LogSettings log,
                          boolean trustEnv,
                          ProxySettings proxy,
                          String healthHost,
                          int healthPort,
                          String httpHost,
                          Optional<Integer> httpPort,
                          Optional<Path> caBundle,
                          Optional<Path> clientCert,
                          Optional<Path> clientKey,
                          int maxWsPayload,
                          Duration pingInterval,
                          Duration pingTimeout,
                          Duration connectTimeout,
                          Duration idleTimeout,
                          int queueDepth,
                          int maxInflight,
                          Duration reconnectMin,
                          Duration reconnectMax,
                          Duration drainTimeout,
                          boolean allowInsecure,
                          long memoryBudgetBytes,
                          List<URI> urls,
                          int streamSendBuffer) {
    /** Most URLs in {@code NC_AGENT_URL}. */
    public static final int MAX_URLS = 8;

    /**
     * Copies the collections; {@code urls} defaults to {@code url} alone.
     */
    public AgentConfig {
        connectors = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(connectors));
        urls = urls == null || urls.isEmpty() ? (url == null ? List.of() : List.of(url)) : List.copyOf(urls);
    }

    /**
     * This configuration for one of its hubs: {@link #url()} is {@code hub} (the supervisor of that hub's tunnels reads
     * it), {@link #urls()} stays.
     *
     * @param hub one of {@link #urls()}
     * @return the configuration
     */
    public AgentConfig withUrl(URI hub) {
        return new AgentConfig(hub, agentId, tokenFile, connectors, log, trustEnv, proxy, healthHost, healthPort, httpHost,
                               httpPort, caBundle, clientCert, clientKey, maxWsPayload, pingInterval, pingTimeout,
                               connectTimeout, idleTimeout, queueDepth, maxInflight, reconnectMin, reconnectMax,
                               drainTimeout, allowInsecure, memoryBudgetBytes, urls, streamSendBuffer);
    }

    /**
     * Read and validate the agent configuration.
     *
     * @param config merged environment and env file
     * @return valid configuration
     * @throws ConfigException listing every problem, each naming its variable
     */
    public static AgentConfig create(Config config) {
        Settings s = new Settings(config);
        String rawUrl = s.required("NC_AGENT_URL", "wss://<hub>/tunnel");
        String agentId = s.required("NC_AGENT_ID", "unique agent identifier");
        String connectorList = s.required("NC_CONNECTORS", "comma list of connector names, e.g. ldap,db");
        Optional<Path> tokenFile = s.readableFile("NC_TOKEN_FILE");
        LogSettings log = LogSettings.read(s);
        boolean trustEnv = s.bool("NC_TRUST_ENV", false);
        // without NC_TRUST_ENV the proxy variables are not even looked at: no proxy at all
        ProxySettings proxy = ProxySettings.NONE;
        if (trustEnv) {
            List<String> proxyProblems = new java.util.ArrayList<>();
            proxy = ProxySettings.read(s::optional, proxyProblems);
            proxyProblems.forEach(s::problem);
        }
        String healthHost = s.host("NC_HEALTH_HOST", "0.0.0.0");
        int healthPort = s.port("NC_HEALTH_PORT", 8090);
        String httpHost = s.host("NC_HTTP_HOST", "0.0.0.0");
        Optional<Integer> httpPort = s.optionalPort("NC_HTTP_PORT");
        Optional<Path> caBundle = s.certificateFile("NC_CA_BUNDLE");
        Optional<Path> clientCert = s.certificateFile("NC_CLIENT_CERT");
        Optional<Path> clientKey = s.readableFile("NC_CLIENT_KEY");
        if (s.optional("NC_CLIENT_CERT").isPresent() != s.optional("NC_CLIENT_KEY").isPresent()) {
            s.problem("NC_CLIENT_CERT and NC_CLIENT_KEY must be set together");
        }
        // bin1 DATA carries at most 64 KiB: a larger setting could never be honoured
        int maxWsPayload = s.integer("NC_MAX_WS_PAYLOAD", 8192, 256, 65536);
        int pingInterval = s.integer("NC_PING_INTERVAL_SEC", 20, 1, 3600);
        int pingTimeout = s.integer("NC_PING_TIMEOUT_SEC", 20, 1, 3600);
        int connectTimeout = s.integer("NC_CONNECT_TIMEOUT_MS", 3000, 1, 600_000);
        int idleTimeout = s.integer("NC_IDLE_TIMEOUT_MS", 60_000, 0, Integer.MAX_VALUE);
        int queueDepth = s.integer("NC_QUEUE_DEPTH_PER_CID", 100, 1, 100_000);
        int maxInflight = s.integer("NC_MAX_INFLIGHT_CIDS", 2000, 1, 1_000_000);
        int reconnectMin = s.integer("NC_RECONNECT_MIN_MS", 500, 1, 3_600_000);
        int reconnectMax = s.integer("NC_RECONNECT_MAX_MS", 30_000, 1, 3_600_000);
        int drainTimeout = s.integer("NC_DRAIN_TIMEOUT_SEC", 30, 0, 86_400);
        boolean allowInsecure = s.bool("NC_ALLOW_INSECURE", false);
        long memoryBudget = memoryBudget(s, "NC_MEMORY_BUDGET_MB");
        int streamSendBuffer = streamSendBuffer(s, "NC_STREAM_SNDBUF_KB");

        if (reconnectMax < reconnectMin) {
            s.problem("NC_RECONNECT_MAX_MS (" + reconnectMax + ") must not be below NC_RECONNECT_MIN_MS (" + reconnectMin + ")");
        }
        if (!agentId.isEmpty() && !agentId.matches("[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")) {
            s.problem("NC_AGENT_ID must be 1-128 characters of letters, digits and . _ : @ -");
        }
        List<URI> urls = new java.util.ArrayList<>();
        for (String raw : rawUrl.split(",")) {
            URI u = raw.isBlank() ? null : validateUrl(s, raw.strip(), allowInsecure);
            if (u != null && urls.contains(u)) {
                s.problem("NC_AGENT_URL lists " + u + " twice");
            } else if (u != null) {
                urls.add(u);
            }
        }
        if (urls.size() > MAX_URLS) {
            s.problem("NC_AGENT_URL: at most " + MAX_URLS + " URLs, got " + urls.size());
        }
        URI url = urls.isEmpty() ? null : urls.getFirst();
        Map<String, Target> connectors = connectors(s, connectorList);

        s.throwIfProblems();
        return new AgentConfig(url, agentId, tokenFile, connectors, log, trustEnv, proxy,
                               healthHost, healthPort, httpHost,
                               httpPort, caBundle, clientCert, clientKey, maxWsPayload, Duration.ofSeconds(pingInterval),
                               Duration.ofSeconds(pingTimeout), Duration.ofMillis(connectTimeout),
                               Duration.ofMillis(idleTimeout), queueDepth, maxInflight, Duration.ofMillis(reconnectMin),
                               Duration.ofMillis(reconnectMax), Duration.ofSeconds(drainTimeout), allowInsecure,
                               memoryBudget, urls, streamSendBuffer);
    }

    /**
     * A memory budget in MiB: the variable's value, or a quarter of the maximum heap when unset; at least 1 MiB and at
     * most the maximum heap.
     *
     * @param s problem collector
     * @param name variable name
     * @return bytes
     */
    static long memoryBudget(Settings s, String name) {
        long heapMib = Runtime.getRuntime().maxMemory() >> 20;
        if (s.optional(name).isEmpty()) {
            return MemoryBudget.defaultLimit();
        }
        int mib = s.integer(name, 0, 1, (int) Math.min(Integer.MAX_VALUE, Math.max(1, heapMib)));
        return (long) mib << 20;
    }

    /**
     * Connector names, as sent in HELLO.
     *
     * @return names in declaration order
     */
    public List<String> connectorNames() {
        return List.copyOf(connectors.keySet());
    }

    /**
     * This configuration with the settings of {@code other} that a running agent can take over without a restart:
     * connectors and their targets, and the per-tunnel settings (payload size, pings, timeouts, queue depth, stream
     * sockets' send buffer).
     *
     * @param other newly read configuration
     * @return the configuration to move to
     */
    public AgentConfig withLiveSettingsOf(AgentConfig other) {
        return new AgentConfig(url, agentId, tokenFile, other.connectors, log, trustEnv, proxy,
                               healthHost, healthPort, httpHost,
                               httpPort, caBundle, clientCert, clientKey, other.maxWsPayload, other.pingInterval,
                               other.pingTimeout, other.connectTimeout, other.idleTimeout, other.queueDepth, maxInflight,
                               reconnectMin, reconnectMax, drainTimeout, allowInsecure, memoryBudgetBytes, urls,
                               other.streamSendBuffer);
    }

    /**
     * Variables whose new value only takes effect after a restart.
     *
     * @param other newly read configuration
     * @return names of the variables that differ
     */
    public List<String> restartNeeded(AgentConfig other) {
        List<String> names = new java.util.ArrayList<>();
        diff(names, "NC_AGENT_URL", urls, other.urls);
        diff(names, "NC_AGENT_ID", agentId, other.agentId);
        diff(names, "NC_TOKEN_FILE", tokenFile, other.tokenFile);
        diff(names, "NC_LOG_LEVEL/NC_LOG_FORMAT", log, other.log);
        diff(names, "NC_TRUST_ENV", trustEnv, other.trustEnv);
        diff(names, "HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY", proxy, other.proxy);
        diff(names, "NC_HEALTH_HOST", healthHost, other.healthHost);
        diff(names, "NC_HEALTH_PORT", healthPort, other.healthPort);
        diff(names, "NC_HTTP_HOST", httpHost, other.httpHost);
        diff(names, "NC_HTTP_PORT", httpPort, other.httpPort);
        diff(names, "NC_CA_BUNDLE", caBundle, other.caBundle);
        diff(names, "NC_CLIENT_CERT", clientCert, other.clientCert);
        diff(names, "NC_CLIENT_KEY", clientKey, other.clientKey);
        diff(names, "NC_MAX_INFLIGHT_CIDS", maxInflight, other.maxInflight);
        diff(names, "NC_RECONNECT_MIN_MS", reconnectMin, other.reconnectMin);
        diff(names, "NC_RECONNECT_MAX_MS", reconnectMax, other.reconnectMax);
        diff(names, "NC_DRAIN_TIMEOUT_SEC", drainTimeout, other.drainTimeout);
        diff(names, "NC_ALLOW_INSECURE", allowInsecure, other.allowInsecure);
        diff(names, "NC_MEMORY_BUDGET_MB", memoryBudgetBytes, other.memoryBudgetBytes);
        return names;
    }

    /**
     * Whether {@code other} changes anything a running agent takes over (see {@link #withLiveSettingsOf}).
     *
     * @param other newly read configuration
     * @return true when a graceful reconnect is needed
     */
    public boolean liveSettingsDiffer(AgentConfig other) {
        return !connectors.equals(other.connectors) || maxWsPayload != other.maxWsPayload
                || !pingInterval.equals(other.pingInterval) || !pingTimeout.equals(other.pingTimeout)
                || !connectTimeout.equals(other.connectTimeout) || !idleTimeout.equals(other.idleTimeout)
                || queueDepth != other.queueDepth || streamSendBuffer != other.streamSendBuffer;
    }

    /**
     * {@code SO_SNDBUF} of stream sockets from a variable in KiB: 0 (the default) leaves it to the kernel, else 4 to
     * 16,384 KiB.
     *
     * @param s settings
     * @param name variable name
     * @return bytes, 0 for the kernel's own sizing
     */
    static int streamSendBuffer(Settings s, String name) {
        int kb = s.integer(name, 0, 0, 16_384);
        if (kb > 0 && kb < 4) {
            s.problem(name + " must be 0 (the kernel sizes it) or 4 to 16384 KiB, got " + kb);
        }
        return kb * 1024;
    }

    private static void diff(List<String> names, String name, Object a, Object b) {
        if (!java.util.Objects.equals(a, b)) {
            names.add(name);
        }
    }

    private static URI validateUrl(Settings s, String raw, boolean allowInsecure) {
        URI uri;
        try {
            uri = URI.create(raw);
        } catch (IllegalArgumentException e) {
            s.problem("NC_AGENT_URL is not a valid URL: " + e.getMessage());
            return null;
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            s.problem("NC_AGENT_URL must be wss://host[:port]/path, it has no host");
            return null;
        }
        if (uri.getUserInfo() != null) {
            s.problem("NC_AGENT_URL must not contain credentials; use NC_TOKEN_FILE");
        }
        switch (scheme) {
        case "wss" -> {
        }
        case "ws" -> {
            if (!allowInsecure && !Settings.isLoopback(uri.getHost())) {
                s.problem("NC_AGENT_URL uses ws:// to a non-loopback host; the token would travel in clear text "
                                  + "(use wss:// or set NC_ALLOW_INSECURE=true)");
            }
        }
        default -> s.problem("NC_AGENT_URL must start with wss:// (or ws:// to a loopback host), got scheme \"" + scheme + "\"");
        }
        return uri;
    }

    private static Map<String, Target> connectors(Settings s, String list) {
        Map<String, Target> result = new LinkedHashMap<>();
        if (list.isEmpty()) {
            return result;
        }
        for (String raw : list.split(",")) {
            String name = raw.strip();
            if (name.isEmpty()) {
                continue;
            }
            if (!ConnectorName.isValid(name)) {
                s.problem("NC_CONNECTORS: connector name \"" + name + "\" must be letters, digits, _ or - (at most 63)");
                continue;
            }
            if (result.containsKey(name)) {
                s.problem("NC_CONNECTORS: connector \"" + name + "\" is listed twice");
                continue;
            }
            String hostVar = targetVar(s, name, "HOST");
            String portVar = targetVar(s, name, "PORT");
            String host = s.optional(hostVar).orElse("");
            if (host.isEmpty()) {
                s.problem(hostVar + " is required for connector \"" + name + "\"");
            } else if (host.contains(" ") || host.contains("/")) {
                s.problem(hostVar + " must be a host name or IP address");
            }
            int port = 0;
            if (s.optional(portVar).isEmpty()) {
                s.problem(portVar + " is required for connector \"" + name + "\"");
            } else {
                port = s.integer(portVar, 0, 1, 65535);
            }
            result.put(name, new Target(host, port));
        }
        if (result.isEmpty() && !list.isBlank()) {
            return result;
        }
        if (result.isEmpty()) {
            s.problem("NC_CONNECTORS lists no connector");
        }
        return result;
    }

    /** The variable as written with the connector's name, or its upper-cased form (Windows changes case). */
    private static String targetVar(Settings s, String name, String suffix) {
        String exact = "NC_TARGET_" + name + "_" + suffix;
        if (s.optional(exact).isPresent()) {
            return exact;
        }
        String upper = "NC_TARGET_" + name.toUpperCase(Locale.ROOT) + "_" + suffix;
        return s.optional(upper).isPresent() ? upper : exact;
    }
}
