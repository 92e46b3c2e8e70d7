package io.nowconnect.hub;

import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;

import io.helidon.common.buffers.DataReader;
import io.helidon.common.buffers.DataWriter;
import io.helidon.common.concurrency.limits.Limit;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.websocket.WsCloseCodes;

import io.nowconnect.hub.auth.Claims;
import io.nowconnect.hub.auth.ConnectorScope;
import io.nowconnect.hub.auth.TokenLifetime;
import io.nowconnect.log.Event;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.protocol.ProtocolException;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.stream.Stream;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamRefusedException;
import io.nowconnect.stream.StreamSettings;
import io.nowconnect.stream.StreamTable;
import io.nowconnect.stream.WireStats;
import io.nowconnect.ws.WsProtocolException;
import io.nowconnect.ws.WsReader;
import io.nowconnect.ws.WsWriter;

/**
 * The hub's end of one agent tunnel, the Helidon server connection that {@link TunnelUpgrader} hands the upgraded
 * socket to: answers HELLO, carries the streams that {@link ConnectorListener}s open on it, pings the agent and ends at
 * once when the connection does.
 *
 * <p>Capabilities: the ack names {@code drain} and {@code bin1} when the agent offered them. With {@code bin1} DATA
 * goes out as binary messages, WINDOW frames take the urgent lane, binary messages from the agent are decoded
 * (malformed ones dropped and counted) and every stream is flow controlled; without it binary messages are dropped as
 * in v1.
 *
 * <p>Threads: Helidon's connection thread runs {@link #handle} and is the reader (frames through {@link WsReader});
 * when it returns, the tunnel has ended. Every write goes through a {@link WsWriter}, whose one writer thread owns the
 * socket's output, so the reader never waits on a write (RST, pong and the ack take the urgent lane). A maintenance
 * virtual thread pings and sweeps idle streams.
 */
final class AgentTunnel implements ServerConnection {
    private static final Logger LOGGER = Logger.getLogger(AgentTunnel.class.getName());
    private static final Pattern CONNECTOR = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");
    private static final List<String> HUB_CAPS = List.of(Capability.DRAIN, Capability.BIN1);
    private static final int MAX_CONNECTORS = 256;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(2);

    /**
     * What every tunnel of a hub shares.
     *
     * @param agents registry of ready tunnels
     * @param metrics hub meters
     * @param budget stream limit ({@code NC_HUB_MAX_CONNECTIONS})
     * @param streams stream limits
     * @param pingInterval ping interval
     * @param pingTimeout pong and HELLO deadline
     * @param maxMessage largest message accepted (fragments included)
     * @param drainTimeout how long open streams may finish once the token expired ({@code NC_HUB_DRAIN_TIMEOUT_SEC})
     */
    record Context(AgentRegistry agents, HubMetrics metrics, StreamBudget budget, StreamSettings streams,
                   Duration pingInterval, Duration pingTimeout, int maxMessage, Duration drainTimeout) {
    }

    private final Context ctx;
    private final Claims claims;
    /** Token expiry on the live tunnel (issue 15): no new streams after exp, closed once its streams end. */
    private final TokenLifetime lifetime;
    private final DataReader in;
    private final WsWriter writer;
    private final AtomicBoolean ended = new AtomicBoolean();
    private final StreamTable table;
    private final WireStats stats = WireStats.of(Direction.C2A);

    private volatile boolean helloDone;
    private volatile Set<String> connectors = Set.of();
    private volatile List<String> caps = List.of();
    /** Whether {@code bin1} was agreed: DATA and WINDOW go as binary messages, streams are flow controlled. */
    private volatile boolean bin1;
    private volatile boolean draining;
    private volatile long pingPayload;
    private volatile long pingSentAtNanos;
    private volatile long lastReceivedNanos = System.nanoTime();
    private volatile boolean pingOutstanding;
    private volatile Thread maintenance;
    private volatile Thread reader;

    /**
     * A tunnel on a connection just upgraded for an authenticated agent; starts its writer thread.
     *
     * @param ctx what the hub's tunnels share
     * @param claims the verified token's claims
     * @param in the connection's reader
     * @param out the connection's writer
     */
    AgentTunnel(Context ctx, Claims claims, DataReader in, DataWriter out) {
        this.ctx = ctx;
        this.claims = claims;
        this.lifetime = TokenLifetime.of(claims, ctx.drainTimeout());
        this.in = in;
        this.writer = WsWriter.server(out, "nc-hub-writer");
        this.table = StreamTable.create(ctx.streams(), this::send, Direction.C2A, ctx.metrics(), ctx.budget());
    }

