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

import io.helidon.common.buffers.BufferData;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.http.RequestException;
import io.helidon.http.Status;
import io.helidon.webserver.websocket.WsConnection;
import io.helidon.websocket.WsCloseCodes;
import io.helidon.websocket.WsListener;
import io.helidon.websocket.WsSession;

import io.nowconnect.hub.auth.AuthException;
import io.nowconnect.hub.auth.Claims;
import io.nowconnect.hub.auth.TokenVerifier;
import io.nowconnect.log.Event;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.protocol.ProtocolException;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.stream.Outbox;
import io.nowconnect.stream.Stream;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamRefusedException;
import io.nowconnect.stream.StreamSettings;
import io.nowconnect.stream.StreamTable;
import io.nowconnect.stream.WireStats;

/**
 * The hub's end of one agent tunnel: authenticates the upgrade, answers HELLO, carries the streams that
 * {@link ConnectorListener}s open on it, pings the agent and notices at once when the connection ends.
 *
 * <p>Capabilities: the ack names {@code drain} and {@code bin1} when the agent offered them. With {@code bin1} the
 * writer sends DATA as binary messages through {@code session.send(BufferData, true)}, WINDOW frames take the urgent
 * lane, binary messages from the agent are reassembled and decoded (malformed ones dropped and counted), and every
 * stream is flow controlled; without it binary messages are dropped as in v1.
 *
 * <p>Threads: Helidon calls the listener methods on the connection's virtual thread (the reader). Every write goes
 * through an {@link Outbox} whose single writer thread calls the session, because Helidon's server session is not safe
 * for concurrent sends, and so the reader never waits on a write (RST, pong and the ack take the urgent lane). A
 * maintenance virtual thread pings and sweeps idle streams. A watcher virtual thread joins the connection's thread:
 * Helidon 4.2.0 gives no callback when the TCP connection just ends, but that thread does end.
 */
final class AgentTunnel implements WsListener {
    private static final Logger LOGGER = Logger.getLogger(AgentTunnel.class.getName());
    private static final Pattern CONNECTOR = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");
    private static final List<String> HUB_CAPS = List.of(Capability.DRAIN, Capability.BIN1);
    private static final int MAX_CONNECTORS = 256;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int PING = 0x9;
    private static final int PONG = 0xA;
    private static final int CLOSE = 0x8;

    /**
     * What every tunnel of a hub shares.
     *
     * @param verifier JWT verification
     * @param agents registry of ready tunnels
     * @param metrics hub meters
     * @param budget stream limit ({@code NC_HUB_MAX_CONNECTIONS})
     * @param streams stream limits
     * @param pingInterval ping interval
     * @param pingTimeout pong and HELLO deadline
     * @param maxMessage largest text message accepted (fragments included)
     */
    record Context(TokenVerifier verifier, AgentRegistry agents, HubMetrics metrics, StreamBudget budget,
                   StreamSettings streams, Duration pingInterval, Duration pingTimeout, int maxMessage) {
    }

    private final Context ctx;
    private final AtomicBoolean ended = new AtomicBoolean();
    private final StreamTable table;
    private final StringBuilder fragments = new StringBuilder();
    /** Fragments of a binary message (reader thread only). */
    private java.io.ByteArrayOutputStream binaryFragments;
    private final WireStats stats = WireStats.of(Direction.C2A);

    private volatile Claims claims;
    private volatile WsSession session;
    private volatile boolean helloDone;
    private volatile Set<String> connectors = Set.of();
    private volatile List<String> caps = List.of();
    /** Whether {@code bin1} was agreed: DATA and WINDOW go as binary messages, streams are flow controlled. */
    private volatile boolean bin1;
    private volatile boolean draining;
    private volatile long pingPayload;
    private volatile long pingSentAtNanos;
    private volatile long lastReceivedNanos;
    private volatile boolean pingOutstanding;
    private volatile Thread maintenance;
    private volatile Outbox<Out> outbox;

    /** What the writer thread sends through Helidon's session. */
    private sealed interface Out {
        int size();
    }

    private record Text(String text) implements Out {
        public int size() {
            return text.length();
        }
    }

    /** A binary message: header then payload, sent as one frame without joining them first. */
    private record Binary(byte[] header, byte[] payload) implements Out {
        public int size() {
            return header.length + (payload == null ? 0 : payload.length);
        }
    }

