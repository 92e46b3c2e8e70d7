package io.nowconnect.tunnel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.http.ClientResponseHeaders;
import io.helidon.http.HeaderNames;
import io.helidon.webclient.api.ClientConnection;
import io.helidon.webclient.api.HttpClientResponse;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.UpgradeResponse;
import io.helidon.websocket.WsCloseCodes;

import io.nowconnect.config.Target;
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
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.StreamRefusedException;
import io.nowconnect.stream.StreamSettings;
import io.nowconnect.stream.StreamTable;
import io.nowconnect.ws.Handshake;
import io.nowconnect.ws.WsProtocolException;
import io.nowconnect.ws.WsReader;
import io.nowconnect.ws.WsWriter;

/**
 * One tunnel to the hub: {@link #run()} connects, says HELLO, serves streams and returns why the tunnel ended. It
 * never sleeps or retries; the {@link Supervisor} decides what comes next.
 *
 * <p>Helidon's HTTP/1 client performs the upgrade (TLS, host name verification, connect timeout); the WebSocket frames
 * are then read by {@link WsReader} on the thread that called {@link #run()} and written through {@link WsWriter}
 * (package {@code io.nowconnect.ws} says why). The read timeout is set to zero after the upgrade: liveness comes from our own
 * pings, so an idle tunnel is never silently dropped by a socket timeout.
 *
 * <p>Capabilities: HELLO offers {@code drain} and {@code bin1}; only what the ack names is used. With {@code bin1}
 * DATA goes out as binary messages ({@link BinaryCodec}), WINDOW frames return credit on the urgent lane, binary
 * messages from the hub are decoded (malformed ones dropped and counted) and every stream is flow controlled;
 * without it the tunnel is plain v1 and binary messages are dropped.
 *
 * <p>Threads: the caller of {@link #run()} is the reader and dispatches frames; a maintenance virtual thread sends
 * pings, checks pong and HELLO deadlines, sweeps idle streams and finishes a drain; stream threads send through the
 * writer. {@link #drain}, {@link #close} and {@link #kill} may be called from any thread.
 */