    @Override
    public void handle(Limit limit) {
        reader = Thread.currentThread();
        maintenance = Thread.ofVirtual().name("nc-hub-maintenance").start(this::maintain);
        Event.of("agent_upgraded").with("agent_id", claims.agentId()).with("jti", claims.jti().orElse(null))
                .log(LOGGER, Level.FINE, "Agent WebSocket open, waiting for HELLO");
        String reason = "connection closed";
        try {
            reason = readLoop();
        } catch (RuntimeException e) {
            // the socket failed, or kill() interrupted the read
            reason = ended.get() ? "ended" : "connection lost: " + e.getClass().getSimpleName();
        } finally {
            end(reason);
        }
    }

    @Override
    public Duration idleTime() {
        return Duration.ofNanos(System.nanoTime() - lastReceivedNanos);
    }

    /**
     * Helidon closes the connection (the hub stops, or it was idle too long): say so to the agent, then end.
     *
     * @param interrupt whether to interrupt the reader even while it handles a frame
     */
    @Override
    public void close(boolean interrupt) {
        if (!ended.get()) {
            try {
                writer.close(WsCloseCodes.GOING_AWAY, "hub stopping");
                writer.awaitClosed(Duration.ofMillis(500));
            } catch (RuntimeException ignored) {
                // going away anyway
            }
        }
        kill("hub stopping");
    }

    private String readLoop() {
        WsReader frames = WsReader.server(in, ctx.maxMessage());
        while (!ended.get()) {
            WsReader.Event event;
            try {
                event = frames.next();
            } catch (WsProtocolException e) {
                ctx.metrics().dropped(e.closeCode() == WsProtocolException.MESSAGE_TOO_BIG ? "oversized" : "bad_frame");
                Event.of("protocol_violation").with("agent_id", agentId()).with("reason", e.getMessage())
                        .log(LOGGER, Level.WARNING, "Agent broke the WebSocket protocol (" + e.getMessage() + "): closing");
                closeAndWait(e.closeCode(), e.closeCode() == WsProtocolException.MESSAGE_TOO_BIG
                        ? "message too big" : "protocol error");
                return e.getMessage();
            }
            if (event == null) {
                return "connection closed";
            }
            lastReceivedNanos = System.nanoTime();
            switch (event) {
            case WsReader.Message m when m.binary() -> onBinary(m.payload());
            case WsReader.Message m -> onText(m.text());
            case WsReader.Ping p -> {
                try {
                    writer.pong(p.payload());
                } catch (RuntimeException e) {
                    return "pong failed";
                }
            }
            case WsReader.Pong p -> onPong(p.payload());
            case WsReader.Close c -> {
                // RFC 6455 5.5.1: answer with a close, then the connection ends
                closeAndWait(c.code() == WsProtocolException.NO_STATUS ? WsCloseCodes.NORMAL_CLOSE : c.code(), "bye");
                return "closed by agent (" + c.code() + ")";
            }
            }
        }
        return "ended";
    }

    private void onText(String message) {
        Frame frame;
        try {
            frame = JsonCodec.decode(message);
        } catch (ProtocolException e) {
            ctx.metrics().dropped(e.reason());
            Event.of("frame_malformed").with("agent_id", claims.agentId()).with("reason", e.reason())
                    .log(LOGGER, Level.FINE, "Dropped malformed frame: " + e.getMessage());
            return;
        }
        onFrame(frame);
    }

    private void onBinary(byte[] message) {
        if (!helloDone || !bin1) {
            // v1: binary messages mean nothing
            ctx.metrics().dropped("binary_frame");
            return;
        }
        Frame frame;
        try {
            frame = BinaryCodec.decode(message);
        } catch (ProtocolException e) {
            ctx.metrics().dropped(e.reason());
            Event.of("frame_malformed").with("agent_id", claims.agentId()).with("reason", e.reason())
                    .log(LOGGER, Level.FINE, "Dropped malformed binary frame: " + e.getMessage());
            return;
        }
        stats.received(true, frame instanceof Frame.Window);
        table.dispatch(frame);
    }

    private void onPong(byte[] payload) {
        if (payload.length == 8 && ByteBuffer.wrap(payload).getLong() == pingPayload) {
            pingOutstanding = false;
        }
    }

    boolean exports(String connector) {
        // issue 15: a tunnel whose token expired gets no new streams
        return helloDone && !ended.get() && connectors.contains(connector) && !lifetime.expired();
    }

    boolean draining() {
        return draining;
    }