    private record Control(int opCode, byte[] payload, int code, String reason) implements Out {
        public int size() {
            return 16;
        }
    }

    AgentTunnel(Context ctx) {
        this.ctx = ctx;
        this.table = StreamTable.create(ctx.streams(), this::send, Direction.C2A, ctx.metrics(), ctx.budget());
    }

    @Override
    public Optional<Headers> onHttpUpgrade(HttpPrologue prologue, Headers headers) {
        Optional<String> token = headers.first(HeaderNames.AUTHORIZATION).flatMap(TokenVerifier::bearer);
        try {
            if (token.isEmpty()) {
                throw AuthException.unauthorized("missing_token", "no bearer token");
            }
            claims = ctx.verifier().verify(token.get());
            return Optional.empty();
        } catch (AuthException e) {
            ctx.metrics().authFailure(e.reason());
            Event.of("auth_failed").with("reason", e.reason())
                    .log(LOGGER, Level.WARNING, "Agent refused at upgrade: " + e.getMessage());
            throw RequestException.builder()
                    .type(DirectHandler.EventType.OTHER)
                    .status(e.status() == 403 ? Status.FORBIDDEN_403 : Status.UNAUTHORIZED_401)
                    .header(HeaderValues.create(HeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"nowconnect\""))
                    .message(e.status() == 403 ? "Forbidden" : "Unauthorized")
                    .safeMessage(true)
                    .build();
        }
    }

    @Override
    public void onOpen(WsSession session) {
        this.session = session;
        this.outbox = Outbox.create("nc-hub-writer", 256, this::write, Out::size);
        Thread connectionThread = Thread.currentThread();
        Thread.ofVirtual().name("nc-hub-watch").start(() -> {
            try {
                connectionThread.join();
            } catch (InterruptedException ignored) {
                // hub stopping
            }
            end("connection closed");
        });
        maintenance = Thread.ofVirtual().name("nc-hub-maintenance").start(this::maintain);
        Event.of("agent_upgraded").with("agent_id", claims.agentId()).with("jti", claims.jti().orElse(null))
                .log(LOGGER, Level.FINE, "Agent WebSocket open, waiting for HELLO");
    }

