package io.nowconnect.mux;

/** The reasons a tunnel ends that the multiplexer itself sees, the same on both ends. Immutable. */
public enum MuxReason implements End.Reason {
    /** The peer closed the tunnel or the connection. */
    CLOSED("closed"),
    /** The peer broke the WebSocket or tunnel protocol. */
    PROTOCOL_ERROR("protocol_error"),
    /** Reading or writing the socket failed. */
    IO_ERROR("io_error"),
    /** No HELLO (hub) or HELLO_ACK (agent) within the ping timeout. */
    HELLO_TIMEOUT("hello_timeout"),
    /** A ping went unanswered, and nothing else arrived, for the ping timeout. */
    PING_TIMEOUT("ping_timeout"),
    /** A socket write made no progress for the ping timeout: the peer stopped reading (its TCP window is zero). */
    WRITE_STALLED("write_stalled");

    private final String label;

    MuxReason(String label) {
        this.label = label;
    }

    @Override
    public String label() {
        return label;
    }
}
