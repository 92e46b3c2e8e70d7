package io.nowconnect.hub;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.common.concurrency.limits.Limit;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.websocket.WsCloseCodes;

import io.nowconnect.hub.auth.Claims;
import io.nowconnect.hub.auth.ConnectorScope;
import io.nowconnect.hub.auth.TokenLifetime;
import io.nowconnect.log.Event;
import io.nowconnect.mux.End;
import io.nowconnect.mux.Mux;
import io.nowconnect.mux.MuxSettings;
import io.nowconnect.mux.Role;
import io.nowconnect.mux.Side;
import io.nowconnect.mux.MuxReason;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.ConnectorName;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.stream.MemoryBudget;
import io.nowconnect.stream.Stream;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamRefusedException;
import io.nowconnect.stream.StreamSettings;
import io.nowconnect.ws.UpgradedSocket;

/**
 * The hub's role on one agent tunnel, and the Helidon server connection that {@link TunnelUpgrader} hands the upgraded
 * socket to: {@link #handle} runs the {@link Mux} (reading, pings, close handshake: see there) until the tunnel ends.
 * This class adds what only the hub does: HELLO first ({@link #admits}) and checked against the token (agent id,
 * connector names), the ack with the agreed capabilities ({@code drain}; {@code bin1} unless
 * {@code NC_HUB_MAX_FRAME_BYTES} is below a full binary frame), the registry entry that makes the tunnel routable,
 * DRAIN from the agent, client connections opened as new streams ({@link #openStream}), connector scopes from the
 * token's {@code connectors} claim and its expiry on the live tunnel.
 *
 * <p>Threads: Helidon's connection thread runs {@link #handle} and is the tunnel's reader; it calls {@link #onControl}.
 * {@link ConnectorListener}s call {@link #openStream} on the thread of each accepted client; Helidon may call
 * {@link #close} from any thread. State is volatile; nothing here is locked.
 */
final class AgentTunnel implements ServerConnection, Role {
    private static final Logger LOGGER = Logger.getLogger(AgentTunnel.class.getName());
    private static final List<String> HUB_CAPS = List.of(Capability.DRAIN, Capability.BIN1, Capability.LIMITS,
                                                         Capability.WIN, Capability.REPLICAS);
    private static final int MAX_CONNECTORS = 256;

    /**
     * What every tunnel of a hub shares.
     *
     * @param agents registry of ready tunnels
     * @param metrics hub meters
     * @param budget stream limit ({@code NC_HUB_MAX_CONNECTIONS})
     * @param memory memory budget of streams ({@code NC_HUB_MEMORY_BUDGET_MB})
     * @param streams stream limits
     * @param pingInterval ping interval
     * @param pingTimeout pong and HELLO deadline
     * @param maxMessage largest message accepted (fragments included)
     * @param drainTimeout how long a tunnel whose token expired may go on carrying its open streams
     * @param replicaId this replica's id ({@code NC_HUB_REPLICA_ID}), named in the ack with {@code replicas}
     * @param replicas every replica's id ({@code NC_HUB_REPLICAS}, or this one alone), named in the ack too
     */
    record Context(AgentRegistry agents, HubMetrics metrics, StreamBudget budget, MemoryBudget memory,
                   StreamSettings streams, Duration pingInterval, Duration pingTimeout, int maxMessage,
                   Duration drainTimeout, String replicaId, List<String> replicas) {
    }

    /** Why the hub ended a tunnel itself. */
    private enum HubReason implements End.Reason {
        POLICY("policy"),
        EXPIRED(TokenLifetime.EXPIRED),
        STOPPING("hub stopping");

        private final String label;

        HubReason(String label) {
            this.label = label;
        }

        @Override
        public String label() {
            return label;
        }
    }

    private final Context ctx;
    private final Claims claims;
    private final Mux mux;
    /** Token expiry on the live tunnel: no new streams after {@code exp}, closed once its streams end. */
    private final TokenLifetime lifetime;
    private volatile Thread reader;
    private volatile Set<String> connectors = Set.of();
    private volatile boolean draining;

