package io.nowconnect.tunnel;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.config.Target;
import io.nowconnect.log.Event;
import io.nowconnect.mux.Mux;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.stream.Stream;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.StreamRefusedException;
import io.nowconnect.stream.StreamTable;

/**
 * The agent's answer to OPEN: a stream for an exported connector, whose target is dialled on a virtual thread of its
 * own (the tunnel's reader never waits for a connect), or an RST saying why not. Holds no state but its settings;
 * {@link #onOpen} runs on the tunnel's reader thread.
 */
final class Dialer {
    private static final Logger LOGGER = Logger.getLogger(Dialer.class.getName());

    private final Map<String, Target> connectors;
    private final Duration connectTimeout;

    Dialer(Map<String, Target> connectors, Duration connectTimeout) {
        this.connectors = connectors;
        this.connectTimeout = connectTimeout;
    }

    /**
     * Serve or refuse an OPEN.
     *
     * @param mux the tunnel
     * @param open the frame
     * @param refuse whether new streams are refused (the agent is stopping)
     */
    void onOpen(Mux mux, Frame.Open open, boolean refuse) {
        Target target = connectors.get(open.connector());
        StreamTable table = mux.streams();
        ResetReason refusal = null;
        if (target == null) {
            refusal = ResetReason.UNKNOWN_CONNECTOR;
        } else if (refuse) {
            refusal = ResetReason.DRAINING;
        } else if (mux.has(Capability.BIN1) && !BinaryCodec.fits(open.cid())) {
            refusal = ResetReason.BAD_CID;
        }
        if (refusal == null) {
            try {
                Stream stream = table.register(open.cid(), open.connector());
                Event.of("stream_open").with("cid", open.cid()).with("connector", open.connector())
                        .log(LOGGER, Level.FINE, "OPEN: dialling " + target);
                table.startThread("nc-dial-" + open.cid(), open.connector(),
                                  () -> dial(stream, target, table.observer()), () -> stream.reset(ResetReason.RESET));
                return;
            } catch (StreamRefusedException e) {
                refusal = e.reason();
                Optional<Stream> live = refusal == ResetReason.DUPLICATE_CID ? table.get(open.cid()) : Optional.empty();
                if (live.isPresent()) {
                    // the RST we answer names a live cid: the hub will take that stream for dead, so end it here too
                    // rather than keep a target connection that nobody will ever use
                    table.observer().refused(open.connector(), refusal.wire());
                    Event.of("stream_refused").with("cid", open.cid()).with("connector", open.connector())
                            .with("reason", refusal.wire()).log(LOGGER, Level.FINE, "Duplicate OPEN: resetting the stream");
                    live.get().reset(ResetReason.DUPLICATE_CID);
                    return;
                }
            }
        }
        // an unknown connector name is attacker-controlled: keep it out of metric labels
        table.observer().refused(target == null ? "unknown" : open.connector(), refusal.wire());
        Event.of("stream_refused").with("cid", open.cid()).with("connector", open.connector())
                .with("reason", refusal.wire()).log(LOGGER, Level.FINE, "OPEN refused");
        mux.sendUrgent(new Frame.Rst(open.cid(), refusal.wire()));
    }

    /**
     * Dial a stream's target on the calling (virtual) thread, which then writes what came meanwhile as the stream's
     * socket writer (the client's first bytes are often queued by then; later bytes start a writer of their own) while
     * the reader gets a thread of its own; RST
     * {@code connect_failed} when the target cannot be reached within the connect timeout. A connected socket never
     * outlives a failed start.
     */
    private void dial(Stream stream, Target target, StreamObserver observer) {
        Socket s = new Socket();
        long start = System.nanoTime();
        try {
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(target.host(), target.port()), (int) connectTimeout.toMillis());
        } catch (IOException | RuntimeException e) {
            closeQuietly(s);
            Event.of("stream_connect_failed").with("cid", stream.cid()).with("connector", stream.connector())
                    .with("reason", e.getClass().getSimpleName())
                    .with("error", e.getClass().getSimpleName() + ": " + e.getMessage())
                    .log(LOGGER, Level.FINE, "Target " + target + " unreachable: " + e.getMessage());
            stream.reset(ResetReason.CONNECT_FAILED);
            return;
        }
        try {
            observer.connectTime(stream.connector(), System.nanoTime() - start);
            if (LOGGER.isLoggable(Level.FINE)) {
                Event.of("stream_connected").with("cid", stream.cid()).with("connector", stream.connector())
                        .with("local_port", s.getLocalPort()).log(LOGGER, Level.FINE, "Connected to " + target);
            }
            stream.run(s, Stream.Pump.WRITER);
        } catch (RuntimeException e) {
            closeQuietly(s);
            stream.reset(ResetReason.RESET);
            throw e;
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
