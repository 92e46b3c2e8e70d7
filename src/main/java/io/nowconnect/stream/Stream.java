package io.nowconnect.stream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;

/**
 * One TCP connection carried over the tunnel as a {@code cid}.
 *
 * <p>Threads: the tunnel's reader calls {@link #onData}, {@link #onWindow}, {@link #onFin} and {@link #onRst}; these
 * never wait and never write to the local socket, but they may end a stream: a bad or excess DATA, a bad WINDOW or
 * an RST closes this one (its socket closed, an RST queued on the urgent lane), and a DATA that does not fit in memory
 * resets the streams {@link Shares} picks (those holding the most of the tenant furthest over its share), which may be
 * streams of other tunnels of the process, all on the tunnel's reader thread. A <em>socket writer</em> virtual thread
 * drains the {@link InboundQueue} into the socket (and applies the remote FIN as a half-close); it exists only from
 * the stream's first received bytes until the stream has been quiet for a second (the idle sweep retires it, and the
 * next DATA or FIN starts a new one), so an idle stream holds one thread, not two. A <em>socket reader</em> virtual
 * thread reads the socket and sends DATA, then FIN at EOF, through the tunnel's sink, and may thereby write the
 * tunnel's socket itself (the outbox's direct write): so it is never interrupted, and a closing stream wakes it
 * through {@link FlowControl#close} and the budget's {@code stop} check instead. {@link #close} is idempotent and may
 * be called from any thread; it closes the socket, which unblocks both pumps' socket calls, and the queue, which ends
 * the writer's wait for data. The thread that dialled or accepted the socket may go on to run one of the two pumps
 * itself ({@link #run}).
 *
 * <p>Locks: none of its own. Whether the stream ended is the {@link #closed} flag (set once); the inbound queue and the
 * {@link FlowControl} each have their lock; the rest is volatile, or owned by one of the two pump threads as marked.
 *
 * <p>Memory: what waits for the socket is charged to its tenant's {@link Account} of the process's {@link MemoryBudget}.
 * v1 (no flow control): a stream
 * may keep more than {@code queueDepth} frames for at most {@link #OVERFLOW_GRACE_NANOS}, then it is reset with
 * {@code queue_overflow}; the tunnel's reader never waits. {@code bin1}: the {@link FlowControl} window bounds what the
 * peer may send, and DATA goes out only within the peer's credit. A spent budget resets streams of the tenant furthest
 * over its share ({@link Shares}); the socket reader's buffer ({@link ReadBuffer}) is small while the stream is quiet.
 */
public final class Stream {
    private static final Logger LOGGER = Logger.getLogger(Stream.class.getName());
    /** How long a finished stream may still flush to its local socket after its tunnel ended. */
    private static final long FINISH_GRACE_MILLIS = 30_000;
    /** Read buffer of a quiet stream: requests and answers of most protocols fit; a full read grows it. */
    private static final int IDLE_READ_BUFFER = 2048;
    /** v1: how long a stream may keep more than its queue depth of frames before it is reset. */
    static final long OVERFLOW_GRACE_NANOS = 2_000_000_000L;

    /** One of a stream's two pumps: the one a thread that starts the stream goes on to run ({@link #run}). */
    public enum Pump {
        /** Reads the local socket and sends DATA. */
        READER,
        /** Writes received DATA to the local socket. */
        WRITER
    }

    private final String cid;
    private final String connector;
    private final StreamTable table;
    private final Direction outbound;
    /** Received and not yet written to the socket, charged to the tenant's {@link Account}. */
    private final InboundQueue inbound;
    private final Account account;
    /** bin1 credit and windows; disabled (window 0) for v1. */
    private final FlowControl flow;
    /** v1: since when more than the queue depth of frames wait (0 when not); tunnel reader and socket writer. */
    private volatile long overDepthSinceNanos;
    private final AtomicBoolean closed = new AtomicBoolean();

    private volatile Socket socket;
    private volatile long lastActivityNanos = System.nanoTime();
    private volatile boolean finSent;
    private volatile boolean finApplied;
    private volatile boolean finQueued;
    private volatile Thread finisher;
    // tunnel reader thread only
    private long expectedSeqIn;
    /** For the access log ({@link StreamEnd}): registration time, bytes read from and written to the socket. */
    private final long openedNanos = System.nanoTime();
    private volatile long bytesRead, bytesWritten;

    Stream(String cid, String connector, StreamTable table) {
        this.cid = cid;
        this.connector = connector;
        this.table = table;
        this.outbound = table.outbound();
        this.account = table.account();
        this.inbound = new InboundQueue(table.wakes(), this::startWriter);
        this.flow = new FlowControl(table.flowWindow(), table.sendWindow(), account, table.wakes());
    }

