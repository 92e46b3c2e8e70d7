package io.nowconnect.stream;

import java.io.IOException;

import io.nowconnect.protocol.Frame;

/** Where streams send their frames: the tunnel's serialized writer. Implementations are thread-safe. */
@FunctionalInterface
public interface FrameSink {
    /**
     * Send one frame, blocking while the tunnel's socket is busy (back-pressure).
     *
     * @param frame frame to send
     * @throws IOException when the tunnel is gone
     */
    void send(Frame frame) throws IOException;
}
