package io.nowconnect.protocol;

/** A frame that cannot be decoded; the message says why and never contains payload bytes. */
public class ProtocolException extends Exception {
    private final String reason;

    /**
     * Create an exception.
     *
     * @param reason short, low-cardinality reason (for metrics), e.g. {@code bad_json}
     * @param message human readable detail
     */
    public ProtocolException(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    /**
     * Low-cardinality reason, used as a metric label.
     *
     * @return reason
     */
    public String reason() {
        return reason;
    }
}
