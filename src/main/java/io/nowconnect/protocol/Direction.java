package io.nowconnect.protocol;

import java.util.Optional;

/** Direction of a FIN: {@code c2a} client to agent, {@code a2c} agent to client. */
public enum Direction {
    /** The hub's client finished sending; the agent half-closes the target's output. */
    C2A("c2a"),
    /** The target finished sending (EOF); the hub half-closes the client's output. */
    A2C("a2c");

    private final String wire;

    Direction(String wire) {
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
     * The other direction.
     *
     * @return opposite direction
     */
    public Direction opposite() {
        return this == C2A ? A2C : C2A;
    }

    /**
     * Look up a direction by its wire value.
     *
     * @param wire the {@code dir} field
     * @return the direction, empty when unknown
     */
    public static Optional<Direction> fromWire(String wire) {
        for (Direction d : values()) {
            if (d.wire.equals(wire)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }
}
