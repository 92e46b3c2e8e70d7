package io.nowconnect.stream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.config.Target;
import io.nowconnect.log.Event;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;

/**
 * One TCP connection carried over the tunnel as a {@code cid}.
 *
 * <p>Threads: the tunnel's reader calls {@link #onData}, {@link #onFin} and {@link #onRst}; these only enqueue and
 * never touch the socket. A <em>writer</em> virtual thread drains the bounded queue into the socket (and applies the
 * remote FIN as a half-close); a <em>reader</em> virtual thread reads the socket and sends DATA, then FIN at EOF.
 * {@link #close} is idempotent and may be called from any thread; it closes the socket, which unblocks both pumps.
 *
 * <p>Locks: one, {@link #creditLock}, guards the send credit and the growth of the receive window; nothing else is
 * locked. Whether the stream ended is the {@link #closed} flag (set once); the rest is volatile, or owned by one of
 * the two pump threads as marked.
 *
 * <p>v1: the queue holds at most {@code queueDepth} frames; a peer that outruns the socket gets RST
 * {@code queue_overflow}. {@code bin1} (a window &gt; 0): credit-based flow control. The reader thread sends DATA only
 * within the credit the peer granted (the window at the start, then every WINDOW increment) and waits for more when it
 * runs out; the queue then has no frame limit, because the peer may never have more than the window unreturned: the
 * writer thread returns credit with a WINDOW once it has written half a window of bytes to the socket, and a peer that
 * exceeds the window gets RST {@code flow_control}. The receive window starts at {@link BinaryCodec#INITIAL_WINDOW} and
 * doubles (up to {@link BinaryCodec#MAX_WINDOW}, within the tunnel's growth budget) each time credit is returned while
 * the socket has written everything queued: the local side keeps up, so the credit's round trip is what limits the
 * stream. A stream whose local side lags never grows. The reader reads into a small buffer while the stream is quiet
 * and into a {@link BinaryCodec#MAX_DATA_PAYLOAD} one while reads fill it (bulk), so idle streams stay cheap.
 */
public final class Stream {
    private static final Logger LOGGER = Logger.getLogger(Stream.class.getName());
    /** How long a finished stream may still flush to its local socket after its tunnel ended. */
    private static final long FINISH_GRACE_MILLIS = 30_000;
    /** Read buffer of a quiet stream: requests and answers of most protocols fit; a full read grows it. */
    private static final int IDLE_READ_BUFFER = 2048;
    /** v1: how long a stream may keep more than its queue depth of frames before it is reset. */
    static final long OVERFLOW_GRACE_NANOS = 2_000_000_000L;

    private final String cid;
    private final String connector;
    private final StreamTable table;
    private final Direction outbound;
    /** Received and not yet written to the socket, charged to the process's {@link MemoryBudget}. */
    private final InboundQueue inbound = new InboundQueue();
    private final MemoryBudget memory;
    /** bin1: the receive window this side granted at the start, 0 for v1 (no flow control). */
    private final int window;
    /** v1: since when more than the queue depth of frames wait (0 when not); tunnel reader and writer thread. */
    private volatile long overDepthSinceNanos;
    /** bin1: how many unreturned bytes the peer may send; grows from {@link #window}. Set by the writer thread. */
    private volatile int receiveWindow;
    /** bin1: bytes received from the peer and not yet returned with WINDOW; at most {@link #receiveWindow}. */
    private final AtomicLong unreturned = new AtomicLong();
    /** Guards {@link #credit} and window growth; the reader thread waits on {@link #creditChanged} (bin1). */
    private final ReentrantLock creditLock = new ReentrantLock();
    private final Condition creditChanged = creditLock.newCondition();
    /** bin1: bytes the peer still lets us send. Guarded by {@link #creditLock}. */
    private long credit;
    /** bin1, writer thread only: bytes written to the socket since the last WINDOW. */
    private long consumedSinceWindow;
    private final AtomicBoolean closed = new AtomicBoolean();

