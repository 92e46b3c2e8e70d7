package io.nowconnect.hub;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.common.buffers.BufferData;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.http.HttpPrologue;
import io.helidon.http.Method;
import io.helidon.http.RequestException;
import io.helidon.http.Status;
import io.helidon.http.WritableHeaders;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.http1.spi.Http1Upgrader;
import io.helidon.webserver.spi.ServerConnection;

import io.nowconnect.hub.auth.AuthException;
import io.nowconnect.hub.auth.Claims;
import io.nowconnect.hub.auth.TokenVerifier;
import io.nowconnect.hub.auth.VerifiedToken;
import io.nowconnect.log.Event;
import io.nowconnect.ws.Handshake;
import io.nowconnect.ws.UpgradedSocket;

/**
 * Upgrades {@code GET /tunnel} to a WebSocket for an agent whose bearer token verifies, and hands the connection to a
 * new {@link AgentTunnel}. It takes the place of Helidon's WebSocket upgrader so that the tunnel's frames go through
 * {@link io.nowconnect.ws} (see there why); Helidon still parses the request, does TLS and serves every other path.
 *
 * <p>Answers: 401 (no or bad token, or one on the revocation list: reason {@code revoked}) or 403 (token not valid for this hub) with {@code WWW-Authenticate: Bearer}, 400
 * for a malformed WebSocket request, 503 with {@code Retry-After} when {@code NC_HUB_MAX_TUNNELS} tunnels are open
 * (see {@link TunnelCap}; checked after the token, so only a valid agent learns that the hub is full), 429 with
 * {@code Retry-After} when the token's {@code agent_id} already holds {@code NC_HUB_MAX_TUNNELS_PER_AGENT} tunnels (see
 * {@link AgentTunnelCap}); another path is not upgraded (Helidon's routing answers it, 404). A connection upgraded
 * here is released from the {@link UpgradeDeadline}. Refused upgrades are logged at most once per
 * {@link LogThrottle#PERIOD} for each reason, with their count.
 */
final class TunnelUpgrader implements Http1Upgrader {
    static final String PATH = "/tunnel";
    private static final Logger LOGGER = Logger.getLogger(TunnelUpgrader.class.getName());

    /** Seconds a refused agent is asked to wait; its back-off spreads the retries anyway. */
    private static final String RETRY_AFTER_SECONDS = "30";

    private final TokenVerifier verifier;
    private final AgentTunnel.Context tunnels;
    private final TunnelCap cap;
    private final AgentTunnelCap perAgent;
    private final UpgradeDeadline deadline;
    /** One throttle per refusal reason (a fixed set of {@link AuthException#reason()} values, so bounded). */
    private final Map<String, LogThrottle> authLogs = new ConcurrentHashMap<>();

    TunnelUpgrader(TokenVerifier verifier, AgentTunnel.Context tunnels, TunnelCap cap, AgentTunnelCap perAgent,
                   UpgradeDeadline deadline) {
        this.verifier = verifier;
        this.tunnels = tunnels;
        this.cap = cap;
        this.perAgent = perAgent;
        this.deadline = deadline;
    }

    @Override
    public String supportedProtocol() {
        return "websocket";
    }

    @Override
    public ServerConnection upgrade(ConnectionContext ctx, HttpPrologue prologue, WritableHeaders<?> headers) {
        if (!PATH.equals(prologue.uriPath().path()) || !Method.GET.equals(prologue.method())) {
            return null;
        }
        String key = headers.first(HeaderNames.create("Sec-WebSocket-Key")).orElse("");
        String version = headers.first(HeaderNames.create("Sec-WebSocket-Version")).orElse("");
        if (!Handshake.validKey(key) || !"13".equals(version.trim())) {
            throw RequestException.builder()
                    .type(DirectHandler.EventType.BAD_REQUEST)
                    .status(Status.BAD_REQUEST_400)
                    .header(HeaderValues.create(HeaderNames.create("Sec-WebSocket-Version"), "13"))
                    .message("WebSocket version 13 with a valid Sec-WebSocket-Key required")
                    .safeMessage(true)
                    .build();
        }
        VerifiedToken token = authenticate(headers);
        Claims claims = token.claims();
        String agentId = claims.agentId();
        if (!perAgent.tryAcquire(agentId)) {
            refuseAgentFull(claims);
        }
        if (!cap.tryAcquire()) {
            perAgent.release(agentId);
            refuseFull(claims);
        }
        // Helidon keeps this request's headers (the bearer token among them) for as long as the connection lives,
        // and does not read them after an upgrade: drop them, about 1 KiB per tunnel and no token left in the heap
        headers.clear();
        String response = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Accept: " + Handshake.accept(key) + "\r\n\r\n";
        try {
            ctx.dataWriter().writeNow(BufferData.create(response.getBytes(StandardCharsets.US_ASCII)));
            // both slots come back once, when the tunnel's connection ends (one wrapper: a hub holds thousands)
            // from here the tunnel reads and writes the socket's own streams, after what Helidon read past the request
            UpgradedSocket socket = UpgradedSocket.of(ctx.serverSocket(), ctx.dataReader());
            ServerConnection tunnel = OnEnd.wrap(new AgentTunnel(tunnels, token, socket),
                                                 () -> {
                                                     cap.release();
                                                     perAgent.release(agentId);
                                                 });
            deadline.upgraded(ctx);
            return tunnel;
        } catch (RuntimeException e) {
            cap.release();
            perAgent.release(agentId);
            throw e;
        }
    }

