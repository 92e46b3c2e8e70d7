package io.nowconnect.hub;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import io.helidon.health.HealthCheckResponse;
import io.helidon.webserver.ListenerConfig;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http1.Http1ConnectionSelector;
import io.helidon.webserver.http1.spi.Http1Upgrader;
import io.helidon.webserver.spi.ServerConnectionSelector;

import io.nowconnect.config.HubConfig;
import io.nowconnect.health.Observe;
import io.nowconnect.health.Probes;

/**
 * What the hub serves besides {@code /tunnel}, and where: {@code /metrics}, {@code /readyz} (with {@code ?connector=})
 * and {@code /healthz} with details go to the admin listener ({@code NC_HUB_ADMIN_HOST}/{@code NC_HUB_ADMIN_PORT},
 * a second Helidon listener named {@value #SOCKET}) when one is set, and the hub's port then answers only
 * {@code /tunnel} and a {@code /healthz} that says {@code {"status":"UP"}} and nothing more; without it, everything is
 * on the hub's port as before. The health paths answer HTTP/1.0 as well as HTTP/1.1 on both ports ({@link Probes}).
 *
 * <p>Other admin pages (a status page, ...) are added with {@link #route} before the hub starts; they are served
 * wherever {@code /metrics} is.
 *
 * <p>Built and configured on the starting thread; the answers run on request threads and only read the registry and
 * the hub's state.
 */
public final class HubAdmin {
    /** Name of the admin listener in Helidon's server configuration. */
    public static final String SOCKET = "admin";
    /** The admin listener's request deadline (the hub's port has {@code NC_HUB_REQUEST_TIMEOUT_SEC}). */
    static final Duration ADMIN_REQUEST_DEADLINE = Duration.ofSeconds(10);
    /** Most connections to the admin listener at once (probes and scrapes); beyond it they wait in the backlog. */
    static final int ADMIN_MAX_CONNECTIONS = 64;
    /** An admin connection idle this long is closed (checked every {@link #IDLE_SWEEP}). */
    static final Duration IDLE = Duration.ofSeconds(30);
    /** How often Helidon looks for idle admin connections. */
    static final Duration IDLE_SWEEP = Duration.ofSeconds(10);

    private final Optional<InetSocketAddress> address;
    private final Probes full;
    private final Probes minimal;
    private final List<Consumer<HttpRouting.Builder>> routes = new ArrayList<>();

    /**
     * The hub's answers.
     *
     * @param config the hub's configuration
     * @param agents its registry
     * @param ready whether the hub serves (endpoint and listeners bound, not stopping)
     * @param stopping whether a stop began
     * @param details more fields of {@code /readyz}'s JSON (each starting with a comma), such as the JWKS URL's state
     */
    HubAdmin(HubConfig config, AgentRegistry agents, BooleanSupplier ready, BooleanSupplier stopping,
             java.util.function.Supplier<String> details) {
        this.address = config.admin();
        this.full = Probes.create()
                .add("/healthz", Probes.liveness("hub", () -> HealthCheckResponse.builder().status(true).build(), true))
                .add("/readyz", query -> {
                    // ?connector=NAME: ready only while an agent serves that connector here (a balancer's check for the
                    // connector's listener, so clients go to a replica that can carry them)
                    Optional<String> connector = query.apply("connector");
                    boolean up = ready.getAsBoolean() && connector.map(c -> agents.pick(c).isPresent()).orElse(true);
                    return new Probes.Answer(up ? 200 : 503, "{\"status\":\"" + (up ? "UP" : "DOWN") + "\",\"replica\":\""
                            + config.replicaId() + "\",\"stopping\":" + stopping.getAsBoolean() + ",\"agents\":"
                            + agents.size() + details.get() + "}");
                });
        this.minimal = Probes.create()
                .add("/healthz", Probes.liveness("hub", () -> HealthCheckResponse.builder().status(true).build(), false));
    }

    /**
     * Add routes to the admin side (the admin listener, or the hub's port when there is none). Call before the hub
     * starts.
     *
     * @param routing adds its routes to the admin routing
     * @return this
     */
    public HubAdmin route(Consumer<HttpRouting.Builder> routing) {
        routes.add(routing);
        return this;
    }

    /**
     * Whether the admin endpoints have a listener of their own.
     *
     * @return true with {@code NC_HUB_ADMIN_PORT}
     */
    public boolean separate() {
        return address.isPresent();
    }

    /**
     * The hub port's HTTP/1 selector: Helidon's, with the tunnel upgrader, answering the port's health paths over
     * HTTP/1.0 too.
     *
     * @param upgrader the {@code /tunnel} upgrader
     * @return selector (the caller wraps it in the upgrade deadline)
     */
    ServerConnectionSelector publicSelector(Http1Upgrader upgrader) {
        Http1ConnectionSelector http1 = Http1ConnectionSelector.builder().config(Http1Config.create())
                .addUpgrader(upgrader).build();
        // the upgrade deadline (NC_HUB_REQUEST_TIMEOUT_SEC) bounds the whole connection until it is a tunnel
        return (separate() ? minimal : full).http10(http1, Duration.ZERO);
    }

    /**
     * Whether an address can be bound now: after Helidon failed to start, tells whether the admin listener was the
     * one that could not bind (Helidon then reports no port for any listener).
     *
     * @param address admin address
     * @return true when a socket could bind it just now
     */
    static boolean bindable(InetSocketAddress address) {
        try (java.net.ServerSocket s = new java.net.ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(address.getHostString(), address.getPort()));
            return true;
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * Routing of the hub's port, the admin listener and {@code /metrics}.
     *
     * @param builder the hub's server, before it is built
     */
    void configure(WebServerConfig.Builder builder) {
        HttpRouting.Builder pub = HttpRouting.builder();
        if (address.isEmpty()) {
            full.route(pub);
            routes.forEach(r -> r.accept(pub));
            builder.routing(Observe.scrape(pub)).addFeature(Observe.metrics());
            return;
        }
        minimal.route(pub);
        HttpRouting.Builder admin = HttpRouting.builder();
        full.route(admin);
        routes.forEach(r -> r.accept(admin));
        InetSocketAddress a = address.get();
        Http1ConnectionSelector http1 = Http1ConnectionSelector.builder().config(Http1Config.create()).build();
        builder.routing(pub)
                .putSocket(SOCKET, ListenerConfig.builder()
                        .host(a.getHostString())
                        .port(a.getPort())
                        .protocolsDiscoverServices(false)
                        .maxTcpConnections(ADMIN_MAX_CONNECTIONS)
                        // Helidon 4.2.0 keeps an HTTP/1.1 connection open after answering "Connection: close" until the
                        // client closes it: an idle one gives its slot back after 30-40 s, not Helidon's 5-7 min
                        .idleConnectionTimeout(IDLE)
                        .idleConnectionPeriod(IDLE_SWEEP)
                        .addConnectionSelector(full.http10(http1, ADMIN_REQUEST_DEADLINE))
                        .routing(Observe.scrape(admin))
                        .build())
                .addFeature(Observe.metrics(SOCKET));
    }
}
