package io.nowconnect.mux;

import java.io.IOException;

import io.nowconnect.log.Event;
import io.nowconnect.protocol.Frame;

/**
 * What differs between the two ends of a tunnel: the agent's {@code tunnel.TunnelConnection} and the hub's
 * {@code hub.AgentTunnel} each implement it. Methods run on the tunnel's reader thread (or, {@link #everySecond}, the
 * shared timer) and must not block.
 */
public interface Role {
    /**
     * A frame that is not a stream's (HELLO, HELLO_ACK, WELCOME, OPEN, DRAIN) arrived.
     *
     * @param frame the frame
     */
    void onControl(Frame frame);

    /**
     * Whether a frame just decoded may be handled, asked before every frame (the hub wants HELLO first).
     *
     * @param frame the frame
     * @return false to drop it: the role has counted it, logged it and acted (e.g. closed the tunnel)
     */
    default boolean admits(Frame frame) {
        return true;
    }

    /**
     * The first thing on a new tunnel, on the reader thread before the first read (the agent says HELLO).
     *
     * @throws IOException when a frame could not be sent
     */
    default void started() throws IOException {
    }

    /**
     * Once a second, on the shared timer (the hub checks its token's expiry); must not block.
     */
    default void everySecond() {
    }

    /**
     * A ping of ours was answered.
     *
     * @param rttNanos round-trip time
     */
    default void pingAnswered(long rttNanos) {
    }

    /**
     * Fields that identify the tunnel in log events (e.g. the agent id).
     *
     * @param event event to complete
     * @return the event
     */
    default Event tag(Event event) {
        return event;
    }
}
