package io.nowconnect.stream;

import io.nowconnect.protocol.ResetReason;

/** A new stream could not be registered; the reason is sent back in an RST. Thrown to the thread that registers. */
public final class StreamRefusedException extends Exception {
    private final ResetReason reason;

    StreamRefusedException(ResetReason reason) {
        super(reason.wire(), null, false, false);
        this.reason = reason;
    }

    /**
     * Why the stream was refused.
     *
     * @return reason
     */
    public ResetReason reason() {
        return reason;
    }
}
