package io.nowconnect.protocol;

/**
 * Why a stream ended other than cleanly: the {@code err} values of RST that this project sends (a receiver accepts any
 * string), and the same values as the {@code result} label of stream metrics. Two are also local results: {@link #RESET}
 * when the peer reset the stream, and {@link #WS_BROKEN} when the tunnel ended under it (nothing can be sent then).
 */
public enum ResetReason {
    CONNECT_FAILED("connect_failed"),
    WS_BROKEN("ws_broken"),
    QUEUE_OVERFLOW("queue_overflow"),
    UNKNOWN_CONNECTOR("unknown_connector"),
    IDLE_TIMEOUT("idle_timeout"),
    DUPLICATE_CID("duplicate_cid"),
    TOO_MANY_STREAMS("too_many_streams"),
    DRAINING("draining"),
    RESET("reset"),
    /** {@code bin1}: the peer sent more DATA bytes than the stream's window allowed. */
    FLOW_CONTROL("flow_control"),
    /** A DATA frame whose payload exceeds the protocol's maximum (the larger of 65536 and {@code max_ws_payload}). */
    OVERSIZED("oversized"),
    /** {@code bin1}: an OPEN whose cid does not fit a binary frame (more than 255 UTF-8 bytes). */
    BAD_CID("bad_cid");

    private final String wire;

    ResetReason(String wire) {
        this.wire = wire;
    }

    /**
     * Value on the wire.
     *
     * @return wire value
     */
    public String wire() {
        return wire;
    }
}
