package io.nowconnect.stream;

/** How stream frames travel, counted through {@link StreamObserver#wire}: for metrics and diagnostics. Immutable. */
public enum WireEvent {
    /** A DATA frame sent as a binary ({@code bin1}) message. */
    BINARY_DATA_SENT("binary_data_sent"),
    /** A binary DATA frame received. */
    BINARY_DATA_RECEIVED("binary_data_received"),
    /** A DATA frame sent as JSON (v1). */
    JSON_DATA_SENT("json_data_sent"),
    /** A JSON DATA frame received. */
    JSON_DATA_RECEIVED("json_data_received"),
    /** A WINDOW frame sent (credit returned). */
    WINDOW_SENT("window_sent"),
    /** A WINDOW frame received. */
    WINDOW_RECEIVED("window_received"),
    /** A stream ran out of credit and waited for WINDOW. */
    CREDIT_WAIT("credit_waits"),
    /** A stream was reset because the peer broke flow control. */
    FLOW_CONTROL_RESET("flow_control_resets"),
    /** A tunnel's peer left a pacing probe (a ping) unanswered: that tunnel is no longer paced. */
    PACING_OFF("pacing_off");

    private final String label;

    WireEvent(String label) {
        this.label = label;
    }

    /**
     * Metric label value.
     *
     * @return label
     */
    public String label() {
        return label;
    }
}
