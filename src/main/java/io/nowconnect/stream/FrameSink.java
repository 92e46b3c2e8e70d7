package io.nowconnect.stream;

import java.io.IOException;

import io.nowconnect.protocol.Frame;

/**
 * Where a stream sends its frames: the tunnel's one send path ({@code mux.MuxSink}). DATA goes through
 * {@link #sendData}, FIN in order and RST and WINDOW urgent through {@link #send}. Implementations are thread-safe.
 */
public interface FrameSink {
    /**
     * Send a stream's DATA in its order, blocking while the tunnel holds much of this stream already; streams share the
     * tunnel fairly. The bytes are copied before this returns, so the caller may reuse {@code buf}.
     *
     * @param cid stream id
     * @param connector the stream's connector (a connector's streams share its turns in the tunnel's writer)
     * @param seq sequence number
     * @param buf bytes to send
     * @param length how many of them, from the start
     * @param taken run exactly once: when the frame was written to the tunnel, dropped with it, or refused (then before
     *              this throws); the stream gives back its memory charge then. May be null.
     * @throws IOException when the tunnel is gone
     */
    void sendData(String cid, String connector, long seq, byte[] buf, int length, Runnable taken) throws IOException;

    /**
     * Send one of a stream's frames other than DATA.
     *
     * @param frame FIN, RST or WINDOW
     * @param urgent {@code false}: in order (FIN), blocking while the tunnel is busy (back-pressure); {@code true}: may
     *               overtake queued frames (RST; WINDOW always does) and never blocks, so the tunnel's reader may use it
     * @throws IOException when the tunnel is gone
     * @throws IllegalArgumentException for DATA ({@link #sendData}) and frames that are not a stream's
     */
    void send(Frame frame, boolean urgent) throws IOException;

    /**
     * Send one frame in order, blocking while the tunnel is busy.
     *
     * @param frame frame to send
     * @throws IOException when the tunnel is gone
     */
    default void send(Frame frame) throws IOException {
        send(frame, false);
    }

    /**
     * Send a frame that may overtake queued ones; never blocks.
     *
     * @param frame frame to send
     * @throws IOException when the tunnel is gone
     */
    default void sendUrgent(Frame frame) throws IOException {
        send(frame, true);
    }
}
