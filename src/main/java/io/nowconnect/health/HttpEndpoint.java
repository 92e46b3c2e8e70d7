package io.nowconnect.health;

import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import io.helidon.health.HealthCheckResponse;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http1.Http1ConnectionSelector;

import io.nowconnect.config.ConfigException;
import io.nowconnect.tunnel.TunnelStatus;

/**
 * The optional HTTP endpoint ({@code NC_HTTP_HOST}/{@code NC_HTTP_PORT}): {@code /healthz} (liveness),
 * {@code /readyz} (200 only while a tunnel is acknowledged, with a small JSON body) and {@code /metrics} (Prometheus
 * text, JSON with {@code Accept: application/json}); with the agent, also its status page ({@link AgentStatusPage}).
 * Nothing here can reveal the token: every answer is read from {@link TunnelStatus}, the meter registry and the
 * configuration. {@code /healthz} and {@code /readyz} answer HTTP/1.0 requests too (see {@link Probes}).
 */
public final class HttpEndpoint implements AutoCloseable {
    /** How long a connection may take to send its request line (an HTTP/1.0 check: its whole request). */
    static final java.time.Duration REQUEST_DEADLINE = java.time.Duration.ofSeconds(10);
    /** Most connections at once; more wait in the listen backlog. */
    static final int MAX_CONNECTIONS = 64;

    private final WebServer server;

    private HttpEndpoint(WebServer server) {
        this.server = server;
    }

    /**
     * Start the endpoint.
     *
     * @param host bind address
     * @param port port, 0 for any free port
     * @param status the agent's state tracker
     * @param alive whether the tunnel supervisor is still running (liveness)
     * @return running endpoint
     * @throws ConfigException naming the variables when the port cannot be bound
     */
    public static HttpEndpoint start(String host, int port, TunnelStatus status, BooleanSupplier alive) {
        return start(host, port, status, alive, rules -> { });
    }

    /**
     * Start the endpoint with more routes (the agent's status page).
     *
     * @param host bind address
     * @param port port, 0 for any free port
     * @param status the agent's state tracker
     * @param alive whether the tunnel supervisor is still running (liveness)
     * @param more adds routes
     * @return running endpoint
     * @throws ConfigException naming the variables when the port cannot be bound
     */
    public static HttpEndpoint start(String host, int port, TunnelStatus status, BooleanSupplier alive,
                                     Consumer<HttpRules> more) {
        WebServer server = ServerStart.start(configure(WebServer.builder().host(host).port(port), status, alive, more));
        if (server.port() < 0) {
            // Helidon 4.2.0 logs a failed bind and starts anyway
            server.stop();
            throw new ConfigException(List.of("NC_HTTP_HOST/NC_HTTP_PORT: cannot listen on " + host + ":" + port
                                                      + " (address in use or not available)"));
        }
        return new HttpEndpoint(server);
    }


    /**
     * What the endpoint serves, on a server builder whose host and port are set by the caller ({@link #start}, or
     * Helidon's {@code @ServerTest} in the tests).
     *
     * @param builder server builder
     * @param status the agent's state tracker
     * @param alive whether the tunnel supervisor is still running (liveness)
     * @return the builder
     */
    static WebServerConfig.Builder configure(WebServerConfig.Builder builder, TunnelStatus status, BooleanSupplier alive) {
        return configure(builder, status, alive, rules -> { });
    }

    static WebServerConfig.Builder configure(WebServerConfig.Builder builder, TunnelStatus status, BooleanSupplier alive,
                                             Consumer<HttpRules> more) {
        Probes probes = probes(status, alive);
        HttpRouting.Builder routing = HttpRouting.builder();
        more.accept(routing);
        probes.route(routing);
        Observe.scrape(routing);
        return builder
                .featuresDiscoverServices(false)
                // HTTP/1.1 (no upgrades) and, for the health paths, HTTP/1.0 (see Probes)
                .protocolsDiscoverServices(false)
                // probes and scrapes only: a few connections at once, idle ones closed within 40 s (Helidon 4.2.0 keeps
                // an HTTP/1.1 connection after "Connection: close" until the client closes it)
                .maxTcpConnections(MAX_CONNECTIONS)
                .idleConnectionTimeout(java.time.Duration.ofSeconds(30))
                .idleConnectionPeriod(java.time.Duration.ofSeconds(10))
                .addConnectionSelector(probes.http10(Http1ConnectionSelector.builder().config(Http1Config.create()).build(),
                                                     REQUEST_DEADLINE))
                .addFeature(Observe.metrics())
                .routing(routing);
    }

    /**
     * The {@code /readyz} and {@code /healthz} routes (the metrics feature adds {@code /metrics}).
     *
     * @param routing routing builder
     * @param status the agent's state tracker
     */
    static void routing(HttpRouting.Builder routing, TunnelStatus status) {
        probes(status, () -> true).route(routing);
    }

    private static Probes probes(TunnelStatus status, BooleanSupplier alive) {
        return Probes.create()
                .add("/healthz", Probes.liveness("supervisor", () -> HealthCheckResponse.builder()
                        .status(alive.getAsBoolean())
                        .detail("supervisor", alive.getAsBoolean() ? "running" : "stopped")
                        .build(), true))
                .add("/readyz", query -> {
                    TunnelStatus.Snapshot s = status.snapshot();
                    return new Probes.Answer(s.ready() ? 200 : 503, readiness(s, status.replicas()));
                });
    }

    /**
     * Bound port.
     *
     * @return port
     */
    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        server.stop();
    }

    static String readiness(TunnelStatus.Snapshot s) {
        return readiness(s, java.util.Map.of());
    }

    /**
     * The {@code /readyz} body.
     *
     * @param s state
     * @param replicas hub URL to replica id to tunnels ({@link TunnelStatus#replicas()})
     * @return JSON
     */
    static String readiness(TunnelStatus.Snapshot s, java.util.Map<String, java.util.Map<String, Integer>> replicas) {
        StringBuilder sb = new StringBuilder(160);
        sb.append("{\"state\":\"").append(s.state().name().toLowerCase(java.util.Locale.ROOT)).append('"');
        sb.append(",\"ready\":").append(s.ready());
        sb.append(",\"hub\":");
        json(sb, s.hub());
        // whole seconds, as documented: the state changes are seconds apart, not nanoseconds
        sb.append(",\"since\":\"").append(s.since().truncatedTo(java.time.temporal.ChronoUnit.SECONDS)).append('"');
        sb.append(",\"ready_tunnels\":").append(s.readyTunnels());
        sb.append(",\"last_error\":");
        if (s.lastError().isPresent()) {
            json(sb, s.lastError().get());
        } else {
            sb.append("null");
        }
        // hub replicas (hubs with the replicas capability): each with its state, "ready" or "missing" (re-dialling)
        sb.append(",\"replicas\":[");
        boolean first = true;
        for (var hub : replicas.entrySet()) {
            for (var r : hub.getValue().entrySet()) {
                sb.append(first ? "" : ",").append("{\"hub\":");
                json(sb, hub.getKey());
                sb.append(",\"replica\":");
                json(sb, r.getKey());
                sb.append(",\"state\":\"").append(r.getValue() > 0 ? "ready" : "missing").append("\",\"tunnels\":")
                        .append(r.getValue()).append('}');
                first = false;
            }
        }
        sb.append(']');
        return sb.append('}').toString();
    }

    private static void json(StringBuilder sb, String v) {
        sb.append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        sb.append('"');
    }
}
