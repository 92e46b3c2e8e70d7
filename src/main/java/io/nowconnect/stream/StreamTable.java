package io.nowconnect.stream;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.buffer.ArrayPool;
import io.nowconnect.log.Event;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;

/**
 * The streams of one tunnel, by {@code cid}.
 *
 * <p>Threads: the tunnel's reader dispatches frames and (agent, OPEN) registers streams; on the hub the thread a
 * listener gave an accepted client registers its stream; stream threads remove themselves when they close;
 * {@link #closeAll} and {@link #sweepIdle} may run on any thread (the tunnel's reader and the shared timer). Locks:
 * none; the streams are a concurrent map, the settings for new streams volatile.
 */
public final class StreamTable {
    private static final Logger LOGGER = Logger.getLogger(StreamTable.class.getName());

    private final ConcurrentHashMap<String, Stream> streams = new ConcurrentHashMap<>();
    private final StreamSettings settings;
    private final FrameSink sink;
    private final Direction outbound;
    private final StreamObserver observer;
    private final StreamBudget budget;
    private final Account account;
    private final Wakes wakes = new Wakes();
    /** Most payload bytes per DATA frame for streams registered from now on; at most the settings' value. */
    private volatile int maxPayload;
    /** bin1 receive window in bytes for streams registered from now on; 0 = v1, no flow control. */
    private volatile int flowWindow;
    /** bin1 send window (initial credit) for streams registered from now on: what the peer grants. */
    private volatile int sendWindow;

    private StreamTable(StreamSettings settings, FrameSink sink, Direction outbound, StreamObserver observer,
                        StreamBudget budget, Account account) {
        this.settings = settings;
        this.sink = sink;
        this.outbound = outbound;
        this.observer = observer;
        this.budget = budget;
        this.account = account;
        this.maxPayload = settings.maxPayload();
        account.attach(this);
    }

    /**
     * Create a table for one tunnel.
     *
     * @param settings stream limits
     * @param sink the tunnel's frame writer
     * @param outbound direction of bytes read from local sockets: {@code a2c} on the agent, {@code c2a} on the hub
     * @param observer metrics hook
     * @param budget process-wide stream limit
     * @param account the tenant's account of the process's memory budget (from {@link Shares#open}); the table
     *                detaches from it in {@link #closeAll}
     * @return a new table
     */
    public static StreamTable create(StreamSettings settings, FrameSink sink, Direction outbound, StreamObserver observer,
                                     StreamBudget budget, Account account) {
        return new StreamTable(settings, sink, outbound, observer, budget, account);
    }

    /**
     * Turn on {@code bin1} credit-based flow control for every stream registered from now on: each side may send a
     * stream at most the window the other side granted beyond what it returned with WINDOW frames. Call once the
     * capability is agreed, before the first stream.
     *
     * @param receiveWindow initial window this side grants per stream, in bytes; 0 turns flow control off
     * @param sendWindow initial window the peer grants per stream (this side's first credit)
     */
    public void enableFlowControl(int receiveWindow, int sendWindow) {
        if (receiveWindow < 0 || sendWindow < 0) {
            throw new IllegalArgumentException("windows must not be negative: " + receiveWindow + ", " + sendWindow);
        }
        this.sendWindow = sendWindow;
        this.flowWindow = receiveWindow;
    }

    /**
     * Flow control with the same window both ways (the protocol's default, or tests).
     *
     * @param window initial window per stream and direction, in bytes; 0 turns flow control off
     */
    public void enableFlowControl(int window) {
        enableFlowControl(window, window);
    }

    /**
     * Lower the DATA payload of streams registered from now on (the peer accepts smaller messages than configured).
     * Call before the first stream.
     *
     * @param bytes most payload bytes per DATA frame; values above the configured maximum are ignored
     */
    public void limitPayload(int bytes) {
        maxPayload = Math.max(1, Math.min(bytes, settings.maxPayload()));
    }

    /**
     * Most payload bytes per DATA frame.
     *
     * @return bytes
     */
    public int maxPayload() {
        return maxPayload;
    }

    /**
     * Largest DATA payload accepted from the peer: the larger of this side's {@code max_ws_payload} and a full
     * {@code bin1} payload. A larger DATA resets its stream and is never buffered.
     *
     * @return bytes
     */
    int maxIncomingPayload() {
        return Math.max(settings.maxPayload(), BinaryCodec.MAX_DATA_PAYLOAD);
    }

    /**
     * The send window (first credit) of new streams.
     *
     * @return bytes
     */
    int sendWindow() {
        return sendWindow;
    }

    /**
     * The tenant's account of the process's memory budget.
     *
     * @return account
     */
    public Account account() {
        return account;
    }

    /**
     * The flow-control window of new streams.
     *
     * @return bytes, 0 without flow control (v1)
     */
    public int flowWindow() {
        return flowWindow;
    }

    /**
     * Register a new stream, reserving a slot of the budget.
     *
     * @param cid stream id from the OPEN (or freshly made by the hub)
     * @param connector connector name
     * @return the stream, not yet started
     * @throws StreamRefusedException with {@code duplicate_cid} or {@code too_many_streams}
     */
    public Stream register(String cid, String connector) throws StreamRefusedException {
        if (streams.containsKey(cid)) {
            throw new StreamRefusedException(ResetReason.DUPLICATE_CID);
        }
        if (!budget.tryAcquire()) {
            throw new StreamRefusedException(ResetReason.TOO_MANY_STREAMS);
        }
        Stream stream = new Stream(cid, connector, this);
        if (streams.putIfAbsent(cid, stream) != null) {
            budget.release();
            throw new StreamRefusedException(ResetReason.DUPLICATE_CID);
        }
        account.streamOpened();
        observer.opened(connector);
        return stream;
    }

