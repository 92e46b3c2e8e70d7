package io.nowconnect.mux;

/**
 * How a tunnel ended: a reason from a fixed set and a detail for logs and status.
 *
 * @param reason why, of {@link MuxReason} when the multiplexer saw it happen, or of the role's own set (the agent's
 *               {@code tunnel.EndReason}, the hub's reasons)
 * @param detail what happened, for logs and {@code /readyz}
 */
public record End(Reason reason, String detail) {
    /** A reason a tunnel ended: the low-cardinality label that metrics and close frames carry. */
    public interface Reason {
        /**
         * Label for metrics, logs and the close frame.
         *
         * @return label
         */
        String label();
    }
}
