package io.nowconnect.stream;

import java.time.Duration;

/**
 * Limits of the streams on a tunnel. Immutable.
 *
 * @param maxPayload most raw bytes per DATA frame
 * @param queueDepth frames buffered toward the local socket before the stream is reset with {@code queue_overflow}
 *                   (v1 only: with {@code bin1} the flow-control window bounds the bytes instead)
 * @param idleTimeout a stream with no bytes either way for this long is ended; zero disables
 * @param connectTimeout timeout dialling a target
 * @param maxInflight most concurrent streams
 * @param sendBuffer the kernel send buffer ({@code SO_SNDBUF}) of each stream's local socket in bytes, 0 to leave it to
 *                   the kernel's own sizing (which on loopback lets one socket hold megabytes for a peer that does not
 *                   read)
 */
public record StreamSettings(int maxPayload, int queueDepth, Duration idleTimeout, Duration connectTimeout, int maxInflight,
                             int sendBuffer) {
    /**
     * Settings that leave the local sockets' send buffers to the kernel.
     *
     * @param maxPayload most raw bytes per DATA frame
     * @param queueDepth v1: frames buffered toward the local socket
     * @param idleTimeout idle timeout, zero for none
     * @param connectTimeout timeout dialling a target
     * @param maxInflight most concurrent streams
     */
    public StreamSettings(int maxPayload, int queueDepth, Duration idleTimeout, Duration connectTimeout, int maxInflight) {
        this(maxPayload, queueDepth, idleTimeout, connectTimeout, maxInflight, 0);
    }
}
