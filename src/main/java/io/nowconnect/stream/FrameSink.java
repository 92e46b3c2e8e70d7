package io.nowconnect.stream;

import java.io.IOException;

import io.nowconnect.protocol.Frame;

/** Where streams send their frames: the tunnel's writer. Implementations are thread-safe. */
@FunctionalInterface
public interface FrameSink {
    /**
     * Send one frame.
     *
     * @param frame frame to send
     * @param urgent {@code false}: in order (DATA, FIN, OPEN), blocking while the tunnel is busy (back-pressure);
     *               {@code true}: may overtake queued frames (RST, WINDOW) and never blocks, so the tunnel's reader may
     *               use it
     * @throws IOException when the tunnel is gone
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