    private volatile Socket socket;
    private volatile Thread writer;
    private volatile long lastActivityNanos = System.nanoTime();
    private volatile boolean finSent;
    private volatile boolean finApplied;
    private volatile boolean finQueued;
    private volatile Thread finisher;
    // tunnel reader thread only
    private long expectedSeqIn;

    Stream(String cid, String connector, StreamTable table) {
        this.cid = cid;
        this.connector = connector;
        this.table = table;
        this.outbound = table.outbound();
        this.memory = table.memory();
        this.window = table.flowWindow();
        this.receiveWindow = window;
        this.credit = table.sendWindow();
    }

    /**
     * Stream id.
     *
     * @return cid
     */
    public String cid() {
        return cid;
    }

    /**
     * Connector this stream belongs to.
     *
     * @return connector name
     */
    public String connector() {
        return connector;
    }

    /**
     * Whether the stream has ended.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Dial the target on the calling thread (use a virtual thread), then start pumping; RST {@code connect_failed}
     * when the target cannot be reached within the connect timeout.
     *
     * @param target where to connect
     */
    public void dial(Target target) {
        Socket s = new Socket();
        long start = System.nanoTime();
        try {
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(target.host(), target.port()),
                      (int) table.settings().connectTimeout().toMillis());
        } catch (IOException | RuntimeException e) {
            closeQuietly(s);
            Event.of("stream_connect_failed").with("cid", cid).with("connector", connector)
                    .with("reason", e.getClass().getSimpleName())
                    .with("error", e.getClass().getSimpleName() + ": " + e.getMessage()) // issue 18: error on failures
                    .log(LOGGER, Level.FINE, "Target " + target + " unreachable: " + e.getMessage());
            close(ResetReason.CONNECT_FAILED, true);
            return;
        }
        try {
            table.observer().connectTime(connector, System.nanoTime() - start);
            if (LOGGER.isLoggable(Level.FINE)) {
                Event.of("stream_connected").with("cid", cid).with("connector", connector).with("local_port", s.getLocalPort())
                        .log(LOGGER, Level.FINE, "Connected to " + target);
            }
            start(s);
        } catch (RuntimeException e) {
            // nothing may leave a connected socket without its stream: close both
            closeQuietly(s);
            close(ResetReason.RESET, true);
            throw e;
        }
    }

    /**
     * Start pumping an already connected socket.
     *
     * @param connected the local socket
     */
    public void start(Socket connected) {
        this.socket = connected;
        if (closed.get()) {
            // closed while connecting (RST from the peer, tunnel dropped)
            closeQuietly(connected);
            return;
        }
        touch();
        writer = Thread.ofVirtual().name("nc-w-" + cid).start(this::writeLoop);
        Thread.ofVirtual().name("nc-r-" + cid).start(this::readLoop);
        if (closed.get()) {
            // lost a race with close(): make sure nothing stays open
            closeQuietly(connected);
            writer.interrupt();
        }
    }

    /**
     * Whether this stream uses {@code bin1} flow control.
     *
     * @return true with a window
     */
    public boolean flowControlled() {
        return window > 0;
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
        if (window > 0 && unreturned.addAndGet(length) > receiveWindow) {
            table.observer().wire(WireEvent.FLOW_CONTROL_RESET);
            Event.of("stream_flow_control").with("cid", cid).with("connector", connector)
                    .with("dir", outbound.opposite().wire())
                    .log(LOGGER, Level.FINE, "Peer sent more than the " + receiveWindow + " byte window: resetting");
            close(ResetReason.FLOW_CONTROL, true);
            return;
        }
        if (window == 0 && inbound.size() >= table.settings().queueDepth()) {
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
        if (charge > 0 && !memory.tryAcquire(charge) && !memory.reclaim(charge, this)) {
            // the process's budget is spent and this stream holds the most (or nothing could be freed)
            overflow();
            return;
        }
        if (!inbound.add(data.payload(), charge)) {
            memory.release(charge);
        }
    }

    /**
     * Reset this stream with {@code queue_overflow}: it holds too much (v1 queue depth past its grace, or the most of
     * a spent memory budget).
     */
    void overflow() {
        if (closed.get()) {
            return;
        }
        Event.of("stream_queue_overflow").with("cid", cid).with("connector", connector)
                .with("dir", outbound.opposite().wire()).with("held_bytes", inbound.charged())
                .log(LOGGER, Level.FINE, "Stream holds too much unwritten data: resetting");
        close(ResetReason.QUEUE_OVERFLOW, true);
    }

    /**
     * Memory this stream holds for its socket (received, not yet written).
     *
     * @return bytes charged to the budget
     */
    long heldBytes() {
        return inbound.charged();
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
        if (window == 0) {
            table.observer().dropped("unexpected_window");
            return;
        }
        boolean overflow;
        creditLock.lock();
        try {
            credit += increment;
            overflow = credit > BinaryCodec.MAX_UINT32;
            creditChanged.signalAll();
        } finally {
            creditLock.unlock();
        }
        if (overflow) {
            table.observer().wire(WireEvent.FLOW_CONTROL_RESET);
            close(ResetReason.FLOW_CONTROL, true);
        }
    }

    /**
     * Credit left to send (bin1), for tests and diagnostics.
     *
     * @return bytes, or -1 without flow control
     */
    long credit() {
        if (window == 0) {
            return -1;
        }
        creditLock.lock();
        try {
            return credit;
        } finally {
            creditLock.unlock();
        }
    }

    /**
     * Current receive window (bin1), for tests and diagnostics.
     *
     * @return bytes, 0 without flow control
     */
    int receiveWindow() {
        return receiveWindow;
    }

    /** FIN from the tunnel: half-close the socket's output once the queued bytes are written. */
    void onFin() {
        inbound.finish();
        finQueued = true;
    }

    /**
     * RST from the tunnel: close at once, sending nothing back.
     *
     * @param err the peer's reason
     */
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
        releaseGrowth();
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
        Thread w = writer;
        if (w != null) {
            w.interrupt();
        }
        Thread f = finisher;
        if (f != null && f != Thread.currentThread()) {
            f.interrupt();
        }
        memory.release(inbound.close());
        // wake a reader waiting for credit
        creditLock.lock();
        try {
            creditChanged.signalAll();
        } finally {
            creditLock.unlock();
        }
        table.observer().closed(connector, result);
        Event.of("stream_closed").with("cid", cid).with("connector", connector).with("reason", result)
                .log(LOGGER, Level.FINE, "Stream closed");
    }

    private void readLoop() {
        // idle streams (most of them, at scale) hold a small buffer while blocked in read; one full read makes it
        // the largest frame payload
        int payload = table.maxPayload();
        int small = Math.min(IDLE_READ_BUFFER, payload);
        // bin1 DATA carries at most MAX_DATA_PAYLOAD bytes, whatever NC_MAX_WS_PAYLOAD says
        int large = window > 0 ? BinaryCodec.MAX_DATA_PAYLOAD : payload;
        byte[] buf = new byte[small];
        long seq = 0;
        try {
            InputStream in = socket.getInputStream();
            while (true) {
                if (window > 0 && buf.length > small && credit() <= 0) {
                    // about to wait for credit, maybe for good (a peer that stopped reading): hold no large buffer
                    // meanwhile (2,000 such streams x 64 KiB were more than the agent's whole heap)
                    buf = new byte[small];
                }
                int room = buf.length;
                if (window > 0) {
                    long c = awaitCredit();
                    if (c <= 0) {
                        return;
                    }
                    room = (int) Math.min(room, c);
                }
                int n;
                try {
                    n = in.read(buf, 0, room);
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
                if (window > 0) {
                    takeCredit(n);
                }
                table.observer().bytes(connector, outbound, n);
                if (n == buf.length) {
                    // a full read hands its buffer over (no copy) and, bulk as it is, reads larger next time
                    table.sink().send(new Frame.Data(cid, seq++, buf));
                    buf = new byte[large];
                } else {
                    table.sink().send(new Frame.Data(cid, seq++, Arrays.copyOf(buf, n)));
                    if (n < small && buf.length > small) {
                        buf = new byte[small]; // quiet again: do not hold a large buffer while blocked in read
                    }
                }
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
        }
    }

    private void writeLoop() {
        List<InboundQueue.Entry> pending = new ArrayList<>();
        try {
            OutputStream out = socket.getOutputStream();
            while (!closed.get()) {
                pending.clear();
                // everything already queued in one call: fewer system calls when the socket lags behind
                boolean fin = inbound.takeAll(pending);
                int bytes = 0;
                for (InboundQueue.Entry e : pending) {
                    bytes += e.length();
                }
                try {
                    if (bytes > 0) {
                        if (pending.size() == 1) {
                            out.write(pending.getFirst().data(), 0, bytes);
                        } else {
                            byte[] all = new byte[bytes];
                            int pos = 0;
                            for (InboundQueue.Entry e : pending) {
                                System.arraycopy(e.data(), 0, all, pos, e.length());
                                pos += e.length();
                            }
                            out.write(all, 0, bytes);
                        }
                        touch();
                        table.observer().bytes(connector, outbound.opposite(), bytes);
                    }
                } finally {
                    memory.release(inbound.written(pending));
                }
                if (inbound.size() < table.settings().queueDepth()) {
                    overDepthSinceNanos = 0;
                }
                if (bytes > 0 && window > 0 && !fin) {
                    returnCredit(bytes, inbound.isEmpty());
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
            // closed
        } catch (IOException e) {
            if (!closed.get() && !(e instanceof SocketException && socket.isClosed())) {
                Event.of("stream_write_failed").with("cid", cid).with("connector", connector)
                        .log(LOGGER, Level.FINE, "Local socket failed: " + e.getMessage());
                close(ResetReason.RESET, true);
            }
        }
    }

    /**
     * Reader thread: wait until the peer lets us send (bin1).
     *
     * @return credit in bytes, or -1 once the stream is closed
     */
    private long awaitCredit() {
        creditLock.lock();
        try {
            if (credit <= 0) {
                table.observer().wire(WireEvent.CREDIT_WAIT);
            }
            while (credit <= 0 && !closed.get()) {
                creditChanged.await();
            }
            return closed.get() ? -1 : credit;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        } finally {
            creditLock.unlock();
        }
    }

    private void takeCredit(int n) {
        creditLock.lock();
        try {
            credit -= n;
        } finally {
            creditLock.unlock();
        }
    }

    /**
     * Writer thread: bytes reached the socket; once half a window has, return it to the peer with one WINDOW (on the
     * urgent lane, so credit never waits behind bulk DATA). The count is lowered before the WINDOW leaves, so DATA the
     * peer sends on the new credit can never look like a violation.
     */
    private void returnCredit(int bytes, boolean drained) {
        consumedSinceWindow += bytes;
        int current = receiveWindow;
        if (consumedSinceWindow < Math.max(1, current / 2)) {
            return;
        }
        long increment = consumedSinceWindow;
        consumedSinceWindow = 0;
        unreturned.addAndGet(-increment);
        if (drained && current < BinaryCodec.MAX_WINDOW && grow(current)) {
            increment += current;
        }
        try {
            table.sink().sendUrgent(new Frame.Window(cid, increment));
        } catch (IOException | RuntimeException ignored) {
            // the tunnel is gone, and the stream with it
        }
    }

    /**
     * Double the receive window if the tunnel's growth budget allows; it grows before the WINDOW that grants it leaves,
     * so the peer's use of the extra credit is never taken for a violation.
     */
    private boolean grow(int current) {
        creditLock.lock();
        try {
            if (closed.get() || !memory.reserveGrowth(current)) {
                return false;
            }
            receiveWindow = current * 2;
            return true;
        } finally {
            creditLock.unlock();
        }
    }

    /** Closing: give the growth back to the tunnel's budget (once; no growth after closed is set). */
    private void releaseGrowth() {
        creditLock.lock();
        try {
            if (receiveWindow > window) {
                memory.releaseGrowth(receiveWindow - window);
                receiveWindow = window;
            }
        } finally {
            creditLock.unlock();
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
