package io.nowconnect.mux;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.websocket.WsCloseCodes;

import io.nowconnect.log.Event;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.protocol.ProtocolException;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.stream.Account;
import io.nowconnect.stream.MemoryBudget;
import io.nowconnect.stream.Stream;
import io.nowconnect.stream.StreamBudget;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.StreamTable;
import io.nowconnect.stream.WireEvent;
import io.nowconnect.ws.WsProtocolException;
import io.nowconnect.ws.UpgradedSocket;
import io.nowconnect.ws.WsReader;
import io.nowconnect.ws.WsWriter;

/**
 * One tunnel's multiplexer, the same on both ends: it reads and decodes the peer's frames, hands stream frames to
 * the {@link StreamTable} and the rest (HELLO, HELLO_ACK, OPEN, DRAIN) to its {@link Role}, sends through its
 * {@link MuxSink} (the one send path, in the agreed encoding), pings the peer and ends the tunnel when it falls
 * silent, runs the close handshake with its grace, and finishes a drain.
 * The agent ({@code tunnel.TunnelConnection}) and the hub ({@code hub.AgentTunnel}) differ only in their role.
 *
 * <p>Lifecycle: {@link #create} before the socket exists (so that {@link #kill} during the upgrade is remembered),
 * {@link #attach} once the upgrade succeeded, then {@link #run} on the thread that owns the socket's input: it returns
 * when the tunnel has ended, after every stream was abandoned and the socket closed. How it ended is set once
 * ({@link #end()}); the first cause wins.
 *
 * <p>Threads: the caller of {@link #run} is the reader and calls the role; the role must not block there (the reader
 * sends only on the urgent lane). Pings, the HELLO and pong deadlines, idle-stream sweeps, the close grace and drains
 * are checked by a task on the process-wide {@link MuxTimer}, which never blocks either: closing a socket happens on
 * a virtual thread of its own. Streams send through the sink; the role's control frames go through {@link #send}
 * from any thread. {@link #close}, {@link #kill},
 * {@link #drain} and the accessors may be called from any thread. All mutable state is volatile or atomic; there is
 * no lock here (the writer has its own).
 */
public final class Mux {
    private static final Logger LOGGER = Logger.getLogger(Mux.class.getName());
    /** How long a peer has to answer our close frame before the socket is dropped. */
    static final Duration CLOSE_GRACE = Duration.ofSeconds(2);

    private final MuxSettings settings;
    private final Role role;
    private final StreamTable table;
    private final StreamObserver observer;
    private final AtomicReference<End> end = new AtomicReference<>();
    private final Liveness liveness;
    /** The one send path: streams send through it, and {@link #send} too. */
    private final MuxSink sink;

    private volatile UpgradedSocket socket;
    private volatile WsWriter writer;
    /** Timer task only: whether pacing's end was reported. */
    private boolean pacingOffReported;
    private volatile Runnable closeSocket;
    private volatile ScheduledFuture<?> tick;
    private volatile List<String> caps = List.of();
    /** Whether {@code bin1} was agreed: binary messages are accepted, streams are flow controlled. */
    private volatile boolean bin1;
    private volatile boolean ready;
    private volatile long readyAtNanos;
    private volatile long closeSentAtNanos;
    private volatile long drainDeadlineNanos;
    private volatile End drainEnd;
    /** {@link #holdDrainUntil}; until it is called, a time already past. */
    private volatile long drainHoldNanos = System.nanoTime();

    private Mux(MuxSettings settings, Role role, StreamObserver observer, StreamBudget budget, Account account) {
        this.settings = settings;
        this.role = role;
        this.observer = observer;
        this.liveness = new Liveness(settings);
        this.sink = new MuxSink(observer, e -> kill(MuxReason.IO_ERROR, End.describe(e)));
        this.table = StreamTable.create(settings.streams(), sink,
                                        settings.side().server() ? Direction.C2A : Direction.A2C,
                                        observer, budget, account);
        sink.connectors(cid -> table.get(cid).map(Stream::connector).orElse(null));
    }

    /**
     * A multiplexer for a tunnel about to be connected.
     *
     * @param settings settings
     * @param role what this end does with control frames
     * @param observer metrics and logs of streams and frames
     * @param budget the process-wide stream limit
     * @param account this tunnel's tenant's account of the process-wide memory budget ({@code Shares.open})
     * @return the multiplexer, not yet attached to a socket
     */
    public static Mux create(MuxSettings settings, Role role, StreamObserver observer, StreamBudget budget,
                             Account account) {
        return new Mux(settings, role, observer, budget, account);
    }

