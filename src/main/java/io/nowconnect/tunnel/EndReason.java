package io.nowconnect.tunnel;

import io.nowconnect.mux.End;
import io.nowconnect.mux.MuxReason;

/** Why a tunnel connection ended, with the label used in logs and metrics ({@code reason}). */
public enum EndReason implements End.Reason {
    /** The hub closed the WebSocket or the TCP connection. */
    CLOSED("closed"),
    /** The upgrade was refused with 401 or 403. */
    AUTH_FAILED("auth_failed"),
    /** The hub answered the upgrade with something other than a valid 101. */
    HANDSHAKE_FAILED("handshake_failed"),
    /** No TCP or TLS connection to the hub. */
    CONNECT_FAILED("connect_failed"),
    /** The proxy could not be reached, refused CONNECT (e.g. 407) or could not reach the hub. */
    PROXY_FAILED("proxy_failed"),
    /** The TLS handshake with the hub failed: untrusted, expired or mismatching certificate, rejected client certificate. */
    TLS_FAILED("tls_failed"),
    /** No pong within the ping timeout. */
    PING_TIMEOUT("ping_timeout"),
    /** A write to the hub made no progress for the ping timeout: the hub stopped reading. */
    WRITE_STALLED("write_stalled"),
    /** No HELLO_ACK in time. */
    HELLO_TIMEOUT("hello_timeout"),
    /** Reading or writing the tunnel failed. */
    IO_ERROR("io_error"),
    /** The hub broke the WebSocket protocol (oversized or invalid frames). */
    PROTOCOL_ERROR("protocol_error"),
    /** The token file could not be read. */
    TOKEN_ERROR("token_error"),
    /** Closed by us after draining (shutdown or graceful reconnect). */
    DRAINED("drained"),
    /** Closed by us after draining, because a newer tunnel took over (token rotated, configuration changed). */
    ROTATED("rotation"),
    /** Closed by us after the ack: it reached a hub replica that another tunnel of the pool holds. */
    REPLICA_HELD("replica_held"),
    /** Closed by us because the agent is stopping. */
    SHUTDOWN("shutdown");

    private final String label;

    EndReason(String label) {
        this.label = label;
    }

    /**
     * Label for logs and metrics.
     *
     * @return label
     */
    @Override
    public String label() {
        return label;
    }

    /**
     * Whether this ending is a failure (logged with an {@code error} field, kept as {@code last_error}) rather than our
     * own orderly close (drain, rotation, shutdown).
     *
     * @return true for a failure
     */
    public boolean isFailure() {
        return this != DRAINED && this != ROTATED && this != SHUTDOWN && this != REPLICA_HELD;
    }

    /**
     * The agent's reason for how a tunnel ended.
     *
     * @param reason the multiplexer's or one of ours
     * @return the reason
     */
    public static EndReason of(End.Reason reason) {
        if (reason instanceof EndReason e) {
            return e;
        }
        return switch ((MuxReason) reason) {
        case CLOSED -> CLOSED;
        case PROTOCOL_ERROR -> PROTOCOL_ERROR;
        case IO_ERROR -> IO_ERROR;
        case HELLO_TIMEOUT -> HELLO_TIMEOUT;
        case PING_TIMEOUT -> PING_TIMEOUT;
        case WRITE_STALLED -> WRITE_STALLED;
        };
    }
}