    @Override
    public void onMessage(WsSession session, String text, boolean last) {
        lastReceivedNanos = System.nanoTime();
        if (fragments.length() + text.length() > ctx.maxMessage()) {
            fragments.setLength(0);
            ctx.metrics().dropped("oversized");
            closeTunnel(WsCloseCodes.TOO_BIG, "message too big");
            return;
        }
        if (!last) {
            fragments.append(text);
            return;
        }
        String message = text;
        if (!fragments.isEmpty()) {
            message = fragments.append(text).toString();
            fragments.setLength(0);
        }
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

    @Override
    public void onMessage(WsSession session, BufferData buffer, boolean last) {
        lastReceivedNanos = System.nanoTime();
        int size = buffer.available();
        java.io.ByteArrayOutputStream parts = binaryFragments;
        if ((parts == null ? 0 : parts.size()) + size > ctx.maxMessage()) {
            binaryFragments = null;
            ctx.metrics().dropped("oversized");
            closeTunnel(WsCloseCodes.TOO_BIG, "message too big");
            return;
        }
        if (!last || parts != null) {
            if (parts == null) {
                parts = new java.io.ByteArrayOutputStream(Math.max(64, size * 2));
                binaryFragments = parts;
            }
            parts.writeBytes(buffer.readBytes());
            if (!last) {
                return;
            }
            binaryFragments = null;
        }
        if (!helloDone || !bin1) {
            // v1: binary messages mean nothing
            ctx.metrics().dropped("binary_frame");
            return;
        }
        Frame frame;
        try {
            frame = BinaryCodec.decode(parts != null ? parts.toByteArray() : buffer.readBytes());
        } catch (ProtocolException e) {
            ctx.metrics().dropped(e.reason());
            Event.of("frame_malformed").with("agent_id", claims.agentId()).with("reason", e.reason())
                    .log(LOGGER, Level.FINE, "Dropped malformed binary frame: " + e.getMessage());
            return;
        }
        stats.received(true, frame instanceof Frame.Window);
        table.dispatch(frame);
    }

    @Override
    public void onPing(WsSession session, BufferData buffer) {
        try {
            outbox.urgent(new Control(PONG, buffer.readBytes(), 0, null));
        } catch (RuntimeException e) {
            end("pong failed");
        }
    }

    @Override
    public void onPong(WsSession session, BufferData buffer) {
        if (buffer.available() == 8 && ByteBuffer.wrap(buffer.readBytes()).getLong() == pingPayload) {
            pingOutstanding = false;
        }
    }

    @Override
    public void onClose(WsSession session, int status, String reason) {
        end("closed by agent (" + status + ")");
    }

    @Override
    public void onError(WsSession session, Throwable t) {
        end("error: " + t.getClass().getSimpleName());
    }

    boolean exports(String connector) {
        return helloDone && !ended.get() && connectors.contains(connector);
    }

    boolean draining() {
        return draining;
    }

    int activeStreams() {
        return table.size();
    }

    String agentId() {
        return claims == null ? "" : claims.agentId();
    }

    Optional<String> jti() {
        return claims == null ? Optional.empty() : claims.jti();
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
        List<String> agreed = new ArrayList<>(HUB_CAPS);
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
                    outbox.urgent(new Control(PING, ByteBuffer.allocate(8).putLong(id).array(), 0, null));
                }
                if (now - lastSweep >= 1_000_000_000L) {
                    lastSweep = now;
                    table.sweepIdle();
                }
            }
        } catch (InterruptedException e) {
            // ended
        } catch (RuntimeException e) {
            kill("ping failed");
        }
    }

    private void send(Frame frame, boolean urgent) throws IOException {
        Outbox<Out> o = outbox;
        if (o == null || ended.get()) {
            throw new IOException("tunnel closed");
        }
        Out out;
        if (bin1 && frame instanceof Frame.Data d) {
            out = new Binary(BinaryCodec.dataHeader(d), d.payload());
            stats.sent(true, false);
        } else if (frame instanceof Frame.Window) {
            out = new Binary(BinaryCodec.encode(frame), null);
            // credit must never wait behind bulk DATA
            urgent = true;
            stats.sent(true, true);
        } else {
            out = new Text(JsonCodec.encode(frame));
            if (frame instanceof Frame.Data) {
                stats.sent(false, false);
            }
        }
        try {
            if (urgent) {
                o.urgent(out);
            } else {
                o.ordered(out);
            }
        } catch (RuntimeException e) {
            throw new IOException("tunnel write failed", e);
        }
    }

    /** Writer thread only: Helidon's session is not safe for concurrent use. */
    private void write(List<Out> batch) {
        WsSession s = session;
        for (Out out : batch) {
            switch (out) {
            case Text t -> s.send(t.text(), true);
            case Binary b -> s.send(b.payload() == null
                                            ? BufferData.create(b.header())
                                            : BufferData.create(BufferData.create(b.header()),
                                                                BufferData.create(b.payload())), true);
            case Control c when c.opCode() == PING -> s.ping(BufferData.create(c.payload()));
            case Control c when c.opCode() == PONG -> s.pong(BufferData.create(c.payload()));
            case Control c -> s.close(c.code(), c.reason());
            }
        }
    }

    private void closeTunnel(int code, String reason) {
        try {
            outbox.last(new Control(CLOSE, null, code, reason));
        } catch (RuntimeException ignored) {
            // already gone
        }
        // do not wait for a misbehaving agent to answer the close
        Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(2000);
            } catch (InterruptedException ignored) {
                // fall through
            }
            kill(reason);
        });
    }

    private void kill(String reason) {
        WsSession s = session;
        if (s instanceof WsConnection c) {
            c.close(true);
        }
        end(reason);
    }

    private void end(String reason) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        ctx.agents().remove(this);
        Outbox<Out> o = outbox;
        if (o != null) {
            o.stop();
        }
        Thread m = maintenance;
        if (m != null) {
            m.interrupt();
        }
        int open = table.size();
        table.closeAll(ResetReason.WS_BROKEN.wire());
        ctx.metrics().tunnelEnded(helloDone ? "closed" : "before_hello");
        if (claims != null) {
            Event.of("agent_disconnected").with("agent_id", agentId()).with("reason", reason).with("streams", open)
                    .log(LOGGER, helloDone ? Level.INFO : Level.FINE, "Agent tunnel ended: " + reason);
        }
    }
}