    /**
     * Attach the upgraded connection and start the writer. When the tunnel already ended (killed during the upgrade),
     * the socket is closed at once and {@link #run} returns straight away.
     *
     * @param socket the connection's streams, and what was read past the upgrade
     * @param closeSocket closes the connection (must be safe to call more than once, from any thread)
     */
    public void attach(UpgradedSocket socket, Runnable closeSocket) {
        this.socket = socket;
        this.closeSocket = closeSocket;
        this.writer = settings.side().server() ? WsWriter.server(socket.out(), settings.side().threadName())
                : WsWriter.client(socket.out(), settings.side().threadName());
        // a peer that stopped reading leaves the probe unanswered: pacing turns off after half the ping timeout, and
        // the stalled write finds it as without pacing
        writer.probeTimeout(settings.pingTimeout().dividedBy(2));
        sink.attach(writer);
        if (end.get() != null) {
            closeSocket.run();
        }
    }

    /** Serve the tunnel until it ends. Blocking; the caller becomes the reader. */
    public End run() {
        if (writer == null) {
            throw new IllegalStateException("attach() first");
        }
        long tickMillis = Math.max(20, Math.min(settings.side().maxTickMillis(), settings.pingInterval().toMillis() / 4));
        tick = MuxTimer.schedule(this::tick, tickMillis);
        try {
            if (end.get() == null) {
                role.started();
                readFrames();
            }
        } catch (IOException | RuntimeException e) {
            recordEnd(MuxReason.IO_ERROR, End.describe(e));
        } finally {
            tick.cancel(false);
            writer.stop();
            closeSocket.run();
            table.closeAll(ResetReason.WS_BROKEN);
        }
        return end.get();
    }

    /**
     * Agree on capabilities: ours that the peer named too. With {@code bin1}, every stream of this tunnel is flow
     * controlled from now on (call before the first stream); with {@code win} as well, each side's initial window is
     * the one it announced, else the protocol's 256 KiB.
     *
     * @param ours what this end supports
     * @param theirs what the peer named
     * @param peerWindow the initial window the peer announced ({@code win}), 0 when none
     * @return the agreed capabilities
     */
    public List<String> agree(List<String> ours, List<String> theirs, int peerWindow) {
        List<String> agreed = new ArrayList<>(ours);
        agreed.retainAll(theirs);
        caps = List.copyOf(agreed);
        if (caps.contains(Capability.BIN1)) {
            boolean win = caps.contains(Capability.WIN) && peerWindow > 0;
            table.enableFlowControl(win ? windowOffer() : BinaryCodec.INITIAL_WINDOW,
                                    win ? peerWindow : BinaryCodec.INITIAL_WINDOW);
            sink.binaryData();
            bin1 = true;
        }
        return caps;
    }

    /**
     * The initial {@code bin1} window this end grants per stream with the {@code win} capability: sized from the
     * process's memory budget and stream limit ({@link MemoryBudget#initialWindow}).
     *
     * @return bytes
     */
    public int windowOffer() {
        return table.account().shares().budget().initialWindow(settings.streams().maxInflight(), BinaryCodec.INITIAL_WINDOW);
    }

    /** HELLO was answered: the tunnel may carry streams, the HELLO deadline is off. */
    public void ready() {
        readyAtNanos = System.nanoTime();
        ready = true;
    }

    /** Whether HELLO was answered. */
    public boolean isReady() {
        return ready;
    }

    /** How long the tunnel has been ready. */
    public Duration readyFor() {
        return ready ? Duration.ofNanos(System.nanoTime() - readyAtNanos) : Duration.ZERO;
    }

    /** Capabilities both ends named. */
    public List<String> caps() {
        return caps;
    }

    /**
     * Whether a capability was agreed.
     *
     * @param cap capability name
     * @return true when agreed
     */
    public boolean has(String cap) {
        return caps.contains(cap);
    }

    /** This tunnel's streams. */
    public StreamTable streams() {
        return table;
    }

    /** How the tunnel ended. */
    public End end() {
        return end.get();
    }

    /** Whether the tunnel has ended or is closing. */
    public boolean isEnded() {
        return end.get() != null;
    }

    /** Time since the peer last sent anything. */
    public Duration idleTime() {
        return liveness.idle();
    }

    /**
     * Send a control frame (HELLO, HELLO_ACK, DRAIN, OPEN, the RST that refuses an OPEN); a stream's DATA, FIN, RST
     * and WINDOW go through its sink ({@link MuxSink}).
     *
     * @param frame frame
     * @param urgent whether it may overtake queued frames (never blocks) or goes in order (blocks while the queue is
     *               full); an OPEN in order goes ahead of its stream's DATA
     * @throws IOException when the tunnel is gone
     */
    public void send(Frame frame, boolean urgent) throws IOException {
        sink.sendControl(frame, urgent);
    }