    /** Stream id. */
    public String cid() {
        return cid;
    }

    /** Connector this stream belongs to. */
    public String connector() {
        return connector;
    }

    /** Whether the stream has ended. */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Start pumping an already connected socket, each pump on a thread of its own (the writer once there is something
     * to write).
     *
     * @param connected the local socket
     */
    public void start(Socket connected) {
        if (!attach(connected)) {
            return;
        }
        startWriterIfQueued();
        startReader();
        closedMeanwhile();
    }

    /**
     * Pump an already connected socket, one pump on the calling thread (which returns once that pump ends), the other
     * on a thread of its own: the thread that dialled or accepted the socket carries the stream's first bytes itself,
     * without waiting for a new thread to be scheduled (a hand-off fewer on a busy scheduler). As the writer, the
     * calling thread writes what came while the socket was being connected and returns once the queue is empty; later
     * DATA starts a writer of its own.
     *
     * @param connected the local socket
     * @param here the pump the calling thread runs
     */
    public void run(Socket connected, Pump here) {
        if (!attach(connected)) {
            return;
        }
        if (here == Pump.WRITER) {
            Thread.currentThread().setName("nc-w-" + cid);
            startReader();
            if (!closedMeanwhile()) {
                socketWriteLoop(false);
            }
        } else {
            Thread.currentThread().setName("nc-r-" + cid);
            startWriterIfQueued();
            if (!closedMeanwhile()) {
                socketReadLoop();
            }
        }
    }

    /** Take the socket; false (the socket closed) when the stream was reset before its socket came. */
    private boolean attach(Socket connected) {
        this.socket = connected;
        if (closed.get()) {
            // reset before its socket came (RST from the peer, tunnel dropped): a stream that never started cannot
            // have ended cleanly, so the local peer sees a reset, not an end of stream it could take for an answer
            try {
                connected.setSoLinger(true, 0);
            } catch (IOException | RuntimeException ignored) {
                // already closed
            }
            closeQuietly(connected);
            return false;
        }
        int sendBuffer = table.settings().sendBuffer();
        if (sendBuffer > 0) {
            try {
                connected.setSendBufferSize(sendBuffer);
            } catch (IOException | RuntimeException ignored) {
                // the socket already failed: its pumps find out
            }
        }
        touch();
        return true;
    }

    /** The socket is attached: a writer for what came meanwhile, if anything did; else the next bytes start one. */
    private void startWriterIfQueued() {
        if (inbound.release()) {
            startWriter(false);
        }
    }

    /** A writer session for what waits in the queue (called by the queue, or once the socket is attached). */
    private void startWriter(boolean small) {
        // a session started after close() finds the queue closed and ends at once
        table.startThread("nc-w-" + cid, connector, () -> socketWriteLoop(true), () -> close(ResetReason.RESET, true),
                          small);
    }

    private void startReader() {
        table.startThread("nc-r-" + cid, connector, this::socketReadLoop, () -> close(ResetReason.RESET, true));
    }

    /** After the pumps started: when the stream lost a race with close(), make sure nothing stays open. */
    private boolean closedMeanwhile() {
        if (!closed.get()) {
            return false;
        }
        closeQuietly(socket);
        return true;
    }

    /** Whether this stream uses {@code bin1} flow control. */
    public boolean flowControlled() {
        return flow.enabled();
    }