    /**
     * A tunnel on a connection just upgraded for an authenticated agent; starts its writer.
     *
     * @param ctx what the hub's tunnels share
     * @param claims the verified token's claims
     * @param socket the connection's streams
     */
    AgentTunnel(Context ctx, Claims claims, UpgradedSocket socket) {
        this.ctx = ctx;
        this.claims = claims;
        this.lifetime = TokenLifetime.of(claims, ctx.drainTimeout());
        this.mux = Mux.create(new MuxSettings(Side.HUB, ctx.streams(), ctx.pingInterval(), ctx.pingTimeout(),
                                               ctx.maxMessage()),
                              this, ctx.metrics(), ctx.budget(), ctx.memory());
        // Helidon closes the socket once handle() returns: interrupting the reader ends a blocked read
        mux.attach(socket, () -> {
            Thread r = reader;
            if (r != null && r != Thread.currentThread()) {
                r.interrupt();
            }
        });
    }

    @Override
    public void handle(Limit limit) {
        reader = Thread.currentThread();
        Event.of("agent_upgraded").with("agent_id", claims.agentId()).with("jti", claims.jti().orElse(null))
                .log(LOGGER, Level.FINE, "Agent WebSocket open, waiting for HELLO");
        End end = mux.run();
        ctx.agents().remove(this);
        boolean helloDone = mux.isReady();
        if (end.reason() == MuxReason.HELLO_TIMEOUT || end.reason() == MuxReason.PING_TIMEOUT
                || end.reason() == MuxReason.WRITE_STALLED) {
            tag(Event.of(end.reason().label())).log(LOGGER, Level.WARNING, "Agent tunnel closing: " + end.detail());
        }
        // an agent that stopped reading (TCP zero window) is counted apart: it is a fault, not a normal end
        ctx.metrics().tunnelEnded(end.reason() == MuxReason.WRITE_STALLED ? MuxReason.WRITE_STALLED.label()
                                          : helloDone ? "closed" : "before_hello");
        Event.of("agent_disconnected").with("agent_id", agentId()).with("reason", end.detail())
                .log(LOGGER, helloDone ? Level.INFO : Level.FINE, "Agent tunnel ended: " + end.detail());
    }

    @Override
    public Duration idleTime() {
        return mux.idleTime();
    }

    /**
     * Helidon closes the connection (the hub stops, or it was idle too long): say so to the agent, then end.
     *
     * @param interrupt not used: the reader is interrupted either way, once the close frame went out or 500 ms
     *                  passed (that is how this tunnel's socket closes, see the constructor); it never writes to the
     *                  socket, so the interrupt cannot cut a write short
     */
    @Override
    public void close(boolean interrupt) {
        mux.goAway(WsCloseCodes.GOING_AWAY, HubReason.STOPPING, Duration.ofMillis(500));
    }

    @Override
    public void onControl(Frame frame) {
        switch (frame) {
        case Frame.Hello hello when !mux.isReady() -> onHello(hello);
        case Frame.Hello ignored -> {
            ctx.metrics().dropped("duplicate_hello");
            tag(Event.of("frame_unexpected")).with("reason", "duplicate_hello")
                    .log(LOGGER, Level.WARNING, "Second HELLO ignored");
        }
        case Frame.Drain ignored -> {
            draining = true;
            tag(Event.of("agent_draining")).with("streams", mux.streams().size())
                    .log(LOGGER, Level.INFO, "Agent tunnel draining: no new streams");
        }
        default -> {
            ctx.metrics().dropped("unexpected_frame");
            tag(Event.of("frame_unexpected")).with("type", frame.type().wire())
                    .log(LOGGER, Level.FINE, "Dropped unexpected " + frame.type().wire() + " frame from agent");
        }
        }
    }

    /** Nothing but HELLO before the tunnel is ready: anything else closes it with 1008. */
    @Override
    public boolean admits(Frame frame) {
        if (mux.isReady() || frame instanceof Frame.Hello) {
            return true;
        }
        ctx.metrics().dropped("before_hello");
        tag(Event.of("protocol_violation")).with("reason", "before_hello")
                .log(LOGGER, Level.WARNING, frame.type().wire() + " before HELLO: closing the tunnel");
        mux.close(WsCloseCodes.VIOLATED_POLICY, "HELLO expected", MuxReason.PROTOCOL_ERROR, "HELLO expected");
        return false;
    }

    @Override
    public void everySecond() {
        if (mux.isReady() && lifetime.closeNow(mux.streams().size())) {
            mux.close(WsCloseCodes.VIOLATED_POLICY, TokenLifetime.EXPIRED, HubReason.EXPIRED, "token expired");
        }
    }