final class TunnelConnection implements Tunnel {
    private static final Logger LOGGER = Logger.getLogger(TunnelConnection.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();
    /**
     * System property that turns {@code bin1} off in the agent's HELLO ({@code -Dnowconnect.bin1=false}): the agent then
     * speaks plain v1 JSON DATA even to a hub that supports binary frames (benchmarks, troubleshooting).
     */
    static final String BIN1_PROPERTY = "nowconnect.bin1";
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(2);

    private final Settings settings;
    private final Http1Client client;
    private final TokenSource tokens;
    private final TunnelStatus status;
    private final StreamTable table;
    private final AtomicReference<EndReason> endReason = new AtomicReference<>();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final CountDownLatch readyLatch = new CountDownLatch(1);

    private volatile ClientConnection connection;
    private volatile WsWriter writer;
    private volatile boolean ready;
    private volatile long readyAtNanos;
    private volatile List<String> caps = List.of();
    /** Whether {@code bin1} was agreed: DATA and WINDOW go as binary messages, streams are flow controlled. */
    private volatile boolean bin1;
    private final List<String> ourCaps;
    private final io.nowconnect.stream.WireStats stats = io.nowconnect.stream.WireStats.of(Direction.A2C);
    private volatile boolean draining;
    private volatile boolean refuseOpens;
    private volatile long drainDeadlineNanos;
    private volatile long closeSentAtNanos;
    private volatile long pingSentAtNanos;
    private volatile long lastReceivedNanos;
    private volatile long pingPayload;
    private volatile boolean pingOutstanding;
    private volatile String endDetail;

    /**
     * What one connection needs to know.
     *
     * @param url hub URL (ws or wss)
     * @param agentId agent id for HELLO
     * @param version project version for HELLO
     * @param connectors exported connectors and their targets
     * @param streams stream limits
     * @param pingInterval ping interval
     * @param pingTimeout pong deadline, also the HELLO_ACK deadline
     * @param maxMessage largest WebSocket message accepted from the hub
     */
    record Settings(URI url, String agentId, String version, Map<String, Target> connectors, StreamSettings streams,
                    Duration pingInterval, Duration pingTimeout, int maxMessage) {
    }

    /** Told when the hub acknowledged HELLO (on the tunnel's reader thread; must not block). */
    @FunctionalInterface
    interface ReadyListener {
        void ready(TunnelConnection connection);
    }

    private final ReadyListener readyListener;
    private volatile String tokenFingerprint;
    private volatile Optional<TokenSource.Lifetime> tokenLifetime = Optional.empty();
    private volatile EndReason drainReason = EndReason.DRAINED;

    TunnelConnection(Settings settings, Http1Client client, TokenSource tokens, TunnelStatus status, StreamBudget budget,
                     StreamObserver observer) {
        this(settings, client, tokens, status, budget, observer, c -> { });
    }

    TunnelConnection(Settings settings, Http1Client client, TokenSource tokens, TunnelStatus status, StreamBudget budget,
                     StreamObserver observer, ReadyListener readyListener) {
        this.readyListener = readyListener;
        this.ourCaps = Boolean.parseBoolean(System.getProperty(BIN1_PROPERTY, "true"))
                ? List.of(Capability.DRAIN, Capability.BIN1)
                : List.of(Capability.DRAIN);
        this.settings = settings;
        this.client = client;
        this.tokens = tokens;
        this.status = status;
        this.table = StreamTable.create(settings.streams(), this::send, Direction.A2C, observer, budget);
    }

    /**
     * Connect and serve until the tunnel ends. Blocking; call on a virtual thread.
     *
     * @return why it ended
     */
    @Override
    public TunnelEnd run() {
        try {
            return runOnce();
        } finally {
            ended.countDown();
        }
    }

    /**
     * Whether the hub acknowledged HELLO.
     *
     * @return true once ready
     */
    @Override
    public boolean isReady() {
        return ready;
    }

    /**
     * Wait for the hub's ack.
     *
     * @param timeout how long
     * @return whether it became ready
     * @throws InterruptedException when interrupted
     */
    boolean awaitReady(Duration timeout) throws InterruptedException {
        return readyLatch.await(timeout.toMillis(), TimeUnit.MILLISECONDS) && ready;
    }

    /**
     * Wait until {@link #run()} returned.
     *
     * @param timeout how long
     * @return whether it ended in time
     * @throws InterruptedException when interrupted
     */
    boolean awaitEnd(Duration timeout) throws InterruptedException {
        return ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Streams open on this tunnel.
     *
     * @return count
     */
    @Override
    public int activeStreams() {
        return table.size();
    }

    /**
     * Capabilities both sides named.
     *
     * @return negotiated capabilities
     */
    List<String> capabilities() {
        return caps;
    }

    /**
     * Fingerprint of the token this tunnel authenticated with ({@link TokenSource#fingerprint}), null without one.
     *
     * @return fingerprint
     */
    @Override
    public String tokenFingerprint() {
        return tokenFingerprint;
    }

    /**
     * Lifetime of the token this tunnel authenticated with, when it is a JWT with {@code exp}.
     *
     * @return lifetime
     */
    @Override
    public Optional<TokenSource.Lifetime> tokenLifetime() {
        return tokenLifetime;
    }

    /**
     * Stop taking new streams here and close once the open ones end (or the timeout passes). Sends DRAIN when the hub
     * acknowledged the capability.
     *
     * @param timeout longest time open streams may go on
     * @param refuse whether OPENs that still arrive are refused (shutdown) or served (graceful reconnect)
     */
    void drain(Duration timeout, boolean refuse) {
        drain(timeout, refuse, EndReason.DRAINED);
    }

    /**
     * Drain, ending with the given reason.
     *
     * @param timeout longest time open streams may go on
     * @param refuse whether OPENs that still arrive are refused
     * @param reason end reason once drained ({@link EndReason#DRAINED} or {@link EndReason#ROTATED})
     */
    @Override
    public void drain(Duration timeout, boolean refuse, EndReason reason) {
        drainReason = reason;
        refuseOpens = refuse;
        drainDeadlineNanos = System.nanoTime() + timeout.toNanos();
        if (draining) {
            return;
        }
        draining = true;
        if (ready && caps.contains(Capability.DRAIN)) {
            try {
                send(new Frame.Drain(), true);
            } catch (IOException e) {
                kill(EndReason.IO_ERROR, "DRAIN could not be sent");
                return;
            }
        }
        Event.of("draining").with("agent_id", settings.agentId()).with("streams", table.size())
                .log(LOGGER, Level.INFO, "Tunnel draining: no new streams, " + table.size() + " open");
    }

    /**
     * Close with a normal WebSocket close; the socket is dropped if the hub does not answer within a short grace.
     *
     * @param reason why
     * @param detail detail for the log
     */
    void close(EndReason reason, String detail) {
        endReason.compareAndSet(null, reason);
        endDetail = endDetail == null ? detail : endDetail;
        WsWriter w = writer;
        if (w == null) {
            kill(reason, detail);
            return;
        }
        closeSentAtNanos = System.nanoTime();
        try {
            w.close(WsCloseCodes.NORMAL_CLOSE, reason.label());
        } catch (RuntimeException e) {
            kill(reason, detail);
        }
    }

    /**
     * End the tunnel at once by closing its socket.
     *
     * @param reason why
     * @param detail detail for the log
     */
    @Override
    public void kill(EndReason reason, String detail) {
        if (endReason.compareAndSet(null, reason)) {
            endDetail = detail;
        }
        ClientConnection c = connection;
        if (c != null) {
            c.closeResource();
        }
    }

    private TunnelEnd runOnce() {
        Optional<String> token;
        try {
            token = tokens.read();
        } catch (TokenSource.TokenException e) {
            return new TunnelEnd(EndReason.TOKEN_ERROR, e.getMessage(), Duration.ZERO);
        }
        tokenFingerprint = token.map(TokenSource::fingerprint).orElse(null);
        tokenLifetime = token.flatMap(TokenSource::lifetime);
        status.connecting();
        Event.of("connecting").with("agent_id", settings.agentId()).with("hub", hubForLogs())
                .log(LOGGER, Level.INFO, "Connecting to hub");

        Optional<TunnelEnd> failed = upgrade(token);
        if (failed.isPresent()) {
            return failed.get();
        }
        if (endReason.get() != null) {
            // killed (shutdown) while the upgrade was under way
            connection.closeResource();
            return new TunnelEnd(endReason.get(), endDetail == null ? endReason.get().label() : endDetail, Duration.ZERO);
        }
        Thread maintenance = Thread.ofVirtual().name("nc-tunnel-maintenance").start(this::maintain);
        try {
            send(new Frame.Hello(settings.agentId(), List.copyOf(settings.connectors().keySet()), settings.version(),
                                 ourCaps), true);
            readLoop();
        } catch (IOException | RuntimeException e) {
            endReason.compareAndSet(null, EndReason.IO_ERROR);
            if (endDetail == null) {
                endDetail = describe(e);
            }
        } finally {
            maintenance.interrupt();
            writer.stop();
            connection.closeResource();
            table.closeAll(ResetReason.WS_BROKEN.wire());
        }
        Duration readyFor = ready ? Duration.ofNanos(System.nanoTime() - readyAtNanos) : Duration.ZERO;
        EndReason reason = endReason.get();
        return new TunnelEnd(reason, endDetail == null ? reason.label() : endDetail, readyFor);
    }

    private Optional<TunnelEnd> upgrade(Optional<String> token) {
        URI url = settings.url();
        String scheme = "wss".equalsIgnoreCase(url.getScheme()) ? "https" : "http";
        URI httpUri = URI.create(scheme + url.toString().substring(url.getScheme().length()));
        String key = Handshake.newKey();
        UpgradeResponse upgrade;
        try {
            var request = client.get()
                    .uri(httpUri)
                    .header(HeaderNames.CONNECTION, "Upgrade")
                    .header(HeaderNames.UPGRADE, "websocket")
                    .header(HeaderNames.create("Sec-WebSocket-Key"), key)
                    .header(HeaderNames.create("Sec-WebSocket-Version"), "13");
            if (token.isPresent()) {
                request.header(HeaderNames.AUTHORIZATION, "Bearer " + token.get());
            }
            upgrade = request.upgrade("websocket");
        } catch (RuntimeException e) {
            return Optional.of(ConnectFailure.classify(e, client));
        }
        if (!upgrade.isUpgraded()) {
            try (HttpClientResponse response = upgrade.response()) {
                int code = response.status().code();
                if (code == 401 || code == 403) {
                    return Optional.of(new TunnelEnd(EndReason.AUTH_FAILED,
                                                     "hub refused the token (HTTP " + code + ")", Duration.ZERO));
                }
                return Optional.of(new TunnelEnd(EndReason.HANDSHAKE_FAILED,
                                                 "hub answered the upgrade with HTTP " + response.status(), Duration.ZERO));
            }
        }
        ClientConnection c = upgrade.connection();
        try (HttpClientResponse response = upgrade.response()) {
            ClientResponseHeaders headers = response.headers();
            String accept = headers.first(HeaderNames.create("Sec-WebSocket-Accept")).orElse("");
            if (!accept.equals(Handshake.accept(key))) {
                c.closeResource();
                return Optional.of(new TunnelEnd(EndReason.HANDSHAKE_FAILED, "hub sent a wrong Sec-WebSocket-Accept",
                                                 Duration.ZERO));
            }
        }
        // liveness is ours (pings); Helidon's 30 s default read timeout would silently kill an idle tunnel
        c.readTimeout(Duration.ZERO);
        connection = c;
        writer = WsWriter.client(c.writer(), "nc-tunnel-writer");
        return Optional.empty();
    }

    private void readLoop() {
        WsReader reader = WsReader.client(connection.reader(), settings.maxMessage());
        while (true) {
            WsReader.Event event;
            try {
                event = reader.next();
            } catch (WsProtocolException e) {
                endReason.compareAndSet(null, EndReason.PROTOCOL_ERROR);
                endDetail = endDetail == null ? "hub frame refused: " + e.getMessage() : endDetail;
                closeQuietly(e.closeCode(), e.closeCode() == WsProtocolException.MESSAGE_TOO_BIG
                        ? "message too big" : "protocol error");
                return;
            }
            if (event == null) {
                endReason.compareAndSet(null, EndReason.CLOSED);
                if (endDetail == null) {
                    endDetail = "hub closed the connection";
                }
                return;
            }
            lastReceivedNanos = System.nanoTime();
            switch (event) {
            case WsReader.Message m -> onMessage(m);
            case WsReader.Ping p -> {
                try {
                    writer.pong(p.payload());
                } catch (RuntimeException e) {
                    throw new UncheckedIOException(new IOException("pong failed", e));
                }
            }
            case WsReader.Pong p -> onPong(p.payload());
            case WsReader.Close c -> {
                endReason.compareAndSet(null, EndReason.CLOSED);
                if (endDetail == null) {
                    endDetail = "hub closed the tunnel (" + c.code() + (c.reason().isEmpty() ? "" : " " + clip(c.reason()))
                            + ")";
                }
                closeQuietly(c.code() == WsProtocolException.NO_STATUS ? WsCloseCodes.NORMAL_CLOSE : c.code(), "bye");
                return;
            }
            }
        }
    }

    private void onMessage(WsReader.Message message) {
        boolean binary = message.binary();
        if (binary && !bin1) {
            table.observer().dropped("binary_frame");
            return;
        }
        Frame frame;
        try {
            frame = binary ? BinaryCodec.decode(message.payload()) : JsonCodec.decode(message.text());
        } catch (ProtocolException e) {
            table.observer().dropped(e.reason());
            Event.of("frame_malformed").with("reason", e.reason())
                    .log(LOGGER, Level.FINE, "Dropped malformed frame: " + e.getMessage());
            return;
        }
        switch (frame) {
        case Frame.HelloAck ack -> onAck(ack);
        case Frame.Open open -> onOpen(open);
        case Frame.Data d -> {
            stats.received(binary, false);
            table.dispatch(d);
        }
        case Frame.Window w -> {
            stats.received(true, true);
            table.dispatch(w);
        }
        case Frame.Fin f -> table.dispatch(f);
        case Frame.Rst r -> table.dispatch(r);
        default -> {
            table.observer().dropped("unexpected_frame");
            Event.of("frame_unexpected").with("type", frame.type().wire())
                    .log(LOGGER, Level.FINE, "Dropped unexpected " + frame.type().wire() + " frame");
        }
        }
    }

    private void onAck(Frame.HelloAck ack) {
        if (ready) {
            table.observer().dropped("duplicate_ack");
            return;
        }
        List<String> agreed = new ArrayList<>(ourCaps);
        agreed.retainAll(ack.caps());
        caps = List.copyOf(agreed);
        if (caps.contains(Capability.BIN1)) {
            // before any OPEN can arrive: every stream of this tunnel is flow controlled
            table.enableFlowControl(BinaryCodec.INITIAL_WINDOW);
            bin1 = true;
        }
        readyAtNanos = System.nanoTime();
        ready = true;
        status.tunnelReady();
        readyLatch.countDown();
        readyListener.ready(this);
        Event.of("connected").with("agent_id", settings.agentId()).with("hub", hubForLogs())
                .with("caps", String.join(",", caps))
                .log(LOGGER, Level.INFO, "Tunnel ready (" + ack.type().wire() + ")");
        if (draining && caps.contains(Capability.DRAIN)) {
            try {
                send(new Frame.Drain(), true);
            } catch (IOException e) {
                kill(EndReason.IO_ERROR, "DRAIN could not be sent");
            }
        }
    }

    private void onOpen(Frame.Open open) {
        Target target = settings.connectors().get(open.connector());
        ResetReason refusal = null;
        if (target == null) {
            refusal = ResetReason.UNKNOWN_CONNECTOR;
        } else if (refuseOpens) {
            refusal = ResetReason.DRAINING;
        } else if (bin1 && !BinaryCodec.fits(open.cid())) {
            refusal = ResetReason.BAD_CID;
        }
        if (refusal == null) {
            try {
                Stream stream = table.register(open.cid(), open.connector());
                Event.of("stream_open").with("cid", open.cid()).with("connector", open.connector())
                        .log(LOGGER, Level.FINE, "OPEN: dialling " + target);
                Thread.ofVirtual().name("nc-dial-" + open.cid()).start(() -> stream.dial(target));
                return;
            } catch (StreamRefusedException e) {
                refusal = e.reason();
                if (refusal == ResetReason.DUPLICATE_CID) {
                    // the RST we answer names a live cid: the hub will take that stream for dead, so end it here too
                    // rather than keep a target connection that nobody will ever use
                    Optional<Stream> live = table.get(open.cid());
                    if (live.isPresent()) {
                        table.observer().refused(open.connector(), refusal.wire());
                        Event.of("stream_refused").with("cid", open.cid()).with("connector", clip(open.connector()))
                                .with("reason", refusal.wire()).log(LOGGER, Level.FINE, "Duplicate OPEN: resetting the stream");
                        live.get().reset(ResetReason.DUPLICATE_CID);
                        return;
                    }
                }
            }
        }
        // an unknown connector name is attacker-controlled: keep it out of metric labels
        table.observer().refused(target == null ? "unknown" : open.connector(), refusal.wire());
        Event.of("stream_refused").with("cid", open.cid()).with("connector", clip(open.connector()))
                .with("reason", refusal.wire()).log(LOGGER, Level.FINE, "OPEN refused");
        try {
            send(new Frame.Rst(open.cid(), refusal.wire()), true);
        } catch (IOException e) {
            kill(EndReason.IO_ERROR, "RST could not be sent");
        }
    }

    private void onPong(byte[] payload) {
        if (payload.length != 8 || !pingOutstanding) {
            return;
        }
        long id = ByteBuffer.wrap(payload).getLong();
        if (id == pingPayload) {
            pingOutstanding = false;
            status.pingRtt(System.nanoTime() - pingSentAtNanos);
        }
    }

    private void maintain() {
        long start = System.nanoTime();
        long lastPing = start;
        long lastSweep = start;
        long tick = Math.max(20, Math.min(250, settings.pingInterval().toMillis() / 4));
        try {
            while (endReason.get() == null || closeSentAtNanos != 0) {
                Thread.sleep(tick);
                long now = System.nanoTime();
                if (closeSentAtNanos != 0) {
                    if (now - closeSentAtNanos > CLOSE_GRACE.toNanos()) {
                        kill(endReason.get(), endDetail);
                        return;
                    }
                    continue;
                }
                if (!ready && now - start > settings.pingTimeout().toNanos()) {
                    kill(EndReason.HELLO_TIMEOUT, "no HELLO_ACK within " + settings.pingTimeout().toSeconds() + " s");
                    return;
                }
                // any frame from the hub proves it alive: a pong queued behind bulk data must not kill a busy tunnel
                if (pingOutstanding && now - Math.max(pingSentAtNanos, lastReceivedNanos) > settings.pingTimeout().toNanos()) {
                    kill(EndReason.PING_TIMEOUT, "no pong within " + settings.pingTimeout().toSeconds() + " s");
                    return;
                }
                if (!pingOutstanding && now - lastPing >= settings.pingInterval().toNanos()) {
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
                }
                if (draining && (table.size() == 0 || now - drainDeadlineNanos > 0)) {
                    String detail = table.size() == 0 ? "drained" : "drain timeout with " + table.size() + " streams open";
                    close(drainReason, detail);
                }
            }
        } catch (InterruptedException e) {
            // tunnel ended
        } catch (RuntimeException e) {
            kill(EndReason.IO_ERROR, describe(e));
        }
    }

    private void send(Frame frame, boolean urgent) throws IOException {
        WsWriter w = writer;
        if (w == null) {
            throw new IOException("tunnel not connected");
        }
        try {
            if (bin1 && frame instanceof Frame.Data d) {
                w.binary(BinaryCodec.dataHeader(d), d.payload());
                stats.sent(true, false);
            } else if (frame instanceof Frame.Window) {
                w.urgentBinary(BinaryCodec.encode(frame));
                stats.sent(true, true);
            } else if (urgent) {
                w.urgentText(JsonCodec.encode(frame));
            } else {
                w.text(JsonCodec.encode(frame));
                if (frame instanceof Frame.Data) {
                    stats.sent(false, false);
                }
            }
        } catch (RuntimeException e) {
            kill(EndReason.IO_ERROR, describe(e));
            throw new IOException("tunnel write failed", e);
        }
    }

    private void closeQuietly(int code, String reason) {
        try {
            writer.close(code, reason);
            // the reader returns and the socket is closed next: let the writer put the close frame on the wire first
            // (RFC 6455 5.5.1: a received close must be answered with a close)
            writer.awaitClosed(CLOSE_GRACE);
        } catch (RuntimeException ignored) {
            // the socket is going away anyway
        }
    }

    private String hubForLogs() {
        URI u = settings.url();
        return u.getScheme() + "://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "") + u.getRawPath();
    }

    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = root.getMessage();
        return root.getClass().getSimpleName() + (msg == null ? "" : ": " + clip(msg));
    }

    private static String clip(String s) {
        return s.length() > 120 ? s.substring(0, 120) + "…" : s;
    }
}