    /**
     * DATA from the tunnel: queue it for the socket. v1: a full queue resets this stream with {@code queue_overflow};
     * bin1: DATA beyond the window resets it with {@code flow_control}. Called by the tunnel's reader; never blocks.
     *
     * @param data frame
     */
    void onData(Frame.Data data) {
        // bin1 carries seq modulo 2^32
        if (((data.seq() - expectedSeqIn) & BinaryCodec.MAX_UINT32) != 0 && LOGGER.isLoggable(Level.FINE)) {
            Event.of("seq_mismatch").with("cid", cid).with("connector", connector)
                    .log(LOGGER, Level.FINE, "DATA seq " + data.seq() + " where " + expectedSeqIn + " was expected");
        }
        expectedSeqIn = data.seq() + 1;
        int length = data.payload().length;
        if (length == 0) {
            return;
        }
        if (length > table.maxIncomingPayload()) {
            // never buffered: a peer that ignores the payload limit loses the stream
            Event.of("stream_oversized").with("cid", cid).with("connector", connector).with("bytes", length)
                    .log(LOGGER, Level.FINE, "DATA larger than " + table.maxIncomingPayload() + " bytes: resetting");
            close(ResetReason.OVERSIZED, true);
            return;
        }
        if (flow.enabled() && !flow.received(length)) {
            table.observer().wire(WireEvent.FLOW_CONTROL_RESET);
            Event.of("stream_flow_control").with("cid", cid).with("connector", connector)
                    .with("dir", outbound.opposite().wire())
                    .log(LOGGER, Level.FINE, "Peer sent more than the " + flow.receiveWindow() + " byte window: resetting");
            close(ResetReason.FLOW_CONTROL, true);
            return;
        }
        if (!flow.enabled() && inbound.size() >= table.settings().queueDepth()) {
            // v1, no flow control: a full queue is allowed for a short grace (a target that lags for a moment), then
            // the stream is reset; the reader never waits, so no other stream is held up
            long now = System.nanoTime();
            long since = overDepthSinceNanos;
            if (since == 0) {
                overDepthSinceNanos = now;
            } else if (now - since > OVERFLOW_GRACE_NANOS) {
                overflow();
                return;
            }
        }
        int charge = inbound.chargeFor(length);
        if (charge > 0 && !account.takeReceived(charge, this)) {
            // the memory does not fit and this stream is the one to pay (or nothing could be freed)
            overflow();
            return;
        }
        if (!inbound.add(data.payload(), charge)) {
            account.releaseReceived(charge);
        }
    }

    /** Reset with {@code queue_overflow}: it holds too much (v1 depth past its grace, or the most of a spent budget). */
    void overflow() {
        if (closed.get()) {
            return;
        }
        Event.of("stream_queue_overflow").with("cid", cid).with("connector", connector)
                .with("dir", outbound.opposite().wire()).with("held_bytes", inbound.charged())
                .log(LOGGER, Level.FINE, "Stream holds too much unwritten data: resetting");
        close(ResetReason.QUEUE_OVERFLOW, true);
    }

    /** Memory this stream holds for its socket (received, not yet written). */
    long heldBytes() {
        return inbound.charged();
    }

    /**
     * Window growth this stream could give back now (bin1): its growth while it holds nothing received (a stream
     * waiting for its socket uses its window), else 0.
     */
    long grownBytes() {
        return inbound.charged() == 0 ? flow.grown() : 0;
    }

    /** Give this stream's window growth back ({@link Shares} takes it back for a tenant below its share). */
    void shrinkWindow() {
        flow.shrink();
    }

    /**
     * Give window growth back when the stream has received nothing for a while (the idle sweep).
     *
     * @param now current {@link System#nanoTime()}
     */
    void returnQuietGrowth(long now) {
        // a stream waiting for its socket holds what it received: its window is in use, not quiet
        if (inbound.charged() == 0 && flow.quietAndGrown(now)) {
            flow.shrink();
        }
    }

    /**
     * End the socket writer's thread when the stream has received nothing for a while (the idle sweep); the next DATA
     * starts a new one.
     *
     * @param now current {@link System#nanoTime()}
     */
    void retireQuietWriter(long now) {
        inbound.retireIfQuiet(now);
    }

    /**
     * v1: whether more than the queue depth of frames has waited for longer than the grace (the idle sweep resets such
     * a stream even when no more DATA arrives).
     *
     * @param now current {@link System#nanoTime()}
     * @return true when past the grace
     */
    boolean overDepthTooLong(long now) {
        long since = overDepthSinceNanos;
        return since != 0 && now - since > OVERFLOW_GRACE_NANOS;
    }

    /**
     * WINDOW from the tunnel (bin1): the peer's socket consumed more bytes, so we may send that many more. Called by
     * the tunnel's reader; never blocks for long (the lock is only held to add and signal).
     *
     * @param increment bytes of credit
     */
    void onWindow(long increment) {
        if (!flow.enabled()) {
            table.observer().dropped("unexpected_window");
            return;
        }
        if (!flow.granted(increment)) {
            table.observer().wire(WireEvent.FLOW_CONTROL_RESET);
            close(ResetReason.FLOW_CONTROL, true);
        }
    }

    /** Credit left to send (bin1), for tests and diagnostics. */
    long credit() {
        return flow.credit();
    }

    /** Current receive window (bin1), for tests and diagnostics. */
    int receiveWindow() {
        return flow.receiveWindow();
    }

    /** FIN from the tunnel: half-close the socket's output once the queued bytes are written. */
    void onFin() {
        inbound.finish();
        finQueued = true;
    }

