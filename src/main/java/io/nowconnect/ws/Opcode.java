package io.nowconnect.ws;

/** WebSocket frame opcodes (RFC 6455 section 5.2) that this project reads and writes. Immutable. */
enum Opcode {
    CONTINUATION(0x0),
    TEXT(0x1),
    BINARY(0x2),
    CLOSE(0x8),
    PING(0x9),
    PONG(0xA);

    private static final Opcode[] BY_CODE = new Opcode[16];

    static {
        for (Opcode o : values()) {
            BY_CODE[o.code] = o;
        }
    }

    private final int code;

    Opcode(int code) {
        this.code = code;
    }

    /**
     * The four-bit value on the wire.
     *
     * @return opcode value
     */
    int code() {
        return code;
    }

    /**
     * Whether this is a control frame (close, ping, pong): never fragmented, at most 125 bytes.
     *
     * @return true for control opcodes
     */
    boolean control() {
        return code >= 0x8;
    }

    /**
     * The opcode of a wire value.
     *
     * @param code four-bit value
     * @return the opcode, null when unknown (reserved)
     */
    static Opcode of(int code) {
        return BY_CODE[code & 0x0F];
    }
}
