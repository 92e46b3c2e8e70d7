package io.nowconnect.tunnel;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.webclient.api.ClientConnection;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.websocket.WsCloseCodes;

import io.nowconnect.config.Target;
import io.nowconnect.log.Event;
import io.nowconnect.mux.End;
import io.nowconnect.mux.Mux;
import io.nowconnect.mux.MuxSettings;
import io.nowconnect.mux.Role;
import io.nowconnect.mux.Side;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.StreamSettings;
import io.nowconnect.ws.UpgradedSocket;

/**
 * The agent's role on one tunnel to the hub: {@link #run()} connects, says HELLO, serves streams and returns why the
 * tunnel ended. It never sleeps or retries; the {@link Supervisor} decides what comes next.
 *
 * <p>{@link WsUpgrade} performs the upgrade with Helidon's HTTP/1 client; the {@link Mux} then runs the tunnel on the
 * thread that called {@link #run()} (reading, pings, close handshake: see there). This class adds what only the agent
 * does: HELLO with its connectors and capabilities, the ack (what it names is used; a replica another tunnel of the
 * pool holds is drained at once), OPEN answered by the {@link Dialer}, and DRAIN for rotation and shutdown.
 *
 * <p>Threads: the reader (the caller of {@link #run()}) calls {@link #onControl}; {@link #drain} and {@link #kill} may
 * be called from any thread. DRAIN is sent once, by whichever of {@link #drain} and the ack comes
 * second ({@link #drainSent}).
 *
 * <p>A stopping agent refuses new streams (RST {@code draining}), except the OPENs a hub that acknowledged {@code
 * drain} sent before it read our DRAIN: for {@link #IN_FLIGHT_GRACE} after DRAIN went out, an OPEN is served (and the
 * drain waits for its stream like any other), and an empty drain keeps the tunnel open for a few round trips ({@link
 * #drainHold}) before it closes (its drain timeout still ends it). Refusing those OPENs, or closing under them, would
 * fail a client that the hub had already given to this tunnel, while another agent of the same {@code agent_id}, or
 * the tunnel that replaces this one, could have served it. A hub without the capability never learns of the drain: its
 * OPENs are refused from the start, as before.
 */
final class TunnelConnection implements Tunnel, Role {
    private static final Logger LOGGER = Logger.getLogger(TunnelConnection.class.getName());
    /**
     * How long after DRAIN went out a stopping agent still serves OPENs: those the hub sent before it read DRAIN
     * arrive within a round trip and the hub's queue; a hub that honours DRAIN sends none after that.
     */
    static final Duration IN_FLIGHT_GRACE = Duration.ofSeconds(2);
    /** The least time an empty drain keeps the tunnel open after DRAIN (the most is {@link #IN_FLIGHT_GRACE}). */
    static final Duration MIN_DRAIN_HOLD = Duration.ofMillis(250);
    /**
     * System property that turns {@code bin1} off in the agent's HELLO ({@code -Dnowconnect.bin1=false}): the agent then
     * speaks plain v1 JSON DATA even to a hub that supports binary frames (benchmarks, troubleshooting).
     */
    static final String BIN1_PROPERTY = "nowconnect.bin1";
    /** How long a tunnel to a replica held elsewhere may carry the streams the hub opened before it saw DRAIN. */
    private static final Duration HELD_DRAIN = Duration.ofSeconds(30);
    /** Names the tunnels' accounts: each tunnel of the agent is a tenant of the agent's memory budget. */
    private static final AtomicLong SEQUENCE = new AtomicLong();

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

    private final Settings settings;
    private final Http1Client client;
    private final TokenSource tokens;
    private final TunnelStatus status;
    private final ReadyListener readyListener;
    private final List<String> ourCaps;
    private final Mux mux;
    private final Dialer dialer;
    /** Whether DRAIN went out: {@link #drain} and the ack race to send it, and it goes once. */
    private final AtomicBoolean drainSent = new AtomicBoolean();
    /** {@link System#nanoTime} when DRAIN went out; 0 before. */
    private volatile long drainSentNanos;
    /** {@link System#nanoTime} when HELLO went out. */
    private volatile long helloSentNanos;
    /** The latest round trip to the hub (HELLO to its ack, then each ping); negative before the ack. */
    private volatile long rttNanos = -1;

