package io.nowconnect.mux;

import java.time.Duration;

import io.nowconnect.stream.StreamSettings;

/**
 * A tunnel's settings. Immutable.
 *
 * @param side which end
 * @param streams stream limits
 * @param pingInterval how often to ping
 * @param pingTimeout how long a ping may go unanswered (with nothing else received), and the HELLO deadline
 * @param maxMessage largest message accepted from the peer
 */
public record MuxSettings(Side side, StreamSettings streams, Duration pingInterval, Duration pingTimeout, int maxMessage) {
}
