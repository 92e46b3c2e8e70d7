package io.nowconnect.hub;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.common.concurrency.limits.Limit;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.websocket.WsCloseCodes;

import io.nowconnect.hub.auth.Claims;
import io.nowconnect.hub.auth.ConnectorScope;
import io.nowconnect.hub.auth.Revocations;
import io.nowconnect.hub.auth.TokenLifetime;
import io.nowconnect.hub.auth.TokenVerifier;
import io.nowconnect.hub.auth.VerifiedToken;
import io.nowconnect.log.AccessLog;
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
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.Stream;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamEnd;
import io.nowconnect.stream.StreamObserver;
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
 * token's {@code connectors} claim, and its expiry, the removal of its key and its revocation on the live tunnel.
 *
 * <p>Threads: Helidon's connection thread runs {@link #handle} and is the tunnel's reader; it calls {@link #onControl}.
 * {@link ConnectorListener}s call {@link #openStream} on the thread of each accepted client, which goes on as that
 * stream's socket reader; Helidon may call
 * {@link #close} from any thread. State is volatile; nothing here is locked.
 */
final class AgentTunnel implements ServerConnection, Role {
    private static final Logger LOGGER = Logger.getLogger(AgentTunnel.class.getName());
    private static final List<String> HUB_CAPS = List.of(Capability.DRAIN, Capability.BIN1, Capability.LIMITS,
                                                         Capability.WIN, Capability.REPLICAS);
    private static final int MAX_CONNECTORS = 256;
    /** The close reason for an agent without {@code bin1} on a hub that requires it. */
    static final String BIN1_REQUIRED = "bin1 (flow control) required by this hub; upgrade the agent";

    /**
     * What every tunnel of a hub shares.
     *
     * @param agents registry of ready tunnels
     * @param metrics hub meters
     * @param budget stream limit ({@code NC_HUB_MAX_CONNECTIONS})
     * @param memory memory budget of streams ({@code NC_HUB_MEMORY_BUDGET_MB}) and its shares, one per {@code agent_id}
     * @param streams stream limits
     * @param pingInterval ping interval
     * @param pingTimeout pong and HELLO deadline
     * @param maxMessage largest message accepted (fragments included)
     * @param drainTimeout how long a tunnel whose token expired may go on carrying its open streams
     * @param verifier tells every second whether each tunnel's token was revoked or its key removed
     * @param replicaId this replica's id ({@code NC_HUB_REPLICA_ID}), named in the ack with {@code replicas}
     * @param replicas every replica's id ({@code NC_HUB_REPLICAS}, or this one alone), named in the ack too
     * @param accessLog whether each stream's end is logged ({@code NC_ACCESS_LOG})
     * @param requireBin1 whether an agent without {@code bin1} (no flow control) is refused ({@code NC_HUB_REQUIRE_BIN1})
     */
    record Context(AgentRegistry agents, HubMetrics metrics, StreamBudget budget, Shares memory,
                   StreamSettings streams, Duration pingInterval, Duration pingTimeout, int maxMessage,
                   Duration drainTimeout, String replicaId, List<String> replicas, TokenVerifier verifier,
                   boolean accessLog, boolean requireBin1) {
    }

    /**
     * A client connection carried by a stream of this tunnel, until the stream ends.
     *
     * @param address the client's address and port
     * @param slot its place in the hub's connection limits, released when the stream ends
     * @param waitedMs how long it waited for an agent before its stream opened
     */
    private record Client(InetSocketAddress address, ClientAdmission.Slot slot, long waitedMs) {
    }

    /** Why the hub ended a tunnel itself. */
    private enum HubReason implements End.Reason {
        POLICY("policy"),
        EXPIRED(TokenLifetime.EXPIRED),
        KEY_REMOVED(TokenLifetime.KEY_REMOVED),
        REVOKED("token_revoked"),
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
    private final VerifiedToken token;
    private final Claims claims;
    private final Mux mux;
    /** Token expiry on the live tunnel: no new streams after {@code exp}, closed once its streams end. */
    private final TokenLifetime lifetime;
    private volatile Thread reader;
    private volatile Set<String> connectors = Set.of();
    private volatile boolean draining;
    /** The token was found on the revocation list: no new streams, closed at once. */
    private volatile boolean revoked;
    /** The client of each open stream, by cid: released and logged when the stream ends; at most its streams. */
    private final Map<String, Client> clients = new ConcurrentHashMap<>();
    /** Payload bytes this tunnel carried, both directions (the status page's per-agent column). */
    private final LongAdder bytes = new LongAdder();

    /**
     * A tunnel on a connection just upgraded for an authenticated agent; starts its writer.
     *
     * @param ctx what the hub's tunnels share
     * @param token the verified token (claims and the key that verified it)
     * @param socket the connection's streams
     */
    AgentTunnel(Context ctx, VerifiedToken token, UpgradedSocket socket) {
        this.ctx = ctx;
        this.token = token;
        this.claims = token.claims();
        this.lifetime = TokenLifetime.of(claims, ctx.drainTimeout());
        this.mux = Mux.create(new MuxSettings(Side.HUB, ctx.streams(), ctx.pingInterval(), ctx.pingTimeout(),
                                               ctx.maxMessage()),
                              this, StreamObserver.both(ctx.metrics(), new Ends()), ctx.budget(),
                              ctx.memory().open(claims.agentId()));
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
            tag(Event.of(end.reason().label())).with("detail", end.detail())
                    .log(LOGGER, Level.WARNING, "Agent tunnel closing");
        }
        // an agent that stopped reading (TCP zero window) is counted apart: it is a fault, not a normal end
        ctx.metrics().tunnelEnded(end.reason() == MuxReason.WRITE_STALLED ? MuxReason.WRITE_STALLED.label()
                                          : helloDone ? "closed" : "before_hello");
        Event.of("agent_disconnected").with("agent_id", agentId()).with("reason", end.detail())
                .log(LOGGER, helloDone ? Level.INFO : Level.FINE, "Agent tunnel ended");
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

    /**
     * Once a second: a revoked token ends the tunnel now; a token whose key was removed, or that expired, ends it once
     * its streams are done (at the latest a drain timeout later), with no new streams meanwhile.
     */
    @Override
    public void everySecond() {
        switch (ctx.verifier().standing(token)) {
        case REVOKED -> {
            revoke();
            return;
        }
        case KEY_REMOVED -> lifetime.keyRemoved();
        case GOOD -> {
            // nothing changed
        }
        }
        if (mux.isReady() && lifetime.closeNow(mux.streams().size())) {
            boolean keyRemoved = TokenLifetime.KEY_REMOVED.equals(lifetime.ending());
            mux.close(WsCloseCodes.VIOLATED_POLICY, lifetime.ending(), keyRemoved ? HubReason.KEY_REMOVED
                    : HubReason.EXPIRED, keyRemoved ? "token key removed" : "token expired");
        }
    }

    private void revoke() {
        if (revoked) {
            return;
        }
        revoked = true;
        tag(Event.of(HubReason.REVOKED.label())).with("jti", claims.jti().orElse(null))
                .with("streams", mux.streams().size())
                .log(LOGGER, Level.WARNING, "Agent token revoked (" + Revocations.VARIABLE + "): closing its tunnel now");
        mux.close(WsCloseCodes.VIOLATED_POLICY, HubReason.REVOKED.label(), HubReason.REVOKED, "token revoked");
    }

    @Override
    public Event tag(Event event) {
        return event.with("agent_id", claims.agentId());
    }

    boolean exports(String connector) {
        // a tunnel whose token expired, lost its key or was revoked gets no new streams
        return mux.isReady() && !mux.isEnded() && connectors.contains(connector) && !lifetime.expired() && !revoked;
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

    /** The token's {@code exp}. */
    Instant tokenExpiresAt() {
        return claims.expiresAt();
    }

    /** How long the tunnel has been ready (zero before HELLO). */
    Duration readyFor() {
        return mux.readyFor();
    }

    /** Capabilities agreed in HELLO. */
    List<String> caps() {
        return mux.caps();
    }

    /** Connectors this tunnel serves (from its HELLO, within the token's scope). */
    Set<String> connectors() {
        return connectors;
    }

    /** Payload bytes carried, both directions. */
    long bytes() {
        return bytes.sum();
    }

    Optional<String> jti() {
        return claims.jti();
    }

    /**
     * Carry a client connection as a new stream on this tunnel. Once the stream is open, the calling thread runs
     * {@code opened} and goes on as the stream's socket reader (the client usually speaks first), returning when the
     * client finished sending or the stream ended; the socket writer gets a thread of its own once the agent sends
     * something.
     *
     * @param client accepted client socket
     * @param connector connector of the listener that accepted it
     * @param slot the client's place in the connection limits: released when the stream ends
     * @param waitedMs how long the client waited for an agent
     * @param opened the caller's set-up ends (run before the calling thread starts reading the client)
     * @return null when the stream was opened (and the calling thread's reading has ended), else why not (the caller
     *         logs it, closes the socket and releases the slot)
     */
    String openStream(Socket client, String connector, ClientAdmission.Slot slot, long waitedMs, Runnable opened) {
        String cid = UUID.randomUUID().toString();
        Stream stream;
        // known before the stream exists: it may end (its tunnel drops) before register returns
        clients.put(cid, new Client((InetSocketAddress) client.getRemoteSocketAddress(), slot, waitedMs));
        try {
            stream = mux.streams().register(cid, connector);
        } catch (StreamRefusedException e) {
            clients.remove(cid);
            ctx.metrics().refused(connector, e.reason().wire());
            return e.reason().wire();
        }
        try {
            mux.send(new Frame.Open(cid, connector), false);
        } catch (IOException e) {
            stream.reset(ResetReason.WS_BROKEN);
            return ResetReason.WS_BROKEN.wire();
        }
        Event.of("stream_open").with("cid", cid).with("connector", connector).with("agent_id", agentId())
                .log(LOGGER, Level.FINE, "Client connection is a new stream");
        opened.run();
        stream.run(client, Stream.Pump.READER);
        return null;
    }

    /**
     * What this tunnel's streams do: the bytes they carry (the status page's per-agent column), and each end: its
     * client's slot goes back, and the access log gets its line.
     */
    private final class Ends implements StreamObserver {
        @Override
        public void bytes(String connector, Direction direction, int n) {
            bytes.add(n);
        }

        @Override
        public void ended(StreamEnd end) {
            Client client = clients.remove(end.cid());
            if (client != null) {
                client.slot().release();
            }
            if (!ctx.accessLog()) {
                return;
            }
            InetSocketAddress address = client != null ? client.address() : end.peer();
            Event line = AccessLog.event(end.connector())
                    .with("client", address == null ? null : address.getAddress().getHostAddress())
                    .with("client_port", address == null ? null : address.getPort())
                    .with("agent_id", agentId()).with("replica", ctx.replicaId());
            if (client != null && client.waitedMs() > 0) {
                line.with("wait_ms", client.waitedMs());
            }
            AccessLog.log(end, line);
        }
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
        if (ctx.requireBin1() && !hello.caps().contains(Capability.BIN1)) {
            // NC_HUB_REQUIRE_BIN1: a v1 agent has no flow control, so nothing but the memory budget bounds its streams
            ctx.metrics().tunnelRefused("bin1_required");
            Event.of("tunnel_refused").with("agent_id", agentId()).with("reason", "bin1_required")
                    .with("ver", hello.version())
                    .log(LOGGER, Level.WARNING, "Agent without flow control (bin1) refused: NC_HUB_REQUIRE_BIN1 is true");
            mux.close(WsCloseCodes.VIOLATED_POLICY, BIN1_REQUIRED, HubReason.POLICY, BIN1_REQUIRED);
            return;
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
