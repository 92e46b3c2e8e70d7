package io.nowconnect.mux;

/**
 * How a tunnel ended: a reason from a fixed set and a detail for logs and status. Immutable.
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

    /**
     * A short description of a failure for logs: the root cause's class and message.
     *
     * @param e failure
     * @return description
     */
    public static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = root.getMessage();
        return root.getClass().getSimpleName() + (msg == null ? "" : ": " + clip(msg));
    }

    /**
     * A peer's text cut for logs.
     *
     * @param s text
     * @return at most 120 characters
     */
    public static String clip(String s) {
        return s.length() > 120 ? s.substring(0, 120) + "…" : s;
    }
}