    int activeStreams() {
        return table.size();
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
            stream = table.register(cid, connector);
        } catch (StreamRefusedException e) {
            Event.of("stream_refused").with("connector", connector).with("reason", e.reason().wire())
                    .log(LOGGER, Level.WARNING, "Client connection refused: " + e.reason().wire());
            ctx.metrics().refused(connector, e.reason().wire());
            return false;
        }
        try {
            send(new Frame.Open(cid, connector), false);
        } catch (IOException e) {
            stream.reset(ResetReason.WS_BROKEN);
            return false;
        }
        Event.of("stream_open").with("cid", cid).with("connector", connector).with("agent_id", agentId())
                .log(LOGGER, Level.FINE, "Client connection is a new stream");
        stream.start(client);
        return true;
    }

    private void onFrame(Frame frame) {
        if (!helloDone) {
            if (frame instanceof Frame.Hello hello) {
                onHello(hello);
            } else {
                ctx.metrics().dropped("before_hello");
                Event.of("protocol_violation").with("agent_id", agentId()).with("reason", "before_hello")
                        .log(LOGGER, Level.WARNING, frame.type().wire() + " before HELLO: closing the tunnel");
                closeTunnel(WsCloseCodes.VIOLATED_POLICY, "HELLO expected");
            }
            return;
        }
        switch (frame) {
        case Frame.Data d -> {
            stats.received(false, false);
            table.dispatch(d);
        }
        case Frame.Fin f -> table.dispatch(f);
        case Frame.Rst r -> table.dispatch(r);
        case Frame.Drain ignored -> {
            draining = true;
            Event.of("agent_draining").with("agent_id", agentId()).with("streams", table.size())
                    .log(LOGGER, Level.INFO, "Agent tunnel draining: no new streams");
        }
        case Frame.Hello ignored -> {
            ctx.metrics().dropped("duplicate_hello");
            Event.of("frame_unexpected").with("agent_id", agentId()).with("reason", "duplicate_hello")
                    .log(LOGGER, Level.WARNING, "Second HELLO ignored");
        }
        default -> {
            ctx.metrics().dropped("unexpected_frame");
            Event.of("frame_unexpected").with("agent_id", agentId()).with("type", frame.type().wire())
                    .log(LOGGER, Level.FINE, "Dropped unexpected " + frame.type().wire() + " frame from agent");
        }
        }
    }

    private void onHello(Frame.Hello hello) {
        if (!hello.agentId().equals(claims.agentId())) {
            ctx.metrics().authFailure("agent_id_mismatch");
            Event.of("auth_failed").with("agent_id", claims.agentId()).with("reason", "agent_id_mismatch")
                    .log(LOGGER, Level.WARNING, "HELLO agent_id differs from the token's agent_id claim: closing");
            closeTunnel(WsCloseCodes.VIOLATED_POLICY, "agent_id mismatch");
            return;
        }
        List<String> names = new ArrayList<>();
        for (String c : hello.connectors()) {
            if (CONNECTOR.matcher(c).matches() && names.size() < MAX_CONNECTORS) {
                names.add(c);
            }
        }
        // issue 15, connector scopes: serve only the connectors the token's `connectors` claim allows; each refused
        // one is logged (connector_not_allowed) and counted there; a HELLO with none left is closed with 1008
        ConnectorScope.Result scoped = ConnectorScope.of(claims).apply(names, ctx.metrics()::authFailure);
        if (scoped.noneLeft()) {
            closeTunnel(WsCloseCodes.VIOLATED_POLICY, "no connector allowed");
            return;
        }
        names = new ArrayList<>(scoped.served());
        List<String> agreed = new ArrayList<>(HUB_CAPS);
        if (ctx.maxMessage() < BinaryCodec.MAX_MESSAGE) {
            // NC_HUB_MAX_FRAME_BYTES below a full bin1 DATA frame: stay with JSON DATA
            agreed.remove(Capability.BIN1);
        }
        agreed.retainAll(hello.caps());
        caps = List.copyOf(agreed);
        if (caps.contains(Capability.BIN1)) {
            // before this tunnel can carry its first stream
            table.enableFlowControl(BinaryCodec.INITIAL_WINDOW);
            bin1 = true;
        }
        connectors = Set.copyOf(names);
        try {
            send(new Frame.HelloAck(caps, -1), true);
        } catch (IOException e) {
            end("ack could not be sent");
            return;
        }
        helloDone = true;
        ctx.agents().add(this);
        Event.of("agent_connected").with("agent_id", agentId()).with("connectors", String.join(",", names))
                .with("ver", hello.version()).with("caps", String.join(",", caps))
                .log(LOGGER, Level.INFO, "Agent connected");
    }

    private void maintain() {
        long start = System.nanoTime();
        long lastPing = start;
        long lastSweep = start;
        long tick = Math.max(20, Math.min(250, ctx.pingInterval().toMillis() / 4));
        try {
            while (!ended.get()) {
                Thread.sleep(tick);
                long now = System.nanoTime();
                if (!helloDone && now - start > ctx.pingTimeout().toNanos()) {
                    Event.of("hello_timeout").with("agent_id", agentId())
                            .log(LOGGER, Level.WARNING, "No HELLO in time: closing");
                    kill("hello timeout");
                    return;
                }
                // any frame from the agent proves it alive: a pong queued behind bulk data must not kill a busy tunnel
                if (pingOutstanding && now - Math.max(pingSentAtNanos, lastReceivedNanos) > ctx.pingTimeout().toNanos()) {
                    Event.of("ping_timeout").with("agent_id", agentId())
                            .log(LOGGER, Level.WARNING, "No pong from agent in time: closing");
                    kill("ping timeout");
                    return;
                }
                if (!pingOutstanding && now - lastPing >= ctx.pingInterval().toNanos()) {
                    lastPing = now;
                    long id = RANDOM.nextLong();
                    pingPayload = id;
                    pingSentAtNanos = now;
                    pingOutstanding = true;
                    writer.ping(ByteBuffer.allocate(8).putLong(id).array());
                }
                if (now - lastSweep >= 1_000_000_000L) {
                    lastSweep = now;
                    table.sweepIdle();
                    // issue 15: token expired -> close once the open streams ended (or the drain timeout is over)
                    if (helloDone && lifetime.closeNow(table.size())) {
                        closeTunnel(WsCloseCodes.VIOLATED_POLICY, TokenLifetime.EXPIRED);
                        return;
                    }
                }
            }
        } catch (InterruptedException e) {
            // ended
        } catch (RuntimeException e) {
            kill("ping failed");
        }
    }

    private void send(Frame frame, boolean urgent) throws IOException {
        if (ended.get()) {
            throw new IOException("tunnel closed");
        }
        try {
            if (bin1 && frame instanceof Frame.Data d) {
                stats.sent(true, false);
                writer.binary(BinaryCodec.dataHeader(d), d.payload());
            } else if (frame instanceof Frame.Window) {
                // credit must never wait behind bulk DATA
                stats.sent(true, true);
                writer.urgentBinary(BinaryCodec.encode(frame));
            } else {
                if (frame instanceof Frame.Data) {
                    stats.sent(false, false);
                }
                String text = JsonCodec.encode(frame);
                if (urgent) {
                    writer.urgentText(text);
                } else {
                    writer.text(text);
                }
            }
        } catch (RuntimeException e) {
            throw new IOException("tunnel write failed", e);
        }
    }

    /** Queue a close frame after what is queued, and end the tunnel if the agent has not closed within the grace. */
    private void closeTunnel(int code, String reason) {
        try {
            writer.close(code, reason);
        } catch (RuntimeException ignored) {
            // already gone
        }
        // do not wait for a misbehaving agent to answer the close
        Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(CLOSE_GRACE.toMillis());
            } catch (InterruptedException ignored) {
                // fall through
            }
            kill(reason);
        });
    }

    /** Reader thread: queue a close frame and let it reach the wire before the connection is closed. */
    private void closeAndWait(int code, String reason) {
        try {
            writer.close(code, reason);
            writer.awaitClosed(CLOSE_GRACE);
        } catch (RuntimeException ignored) {
            // the socket is going away anyway
        }
    }

    /** End now: interrupting the reader makes Helidon close the socket once {@link #handle} returns. */
    private void kill(String reason) {
        end(reason);
        Thread r = reader;
        if (r != null && r != Thread.currentThread()) {
            r.interrupt();
        }
    }

    private void end(String reason) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        ctx.agents().remove(this);
        writer.stop();
        Thread m = maintenance;
        if (m != null) {
            m.interrupt();
        }
        int open = table.size();
        table.closeAll(ResetReason.WS_BROKEN.wire());
        ctx.metrics().tunnelEnded(helloDone ? "closed" : "before_hello");
        Event.of("agent_disconnected").with("agent_id", agentId()).with("reason", reason).with("streams", open)
                .log(LOGGER, helloDone ? Level.INFO : Level.FINE, "Agent tunnel ended: " + reason);
    }
}