    /**
     * Send a control frame on the urgent lane; a tunnel that cannot take it is ended.
     *
     * @param frame frame
     * @return whether it was queued
     */
    public boolean sendUrgent(Frame frame) {
        try {
            send(frame, true);
            return true;
        } catch (IOException e) {
            kill(MuxReason.IO_ERROR, frame.type().wire() + " could not be sent");
            return false;
        }
    }

    /**
     * Close the tunnel once no stream is open, or when the timeout passes; new streams are the role's to refuse.
     * A second call moves the deadline and the end.
     *
     * @param timeout longest time open streams may go on
     * @param reason end reason once drained
     */
    public void drain(Duration timeout, End.Reason reason) {
        drainEnd = new End(reason, null);
        drainDeadlineNanos = System.nanoTime() + timeout.toNanos();
    }

    /**
     * Keep a drained tunnel open until this time even when no stream is open (its deadline still ends it): frames the
     * peer sent before it read our DRAIN may still be on their way.
     *
     * @param nanos {@link System#nanoTime} before which the drain does not end with no stream open
     */
    public void holdDrainUntil(long nanos) {
        drainHoldNanos = nanos;
    }

    /** Whether {@link #drain} was called. */
    public boolean draining() {
        return drainEnd != null;
    }

    /**
     * Close with a WebSocket close frame after what is queued; the socket is dropped if the peer does not answer
     * within a short grace.
     *
     * @param code close code
     * @param text reason text of the close frame
     * @param reason why
     * @param detail detail for logs and status
     */
    public void close(int code, String text, End.Reason reason, String detail) {
        recordEnd(reason, detail);
        WsWriter w = writer;
        if (w == null) {
            kill(reason, detail);
            return;
        }
        closeSentAtNanos = System.nanoTime();
        try {
            w.close(code, text);
        } catch (RuntimeException e) {
            kill(reason, detail);
        }
    }

    /**
     * Say goodbye with a close frame and wait a little for it to leave, then drop the socket (the process stops).
     *
     * @param code close code
     * @param reason why
     * @param wait longest wait for the close frame to be written
     */
    public void goAway(int code, End.Reason reason, Duration wait) {
        WsWriter w = writer;
        if (end.get() == null && w != null) {
            try {
                w.close(code, reason.label());
                w.awaitClosed(wait);
            } catch (RuntimeException ignored) {
                // going away anyway
            }
        }
        kill(reason, reason.label());
    }

    /**
     * End the tunnel now by closing its socket; {@link #run} returns.
     *
     * @param reason why
     * @param detail detail for logs and status
     */
    public void kill(End.Reason reason, String detail) {
        recordEnd(reason, detail);
        Runnable c = closeSocket;
        if (c != null) {
            c.run();
        }
    }

    private void killAsync(End.Reason reason, String detail) {
        recordEnd(reason, detail);
        // closing a TLS socket may write: never on the shared timer
        Thread.ofVirtual().name("nc-mux-close").start(() -> kill(reason, detail));
    }

    /** Set how the tunnel ended, once: the first cause wins. */
    private void recordEnd(End.Reason reason, String detail) {
        end.compareAndSet(null, new End(reason, detail == null ? reason.label() : detail));
    }

    /** The tunnel's reader: frames until the peer closes, breaks the protocol or the socket fails. */
    private void readFrames() throws IOException {
        WsReader reader = settings.side().server() ? WsReader.server(socket, settings.maxMessage())
                : WsReader.client(socket, settings.maxMessage());
        socket = null;
        String peer = settings.side().peer();
        while (true) {
            WsReader.Event event;
            try {
                event = reader.next();
            } catch (WsProtocolException e) {
                observer.dropped(e.closeCode() == WsCloseCodes.TOO_BIG ? "oversized" : "bad_frame");
                role.tag(Event.of("protocol_violation")).with("reason", e.getMessage())
                        .log(LOGGER, Level.WARNING, "The " + peer + " broke the WebSocket protocol: closing");
                recordEnd(MuxReason.PROTOCOL_ERROR, peer + " frame refused: " + e.getMessage());
                closeAndWait(e.closeCode(), e.closeCode() == WsCloseCodes.TOO_BIG
                        ? "message too big" : "protocol error");
                return;
            }
            if (event == null) {
                recordEnd(MuxReason.CLOSED, peer + " closed the connection");
                return;
            }
            liveness.received();
            switch (event) {
            case WsReader.Message m -> onMessage(m);
            case WsReader.Ping p -> writer.pong(p.payload());
            case WsReader.Pong p -> onPong(p.payload());
            case WsReader.Close c -> {
                recordEnd(MuxReason.CLOSED, peer + " closed the tunnel (" + c.code()
                        + (c.reason().isEmpty() ? "" : " " + End.clip(c.reason())) + ")");
                // RFC 6455 5.5.1: a received close is answered with a close
                closeAndWait(c.code() == WsCloseCodes.NO_STATUS_CODE ? WsCloseCodes.NORMAL_CLOSE : c.code(), "bye");
                return;
            }
            }
        }
    }

