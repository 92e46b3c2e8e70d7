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
 */
public record StreamSettings(int maxPayload, int queueDepth, Duration idleTimeout, Duration connectTimeout, int maxInflight) {
}
