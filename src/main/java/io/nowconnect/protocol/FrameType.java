package io.nowconnect.protocol;

import java.util.Optional;

/** Frame types with their wire value (the {@code t} field). */
public enum FrameType {
    HELLO("HELLO"),
    HELLO_ACK("HELLO_ACK"),
    WELCOME("WELCOME"),
    OPEN("OPEN"),
    DATA("DATA"),
    FIN("FIN"),
    RST("RST"),
    DRAIN("DRAIN"),
    /** {@code bin1} only: credit returned for a stream; exists as a binary frame only, never as JSON. */
    WINDOW("WINDOW");

    private final String wire;

    FrameType(String wire) {
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

    /**
     * Look up a type by its wire value.
     *
     * @param wire the {@code t} field
     * @return the type, empty when unknown
     */
    public static Optional<FrameType> fromWire(String wire) {
        for (FrameType t : values()) {
            if (t.wire.equals(wire)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