    @Override
    public Event tag(Event event) {
        return event.with("agent_id", claims.agentId());
    }

    boolean exports(String connector) {
        // a tunnel whose token expired gets no new streams
        return mux.isReady() && !mux.isEnded() && connectors.contains(connector) && !lifetime.expired();
    }

    boolean draining() {
        return draining;
    }

    int activeStreams() {
        return mux.streams().size();
    }

    String agentId() {
        return claims.agentId();
    }

    Optional<String> jti() {
        return claims.jti();
    }

    /**
     * Carry a client connection as a new stream on this tunnel.
     *
     * @param client accepted client socket
     * @param connector connector of the listener that accepted it
     * @return whether the stream was opened (if not, the caller closes the socket)
     */
    boolean openStream(Socket client, String connector) {
        String cid = UUID.randomUUID().toString();
        Stream stream;
        try {
            stream = mux.streams().register(cid, connector);
        } catch (StreamRefusedException e) {
            Event.of("stream_refused").with("connector", connector).with("reason", e.reason().wire())
                    .log(LOGGER, Level.WARNING, "Client connection refused: " + e.reason().wire());
            ctx.metrics().refused(connector, e.reason().wire());
            return false;
        }
        try {
            mux.send(new Frame.Open(cid, connector), false);
        } catch (IOException e) {
            stream.reset(ResetReason.WS_BROKEN);
            return false;
        }
        Event.of("stream_open").with("cid", cid).with("connector", connector).with("agent_id", agentId())
                .log(LOGGER, Level.FINE, "Client connection is a new stream");
        stream.start(client);
        return true;
    }

    private void onHello(Frame.Hello hello) {
        if (!hello.agentId().equals(claims.agentId())) {
            ctx.metrics().authFailure("agent_id_mismatch");
            Event.of("auth_failed").with("agent_id", claims.agentId()).with("reason", "agent_id_mismatch")
                    .log(LOGGER, Level.WARNING, "HELLO agent_id differs from the token's agent_id claim: closing");
            mux.close(WsCloseCodes.VIOLATED_POLICY, "agent_id mismatch", HubReason.POLICY, "agent_id mismatch");
            return;
        }
        List<String> names = new ArrayList<>();
        for (String c : hello.connectors()) {
            if (ConnectorName.isValid(c) && names.size() < MAX_CONNECTORS) {
                names.add(c);
            }
        }
        // connector scopes: serve only the connectors the token's `connectors` claim allows; each refused one is logged
        // (connector_not_allowed) and counted there; a HELLO with none left is closed with 1008
        ConnectorScope.Result scoped = ConnectorScope.of(claims).apply(names, ctx.metrics()::authFailure);
        if (scoped.noneLeft()) {
            mux.close(WsCloseCodes.VIOLATED_POLICY, "no connector allowed", HubReason.POLICY, "no connector allowed");
            return;
        }
        names = new ArrayList<>(scoped.served());
        List<String> offered = new ArrayList<>(HUB_CAPS);
        if (ctx.maxMessage() < BinaryCodec.MAX_MESSAGE) {
            // NC_HUB_MAX_FRAME_BYTES below a full bin1 DATA frame: stay with JSON DATA
            offered.remove(Capability.BIN1);
        }
        // before this tunnel can carry its first stream
        List<String> caps = mux.agree(offered, hello.caps(), hello.window());
        connectors = Set.copyOf(names);
        int limit = caps.contains(Capability.LIMITS) ? ctx.maxMessage() : 0;
        int window = caps.contains(Capability.WIN) && caps.contains(Capability.BIN1) ? mux.windowOffer() : 0;
        // replicas: the agent learns which replica it reached and which others to find (it keeps a tunnel to each)
        boolean replicas = caps.contains(Capability.REPLICAS);
        if (!mux.sendUrgent(new Frame.HelloAck(caps, -1, limit, window, replicas ? ctx.replicaId() : "",
                                               replicas ? ctx.replicas() : List.of()))) {
            return;
        }
        mux.ready();
        ctx.agents().add(this);
        Event.of("agent_connected").with("agent_id", agentId()).with("connectors", String.join(",", names))
                .with("ver", hello.version()).with("caps", String.join(",", caps))
                .log(LOGGER, Level.INFO, "Agent connected");
    }
}