    private void onMessage(WsReader.Message message) {
        boolean binary = message.binary();
        if (binary && !bin1) {
            // v1: binary messages mean nothing
            observer.dropped("binary_frame");
            return;
        }
        Frame frame;
        try {
            // the message may be a slice of the reader's buffer: decoding copies what outlives this call
            frame = binary
                    ? BinaryCodec.decode(message.bytes(), message.offset(), message.length(), table.payloadArrays())
                    : JsonCodec.decode(message.text());
        } catch (ProtocolException e) {
            observer.dropped(e.reason());
            role.tag(Event.of("frame_malformed")).with("reason", e.reason()).with("detail", e.getMessage())
                    .log(LOGGER, Level.FINE, "Dropped malformed frame");
            return;
        }
        if (!role.admits(frame)) {
            return;
        }
        switch (frame) {
        case Frame.Data d -> {
            observer.wire(binary ? WireEvent.BINARY_DATA_RECEIVED : WireEvent.JSON_DATA_RECEIVED);
            table.dispatch(d);
        }
        case Frame.Window w -> {
            observer.wire(WireEvent.WINDOW_RECEIVED);
            table.dispatch(w);
        }
        case Frame.Fin f -> table.dispatch(f);
        case Frame.Rst r -> table.dispatch(r);
        default -> role.onControl(frame);
        }
        table.afterFrame();
    }

    private void onPong(byte[] payload) {
        WsWriter w = writer;
        if (w != null) {
            w.pongReceived(payload);
        }
        long rtt = liveness.pong(payload);
        if (rtt >= 0) {
            role.pingAnswered(rtt);
        }
    }

    /** Timer task: say once that the writer's pacing turned itself off (counted and logged). */
    private void reportPacingOff() {
        if (!pacingOffReported && writer.pacingGaveUp()) {
            pacingOffReported = true;
            observer.wire(WireEvent.PACING_OFF);
            role.tag(Event.of("pacing_off")).log(LOGGER, Level.INFO, "The " + settings.side().peer()
                    + " left a pacing probe (a ping) unanswered: this tunnel is not paced from now on");
        }
    }

    /** Timer task: deadlines, pings, sweeps and drains. Never blocks. */
    private void tick() {
        long now = System.nanoTime();
        try {
            if (closeSentAtNanos != 0) {
                if (now - closeSentAtNanos > CLOSE_GRACE.toNanos()) {
                    tick.cancel(false);
                    End e = end.get();
                    killAsync(e.reason(), e.detail());
                }
                return;
            }
            if (end.get() != null) {
                return;
            }
            reportPacingOff();
            Liveness.Verdict dead = liveness.check(now, ready, writer.stalledNanos(now));
            if (dead != null) {
                tick.cancel(false);
                killAsync(dead.reason(), dead.detail());
                return;
            }
            byte[] ping = liveness.pingDue(now);
            if (ping != null) {
                writer.ping(ping);
            }
            if (liveness.secondDue(now)) {
                table.sweepIdle();
                role.everySecond();
            }
            End drained = drainEnd;
            boolean held = now - drainHoldNanos < 0;
            if (drained != null && (table.size() == 0 && !held || now - drainDeadlineNanos > 0)) {
                String detail = table.size() == 0 ? "drained" : "drain timeout with " + table.size() + " streams open";
                close(WsCloseCodes.NORMAL_CLOSE, drained.reason().label(), drained.reason(), detail);
            }
        } catch (RuntimeException e) {
            tick.cancel(false);
            killAsync(MuxReason.IO_ERROR, End.describe(e));
        }
    }

    /** Reader thread: queue a close frame and let it reach the wire before the socket is closed. */
    private void closeAndWait(int code, String reason) {
        try {
            writer.close(code, reason);
            writer.awaitClosed(CLOSE_GRACE);
        } catch (RuntimeException ignored) {
            // the socket is going away anyway
        }
    }

}
