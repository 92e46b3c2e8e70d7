package io.nowconnect.tunnel;

import io.nowconnect.mux.End;
import io.nowconnect.mux.MuxReason;

/**
 * The agent's own reasons a tunnel connection ends, with the label used in logs and metrics ({@code reason}). They add
 * to the multiplexer's ({@link MuxReason}: closed, protocol error, I/O error, HELLO or ping timeout, write stalled),
 * which a {@link TunnelEnd} carries as they are: both are an {@link End.Reason}. Immutable.
 */
public enum EndReason implements End.Reason {
    /** The upgrade was refused with 401 or 403. */
    AUTH_FAILED("auth_failed", false),
    /** The hub answered the upgrade with something other than a valid 101. */
    HANDSHAKE_FAILED("handshake_failed", false),
    /** No TCP or TLS connection to the hub. */
    CONNECT_FAILED("connect_failed", false),
    /** The proxy could not be reached, refused CONNECT (e.g. 407) or could not reach the hub. */
    PROXY_FAILED("proxy_failed", false),
    /** The TLS handshake with the hub failed: untrusted, expired or mismatching certificate, rejected client certificate. */
    TLS_FAILED("tls_failed", false),
    /** The token file could not be read. */
    TOKEN_ERROR("token_error", false),
    /** Closed by us after draining (shutdown or graceful reconnect). */
    DRAINED("drained", true),
    /** Closed by us after draining, because a newer tunnel took over (token rotated, configuration changed). */
    ROTATED("rotation", true),
    /** Closed by us after the ack: it reached a hub replica that another tunnel of the pool holds. */
    REPLICA_HELD("replica_held", true),
    /** Closed by us because the agent is stopping. */
    SHUTDOWN("shutdown", true);

    private final String label;
    private final boolean orderly;

    EndReason(String label, boolean orderly) {
        this.label = label;
        this.orderly = orderly;
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
     * Whether an ending is a failure (logged with an {@code error} field, kept as {@code last_error}) rather than our
     * own orderly close (drain, rotation, shutdown, replica held). Every reason of the multiplexer is a failure.
     *
     * @param reason the multiplexer's or one of ours
     * @return true for a failure
     */
    public static boolean isFailure(End.Reason reason) {
        return !(reason instanceof EndReason own && own.orderly);
    }
}