    /** RST from the tunnel (the peer's reason {@code err}, logged only): close at once, sending nothing back. */
    void onRst(String err) {
        Event.of("stream_reset_by_peer").with("cid", cid).with("connector", connector).with("reason", err)
                .log(LOGGER, Level.FINE, "Stream reset by peer");
        close(ResetReason.RESET, false);
    }

    /**
     * Reset this stream: send RST with the reason, then close.
     *
     * @param reason reset reason
     */
    public void reset(ResetReason reason) {
        close(reason, true);
    }

    /**
     * Close the stream without telling the peer (the tunnel is gone).
     *
     * @param result result for metrics, e.g. {@code ws_broken}
     */
    void abandon(ResetReason result) {
        if (finSent && finQueued && !closed.get()) {
            // both directions are complete on the wire; only our write of the last bytes to the local socket remains,
            // which needs no tunnel: let it finish (it closes the stream), but not forever
            Event.of("stream_finishing").with("cid", cid).with("connector", connector)
                    .log(LOGGER, Level.FINE, "Tunnel gone: letting the stream flush to its local socket");
            finisher = Thread.ofVirtual().name("nc-finish-" + cid).start(() -> {
                try {
                    Thread.sleep(FINISH_GRACE_MILLIS);
                    close(result, false);
                } catch (InterruptedException ignored) {
                    // the stream finished on its own
                }
            });
            if (closed.get()) {
                finisher.interrupt();
            }
            return;
        }
        close(result, false);
    }

    long idleNanos(long now) {
        return now - lastActivityNanos;
    }