    /**
     * Deliver a DATA, WINDOW, FIN or RST frame to its stream. Frames for unknown or closed streams are dropped and
     * counted.
     *
     * @param frame the frame
     */
    public void dispatch(Frame frame) {
        String cid = switch (frame) {
        case Frame.Data d -> d.cid();
        case Frame.Fin f -> f.cid();
        case Frame.Window w -> w.cid();
        case Frame.Rst r -> r.cid();
        default -> null;
        };
        Stream s = cid == null ? null : streams.get(cid);
        if (s == null) {
            drop(cid == null ? "unexpected_frame" : "unknown_cid", frame);
            return;
        }
        switch (frame) {
        case Frame.Data d -> s.onData(d);
        // a FIN for the direction this side sends makes no sense from the peer
        case Frame.Fin f when f.dir() == outbound -> drop("bad_direction", frame);
        case Frame.Fin f -> s.onFin();
        case Frame.Window w -> s.onWindow(w.increment());
        case Frame.Rst r -> s.onRst(r.err());
        default -> throw new IllegalStateException("not a stream frame: " + frame.type().wire());
        }
    }

    /**
     * Tunnel reader, after each frame: run the stream wake-ups whose turn has come ({@link Wakes}; most run as other
     * stream threads run, this catches one deferred just as the last of them ran). Holds no lock.
     */
    public void afterFrame() {
        wakes.drain();
    }

    /**
     * Start a virtual thread for one of this tunnel's streams (an OPEN's dial, a stream's pumps): at once when few of
     * the tunnel's threads wait to run, else in turn ({@link Wakes}), connectors taking turns.
     *
     * @param name thread name
     * @param connector the stream's connector
     * @param task what it runs
     * @param failed what to do instead when no thread can be started (out of memory)
     */
    public void startThread(String name, String connector, Runnable task, Runnable failed) {
        wakes.start(name, connector, task, failed);
    }

    /**
     * Start a stream's writer for what waits in its queue: at once when it is small (a request, an answer, a FIN),
     * like a small wake-up; else as {@link #startThread}.
     */
    void startThread(String name, String connector, Runnable task, Runnable failed, boolean small) {
        wakes.start(name, connector, task, failed, small);
    }

    /** The tunnel's wake-ups of its stream threads. */
    Wakes wakes() {
        return wakes;
    }

    /**
     * Close every stream without sending anything (the tunnel is gone).
     *
     * @param result result for metrics, e.g. {@link ResetReason#WS_BROKEN}
     */
    public void closeAll(ResetReason result) {
        account.detach(this);
        for (Stream s : List.copyOf(streams.values())) {
            s.abandon(result);
        }
    }

    /**
     * Reset every stream idle for longer than the idle timeout with {@code idle_timeout}, and (v1) every stream that
     * kept more than its queue depth of frames for longer than the grace with {@code queue_overflow}; streams that
     * received nothing for a while give their window growth back and end their socket writer's thread.
     */
    public void sweepIdle() {
        Duration timeout = settings.idleTimeout();
        long now = System.nanoTime();
        long limit = timeout.isZero() ? Long.MAX_VALUE : timeout.toNanos();
        for (Stream s : streams.values()) {
            if (s.overDepthTooLong(now)) {
                s.overflow();
            } else if (s.idleNanos(now) > limit) {
                Event.of("stream_idle_timeout").with("cid", s.cid()).with("connector", s.connector())
                        .log(LOGGER, Level.FINE, "Stream idle for " + timeout.toMillis() + " ms: resetting");
                s.reset(ResetReason.IDLE_TIMEOUT);
            } else {
                s.returnQuietGrowth(now);
                s.retireQuietWriter(now);
            }
        }
    }

    /**
     * The open stream with this id, if any.
     *
     * @param cid stream id
     * @return the stream
     */
    public Optional<Stream> get(String cid) {
        return Optional.ofNullable(streams.get(cid));
    }

    /**
     * Streams now open.
     *
     * @return count
     */
    public int size() {
        return streams.size();
    }

    /**
     * Snapshot of the open streams.
     *
     * @return streams
     */
    public Collection<Stream> streams() {
        return new ArrayList<>(streams.values());
    }

    StreamSettings settings() {
        return settings;
    }

    FrameSink sink() {
        return sink;
    }

    Direction outbound() {
        return outbound;
    }

    /**
     * Where stream events go.
     *
     * @return observer
     */
    public StreamObserver observer() {
        return observer;
    }

    /**
     * Arrays for full {@code bin1} DATA payloads, for the tunnel's reader to decode into
     * ({@link BinaryCodec#decode(byte[], int, int, ArrayPool)}): a payload dispatched here is
     * the stream's, whose writer gives its array back once written.
     *
     * @return the process's pool
     */
    public ArrayPool payloadArrays() {
        return InboundQueue.PAYLOADS;
    }

    void remove(Stream stream) {
        if (streams.remove(stream.cid(), stream)) {
            budget.release();
            account.streamClosed();
        }
    }

    private void drop(String reason, Frame frame) {
        observer.dropped(reason);
        if (LOGGER.isLoggable(Level.FINE)) {
            Event.of("frame_dropped").with("reason", reason).with("type", frame.type().wire())
                    .log(LOGGER, Level.FINE, "Dropped " + frame.type().wire() + " frame");
        }
    }
}
