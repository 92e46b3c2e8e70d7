package io.nowconnect.stream;

import io.nowconnect.protocol.Direction;

/**
 * Receives stream events for metrics and logs. Called on stream threads, the tunnel's reader and its writer's
 * producers; implementations must be thread-safe and must not block (no locks here). Labels are connector names and
 * reasons, never a {@code cid}.
 */
public interface StreamObserver {
    /** Observer that ignores everything. */
    StreamObserver NONE = new StreamObserver() { };

    /**
     * An observer that tells both.
     *
     * @param first first observer
     * @param second second observer
     * @return combined observer
     */
    static StreamObserver both(StreamObserver first, StreamObserver second) {
        if (second == NONE) {
            return first;
        }
        return new StreamObserver() {
            @Override
            public void opened(String connector) {
                first.opened(connector);
                second.opened(connector);
            }

            @Override
            public void closed(String connector, String result) {
                first.closed(connector, result);
                second.closed(connector, result);
            }

            @Override
            public void ended(StreamEnd end) {
                first.ended(end);
                second.ended(end);
            }

            @Override
            public void refused(String connector, String result) {
                first.refused(connector, result);
                second.refused(connector, result);
            }

            @Override
            public void bytes(String connector, Direction direction, int bytes) {
                first.bytes(connector, direction, bytes);
                second.bytes(connector, direction, bytes);
            }

            @Override
            public void connectTime(String connector, long nanos) {
                first.connectTime(connector, nanos);
                second.connectTime(connector, nanos);
            }

            @Override
            public void dropped(String reason) {
                first.dropped(reason);
                second.dropped(reason);
            }

            @Override
            public void wire(WireEvent event) {
                first.wire(event);
                second.wire(event);
            }
        };
    }

    /**
     * A stream was accepted and registered.
     *
     * @param connector connector name
     */
    default void opened(String connector) {
    }

    /**
     * A stream ended.
     *
     * @param connector connector name
     * @param result {@code ok} after both FINs, otherwise the reset reason ({@code connect_failed}, ...)
     */
    default void closed(String connector, String result) {
    }

    /**
     * A stream ended: its record for the access log, told right after {@link #closed}.
     *
     * @param end what the stream did
     */
    default void ended(StreamEnd end) {
    }

    /**
     * An OPEN was refused before any stream existed.
     *
     * @param connector connector name as received (bounded by the caller to known names or {@code other})
     * @param result reason
     */
    default void refused(String connector, String result) {
    }

    /**
     * Payload bytes moved.
     *
     * @param connector connector name
     * @param direction {@code c2a} or {@code a2c}
     * @param bytes number of bytes
     */
    default void bytes(String connector, Direction direction, int bytes) {
    }

    /**
     * A target connection was established (agent side).
     *
     * @param connector connector name
     * @param nanos time the connect took
     */
    default void connectTime(String connector, long nanos) {
    }

    /**
     * A frame was dropped (unknown cid, malformed, ...).
     *
     * @param reason low-cardinality reason
     */
    default void dropped(String reason) {
    }

    /**
     * A stream frame travelled, or flow control acted (see {@link WireEvent}). Called for every DATA frame: must be
     * cheap.
     *
     * @param event what happened
     */
    default void wire(WireEvent event) {
    }
}
