package io.nowconnect.stream;

import java.io.IOException;

import io.nowconnect.protocol.Frame;

/** Where streams send their frames: the tunnel's writer. Implementations are thread-safe. */
public interface FrameSink {
    /**
     * Send one frame in order (DATA, FIN, OPEN), blocking while the tunnel is busy (back-pressure).
     *
     * @param frame frame to send
     * @throws IOException when the tunnel is gone
     */
    void send(Frame frame) throws IOException;

    /**
     * Send a frame that may overtake queued ones (RST); never blocks, so the tunnel's reader may use it.
     *
     * @param frame frame to send
     * @throws IOException when the tunnel is gone
     */
    void sendUrgent(Frame frame) throws IOException;
}
