package io.nowconnect.ws;

import io.helidon.websocket.WsCloseCodes;

/**
 * The peer broke RFC 6455; the connection is closed with {@link #closeCode()}. Thrown on the tunnel's reader thread.
 */
public final class WsProtocolException extends RuntimeException {
    /** Close code 1002: protocol error. */
    public static final int PROTOCOL_ERROR = WsCloseCodes.PROTOCOL_ERROR;
    /** Close code 1009: message too big. */
    public static final int MESSAGE_TOO_BIG = WsCloseCodes.TOO_BIG;
    /** Close code 1005, never sent: the close frame carried no code. */
    public static final int NO_STATUS = WsCloseCodes.NO_STATUS_CODE;

    private final int closeCode;

    WsProtocolException(int closeCode, String message) {
        super(message);
        this.closeCode = closeCode;
    }

    /**
     * Close code to answer with.
     *
     * @return close code
     */
    public int closeCode() {
        return closeCode;
    }
}