    private final ReplicaGate gate;
    /** Acknowledged by a replica another tunnel of the pool holds: never counts as ready, drains and closes. */
    private volatile boolean held;
    private volatile boolean refuseOpens;
    private volatile String tokenFingerprint;
    private volatile Optional<TokenSource.Lifetime> tokenLifetime = Optional.empty();

    TunnelConnection(Settings settings, Http1Client client, TokenSource tokens, TunnelStatus status, StreamBudget budget,
                     Shares shares, StreamObserver observer, ReadyListener readyListener, ReplicaGate gate) {
        this.readyListener = readyListener;
        this.gate = gate;
        List<String> caps = new java.util.ArrayList<>(List.of(Capability.DRAIN, Capability.BIN1, Capability.LIMITS,
                                                              Capability.WIN));
        if (!Boolean.parseBoolean(System.getProperty(BIN1_PROPERTY, "true"))) {
            caps.remove(Capability.BIN1);
            caps.remove(Capability.WIN);
        }
        if (gate != ReplicaGate.NONE) {
            caps.add(Capability.REPLICAS);
        }
        this.ourCaps = List.copyOf(caps);
        this.settings = settings;
        this.client = client;
        this.tokens = tokens;
        this.status = status;
        this.dialer = new Dialer(settings.connectors(), settings.streams().connectTimeout());
        this.mux = Mux.create(new MuxSettings(Side.AGENT, settings.streams(), settings.pingInterval(),
                                               settings.pingTimeout(), settings.maxMessage()),
                              this, observer, budget, shares.open("tunnel-" + SEQUENCE.incrementAndGet()));
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
            gate.released(this); // replicas hook: the pool forgets this tunnel's replica
        }
    }

    /**
     * Whether the hub acknowledged HELLO.
     *
     * @return true once ready
     */
    @Override
    public boolean isReady() {
        return mux.isReady() && !held;
    }

    /**
     * Streams open on this tunnel.
     *
     * @return count
     */
    @Override
    public int activeStreams() {
        return mux.streams().size();
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
     * Drain, ending with the given reason.
     *
     * @param timeout longest time open streams may go on
     * @param refuse whether OPENs that still arrive are refused
     * @param reason end reason once drained ({@link EndReason#DRAINED} or {@link EndReason#ROTATED})
     */
    @Override
    public void drain(Duration timeout, boolean refuse, EndReason reason) {
        refuseOpens = refuse;
        boolean first = !mux.draining();
        mux.drain(timeout, reason);
        sendDrainOnce();
        if (first) {
            Event.of("draining").with("agent_id", settings.agentId()).with("streams", mux.streams().size())
                    .log(LOGGER, Level.INFO, "Tunnel draining: no new streams, " + mux.streams().size() + " open");
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
        mux.kill(reason, detail);
    }

    @Override
    public void started() throws IOException {
        int window = ourCaps.contains(Capability.WIN) ? mux.windowOffer() : 0;
        helloSentNanos = System.nanoTime();
        mux.send(new Frame.Hello(settings.agentId(), List.copyOf(settings.connectors().keySet()), settings.version(),
                                 ourCaps, window), true);
    }

    @Override
    public void onControl(Frame frame) {
        switch (frame) {
        case Frame.HelloAck ack -> onAck(ack);
        case Frame.Open open -> dialer.onOpen(mux, open, refuseOpens && !inFlightAtDrain());
        default -> {
            mux.streams().observer().dropped("unexpected_frame");
            Event.of("frame_unexpected").with("type", frame.type().wire())
                    .log(LOGGER, Level.FINE, "Dropped unexpected " + frame.type().wire() + " frame");
        }
        }
    }

    @Override
    public void pingAnswered(long rttNanos) {
        this.rttNanos = rttNanos;
        status.pingRtt(rttNanos);
    }

    @Override
    public Event tag(Event event) {
        return event.with("agent_id", settings.agentId());
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
        try {
            ClientConnection c = WsUpgrade.open(client, settings.url(), token);
            // from here the tunnel reads and writes the socket's own streams, after what Helidon read past the 101
            mux.attach(UpgradedSocket.of(c.helidonSocket(), c.reader()), c::closeResource);
        } catch (WsUpgrade.Refused e) {
            return e.end();
        }
        End end = mux.run();
        return new TunnelEnd(end.reason(), end.detail(), held ? Duration.ZERO : mux.readyFor());
    }

    private void onAck(Frame.HelloAck ack) {
        if (mux.isReady()) {
            mux.streams().observer().dropped("duplicate_ack");
            return;
        }
        rttNanos = System.nanoTime() - helloSentNanos;
        // before any OPEN can arrive: with bin1 every stream of this tunnel is flow controlled
        List<String> caps = mux.agree(ourCaps, ack.caps(), ack.window());
        if (caps.contains(Capability.LIMITS) && ack.maxMessage() > 0 && !caps.contains(Capability.BIN1)) {
            // JSON DATA must fit the hub's message limit (bin1 frames always fit: the hub offers bin1 only then)
            mux.streams().limitPayload(JsonCodec.maxDataPayload(ack.maxMessage()));
        }
        mux.ready();
        if (!gate.admit(this, ack)) {
            // replicas hook (logic in ReplicaPool): another tunnel holds this replica; serve what the hub opened before
            // it sees DRAIN, then close normally; the supervisor re-dials after a back-off
            held = true;
            mux.drain(HELD_DRAIN, EndReason.REPLICA_HELD);
            sendDrainOnce();
            return;
        }
        status.tunnelReady();
        readyListener.ready(this);
        Event.of("connected").with("agent_id", settings.agentId()).with("hub", hubForLogs())
                .with("caps", String.join(",", caps))
                .log(LOGGER, Level.INFO, "Tunnel ready (" + ack.type().wire() + ")");
        sendDrainOnce();
    }

    /** DRAIN goes out once the tunnel is both draining and acknowledged with the capability, whichever came last. */
    private void sendDrainOnce() {
        if (mux.draining() && mux.isReady() && mux.has(Capability.DRAIN) && drainSent.compareAndSet(false, true)) {
            long now = System.nanoTime();
            drainSentNanos = now;
            // the tunnel stays open a few round trips even with no stream, so that an OPEN in flight finds it
            mux.holdDrainUntil(now + drainHold(rttNanos).toNanos());
            mux.sendUrgent(new Frame.Drain());
        }
    }

    /**
     * How long an empty drain keeps the tunnel open after DRAIN: four round trips (an OPEN the hub sent just before it
     * read DRAIN arrives within one, plus what waits in the hub's queue), at least {@link #MIN_DRAIN_HOLD}, at most
     * {@link #IN_FLIGHT_GRACE} (also when no round trip was measured).
     *
     * @param rttNanos the latest round trip, negative when unknown
     * @return the hold
     */
    static Duration drainHold(long rttNanos) {
        if (rttNanos < 0) {
            return IN_FLIGHT_GRACE;
        }
        long four = Math.min(rttNanos, IN_FLIGHT_GRACE.toNanos() / 4) * 4;
        return Duration.ofNanos(Math.max(four, MIN_DRAIN_HOLD.toNanos()));
    }

    /** Whether an OPEN arriving now may have been sent by the hub before it read our DRAIN. */
    private boolean inFlightAtDrain() {
        long sent = drainSentNanos;
        return sent != 0 && System.nanoTime() - sent < IN_FLIGHT_GRACE.toNanos();
    }

    private String hubForLogs() {
        URI u = settings.url();
        return u.getScheme() + "://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "") + u.getRawPath();
    }
}