    /**
     * End the stream once. Removes it from its table, optionally sends RST, closes the socket.
     *
     * @param reason why, null for a clean end (both FINs); the result in metrics is its wire value or {@code ok}
     * @param sendRst whether to tell the peer with RST (false when the peer reset it or the tunnel is gone)
     */
    private void close(ResetReason reason, boolean sendRst) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        String result = reason == null ? "ok" : reason.wire();
        table.remove(this);
        if (sendRst && reason != null) {
            try {
                table.sink().sendUrgent(new Frame.Rst(cid, reason.wire()));
            } catch (IOException | RuntimeException ignored) {
                // the tunnel is gone: the peer drops the stream with it
            }
        }
        Socket s = socket;
        if (s != null) {
            if (reason != null) {
                // a reset must reach the local peer as a reset (RST), not as a clean end (FIN): a client or target
                // reading to EOF would otherwise take a cut-short stream for a complete one
                try {
                    s.setSoLinger(true, 0);
                } catch (IOException | RuntimeException ignored) {
                    // already closed
                }
            }
            closeQuietly(s);
        }
        Thread f = finisher;
        if (f != null && f != Thread.currentThread()) {
            f.interrupt();
        }
        account.releaseReceived(inbound.close());
        flow.close(); // wakes the socket reader if it waits for credit
        table.observer().closed(connector, result);
        table.observer().ended(StreamEnd.of(cid, connector, result, outbound, bytesRead, bytesWritten, openedNanos, s));
        Event.of("stream_closed").with("cid", cid).with("connector", connector).with("reason", result)
                .log(LOGGER, Level.FINE, "Stream closed");
    }

    private void socketReadLoop() {
        // small while idle (most streams, at scale), the largest frame payload once a read fills it (ReadBuffer)
        int payload = table.maxPayload();
        // bin1 DATA carries at most MAX_DATA_PAYLOAD bytes, whatever NC_MAX_WS_PAYLOAD says
        ReadBuffer buf = new ReadBuffer(account, Math.min(IDLE_READ_BUFFER, payload),
                                        flow.enabled() ? BinaryCodec.MAX_DATA_PAYLOAD : payload);
        long seq = 0;
        try {
            InputStream in = socket.getInputStream();
            while (true) {
                if (flow.enabled() && flow.credit() <= 0) {
                    // about to wait for credit, maybe for good (a peer that stopped reading): hold no large buffer
                    // meanwhile (2,000 such streams x 64 KiB were more than the agent's whole heap)
                    buf.shrink();
                }
                int room = buf.array().length;
                if (flow.enabled()) {
                    long c = flow.awaitCredit(table.observer());
                    if (c <= 0) {
                        return;
                    }
                    room = (int) Math.min(room, c);
                }
                int n;
                try {
                    n = in.read(buf.array(), 0, room);
                } catch (IOException e) {
                    if (!closed.get()) {
                        Event.of("stream_read_failed").with("cid", cid).with("connector", connector)
                                .log(LOGGER, Level.FINE, "Local socket failed: " + e.getMessage());
                        close(ResetReason.RESET, true);
                    }
                    return;
                }
                if (n < 0) {
                    break;
                }
                if (closed.get()) {
                    return;
                }
                touch();
                // the frame waits in the tunnel's send lane until written: charged to the budget until then; a full
                // budget holds this socket reader (the bytes wait in its buffer), never more memory
                int charge = frameCharge(n);
                if (!account.acquireToSend(charge, buf.isSmall(n), closed::get)) {
                    return;
                }
                if (flow.enabled()) {
                    flow.take(n);
                }
                table.observer().bytes(connector, outbound, n);
                bytesRead += n;
                table.sink().sendData(cid, connector, seq++, buf.array(), n, () -> account.releaseSent(charge));
                // bulk reads more at once next time; quiet again (less than asked, not the credit) holds no large one
                buf.adapt(n, room);
            }
            if (closed.get()) {
                return;
            }
            table.sink().send(new Frame.Fin(cid, outbound));
            finSent = true;
            Event.of("stream_fin_sent").with("cid", cid).with("connector", connector).with("dir", outbound.wire())
                    .log(LOGGER, Level.FINE, "Local side finished sending");
            if (finApplied) {
                close(null, false);
            }
        } catch (IOException | RuntimeException e) {
            // the tunnel refused the frame: it is gone, and every stream with it
            close(ResetReason.WS_BROKEN, false);
        } finally {
            buf.close();
        }
    }

    /** What a DATA frame of {@code n} payload bytes is charged while it waits to be written to the tunnel. */
    private int frameCharge(int n) {
        // bin1: payload, header and queue entry; v1: base64 (4/3) in a JSON object
        int bytes = flow.enabled() ? n + InboundQueue.ENTRY_OVERHEAD : (n + 2) / 3 * 4 + 2 * InboundQueue.ENTRY_OVERHEAD;
        return MemoryBudget.round(bytes);
    }

    /**
     * A writer session: write what the queue holds until the FIN was applied, the stream closed, or the queue was empty
     * (when not to wait) or quiet for a while (when waiting: the idle sweep retires it).
     */
    private void socketWriteLoop(boolean wait) {
        List<InboundQueue.Entry> pending = new ArrayList<>();
        try {
            OutputStream out = socket.getOutputStream();
            while (true) {
                pending.clear();
                // everything already queued in one call: fewer system calls when the socket lags behind
                InboundQueue.Take took = inbound.take(pending, wait);
                if (took == InboundQueue.Take.NONE) {
                    return;
                }
                boolean fin = took == InboundQueue.Take.FIN;
                int bytes = 0;
                try {
                    bytes = InboundQueue.writeTo(out, pending);
                    InboundQueue.recycle(pending);
                    if (bytes > 0) {
                        touch();
                        table.observer().bytes(connector, outbound.opposite(), bytes);
                        bytesWritten += bytes;
                    }
                } finally {
                    account.releaseReceived(inbound.written(pending));
                }
                if (inbound.size() < table.settings().queueDepth()) {
                    overDepthSinceNanos = 0;
                }
                if (bytes > 0 && flow.enabled() && !fin) {
                    long increment = flow.consumed(bytes, inbound.isEmpty());
                    if (increment > 0) {
                        sendWindow(increment);
                    }
                }
                if (fin) {
                    socket.shutdownOutput();
                    finApplied = true;
                    Event.of("stream_fin_applied").with("cid", cid).with("connector", connector)
                            .with("dir", outbound.opposite().wire())
                            .log(LOGGER, Level.FINE, "Peer finished sending: half-closed the local socket");
                    if (finSent) {
                        close(null, false);
                    }
                    return;
                }
            }
        } catch (InterruptedException e) {
            // nothing interrupts a writer; if something did, the stream is left without one: end it
            close(ResetReason.RESET, true);
        } catch (IOException e) {
            if (!closed.get() && !(e instanceof SocketException && socket.isClosed())) {
                Event.of("stream_write_failed").with("cid", cid).with("connector", connector)
                        .log(LOGGER, Level.FINE, "Local socket failed: " + e.getMessage());
                close(ResetReason.RESET, true);
            }
        }
    }

    /** Return credit with a WINDOW on the urgent lane, so credit never waits behind bulk DATA. */
    private void sendWindow(long increment) {
        try {
            table.sink().sendUrgent(new Frame.Window(cid, increment));
        } catch (IOException | RuntimeException ignored) {
            // the tunnel is gone, and the stream with it
        }
    }

    private void touch() {
        lastActivityNanos = System.nanoTime();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