    /** 503: the hub holds {@code NC_HUB_MAX_TUNNELS} tunnels; logged at most once per {@link LogThrottle#PERIOD}. */
    private void refuseFull(Claims claims) {
        tunnels.metrics().tunnelRefused("max_tunnels");
        long refused = cap.refusalsToLog();
        if (refused > 0) {
            Event.of("tunnel_refused").with("agent_id", claims.agentId()).with("reason", "max_tunnels")
                    .with("max_tunnels", cap.max()).with("refused", refused)
                    .log(LOGGER, Level.WARNING, "Agent refused at upgrade: " + cap.max() + " tunnels open (NC_HUB_MAX_TUNNELS); "
                            + refused + " refused since the last such line");
        }
        throw RequestException.builder()
                .type(DirectHandler.EventType.OTHER)
                .status(Status.SERVICE_UNAVAILABLE_503)
                .header(HeaderValues.create(HeaderNames.RETRY_AFTER, RETRY_AFTER_SECONDS))
                .message("Too many agent tunnels")
                .safeMessage(true)
                .build();
    }

    /** 429: this agent id holds {@code NC_HUB_MAX_TUNNELS_PER_AGENT} tunnels; logged at most once per 10 s. */
    private void refuseAgentFull(Claims claims) {
        tunnels.metrics().tunnelRefused("max_tunnels_per_agent");
        long refused = perAgent.refusalsToLog();
        if (refused > 0) {
            Event.of("tunnel_refused").with("agent_id", claims.agentId()).with("reason", "max_tunnels_per_agent")
                    .with("max_tunnels_per_agent", perAgent.max()).with("refused", refused)
                    .log(LOGGER, Level.WARNING, "Agent refused at upgrade: its agent_id holds " + perAgent.max()
                            + " tunnels (NC_HUB_MAX_TUNNELS_PER_AGENT); " + refused + " refused since the last such line");
        }
        throw RequestException.builder()
                .type(DirectHandler.EventType.OTHER)
                .status(Status.TOO_MANY_REQUESTS_429)
                .header(HeaderValues.create(HeaderNames.RETRY_AFTER, RETRY_AFTER_SECONDS))
                .message("Too many tunnels for this agent_id")
                .safeMessage(true)
                .build();
    }

    private VerifiedToken authenticate(WritableHeaders<?> headers) {
        Optional<String> token = headers.first(HeaderNames.AUTHORIZATION).flatMap(TokenVerifier::bearer);
        try {
            if (token.isEmpty()) {
                throw AuthException.unauthorized("missing_token", "no bearer token");
            }
            return verifier.verifyToken(token.get());
        } catch (AuthException e) {
            tunnels.metrics().authFailure(e.reason());
            // a token guesser or a fleet with an old key comes in floods: one line per reason and period, with a count
            long refused = authLogs.computeIfAbsent(e.reason(), r -> new LogThrottle()).countAndDue();
            if (refused > 0) {
                Event.of("auth_failed").with("reason", e.reason()).with("detail", e.getMessage()).with("refused", refused)
                        .log(LOGGER, Level.WARNING, "Agent refused at upgrade; " + refused
                                + " refused for this reason since the last such line");
            }
            throw RequestException.builder()
                    .type(DirectHandler.EventType.OTHER)
                    .status(e.status() == 403 ? Status.FORBIDDEN_403 : Status.UNAUTHORIZED_401)
                    .header(HeaderValues.create(HeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"nowconnect\""))
                    .message(e.status() == 403 ? "Forbidden" : "Unauthorized")
                    .safeMessage(true)
                    .build();
        }
    }
}
