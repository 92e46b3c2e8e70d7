package io.nowconnect.ws;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import io.helidon.common.buffers.DataReader;

/**
 * Reads RFC 6455 frames (section 5.2) from an upgraded connection and reassembles fragmented messages.
 *
 * <p>A server reader requires every frame to be masked (section 5.1) and unmasks the payload eight bytes at a time; a
 * client reader refuses masked frames. No extension is negotiated, so any RSV bit is an error. Control frames may
 * arrive between the fragments of a message and are returned at once. A message (fragments included) or frame longer
 * than the limit is refused with close code 1009 before its payload is read.
 *
 * <p>Threads: one reader thread; {@link #next()} blocks until a whole message or a control frame is in.
 */
public final class WsReader {

    /** What {@link #next()} returns. */
    public sealed interface Event {
    }

    /**
     * A whole data message.
     *
     * @param binary binary (else text, UTF-8)
     * @param payload the message's bytes
     */
    public record Message(boolean binary, byte[] payload) implements Event {
        /**
         * The payload of a text message.
         *
         * @return text
         */
        public String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }
    }

    /**
     * A ping; the caller answers with a pong carrying the same payload.
     *
     * @param payload application data (at most 125 bytes)
     */
    public record Ping(byte[] payload) implements Event {
    }

    /**
     * A pong.
     *
     * @param payload application data (at most 125 bytes)
     */
    public record Pong(byte[] payload) implements Event {
    }

    /**
     * A close frame.
     *
     * @param code status code, 1005 when the frame carried none
     * @param reason reason text, possibly empty
     */
    public record Close(int code, String reason) implements Event {
    }

    private final DataReader in;
    private final boolean server;
    private final int maxMessage;
    /** Fragments of the message being reassembled, or null. */
    private ByteArrayOutputStream fragments;
    private boolean fragmentsBinary;

    private WsReader(DataReader in, boolean server, int maxMessage) {
        this.in = in;
        this.server = server;
        this.maxMessage = maxMessage;
    }

    /**
     * Reader for the server end: frames must be masked.
     *
     * @param in the upgraded connection's reader
     * @param maxMessage largest message accepted, fragments included
     * @return reader
     */
    public static WsReader server(DataReader in, int maxMessage) {
        return new WsReader(in, true, maxMessage);
    }

    /**
     * Reader for the client end: frames must not be masked.
     *
     * @param in the upgraded connection's reader
     * @param maxMessage largest message accepted, fragments included
     * @return reader
     */
    public static WsReader client(DataReader in, int maxMessage) {
        return new WsReader(in, false, maxMessage);
    }

    /**
     * Read until a whole message or a control frame is in.
     *
     * @return the event, or null when the connection ended (end of stream) between frames or within one
     * @throws WsProtocolException when the peer broke the protocol; the caller closes with its code
     * @throws java.io.UncheckedIOException when reading failed
     */
    public Event next() {
        try {
            while (true) {
                Event event = frame();
                if (event != null) {
                    return event;
                }
            }
        } catch (DataReader.InsufficientDataAvailableException e) {
            return null;
        }
    }

    /** One frame: an event, or null for a fragment that did not complete its message. */
    private Event frame() {
        int b0 = in.read() & 0xFF;
        int b1 = in.read() & 0xFF;
        boolean fin = (b0 & 0x80) != 0;
        Opcode opCode = Opcode.of(b0);
        if ((b0 & 0x70) != 0) {
            throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR, "RSV bit set without an extension");
        }
        boolean masked = (b1 & 0x80) != 0;
        if (masked != server) {
            throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR,
                                          server ? "unmasked frame from a client" : "masked frame from a server");
        }
        long length = b1 & 0x7F;
        if (length == 126) {
            length = ((in.read() & 0xFF) << 8) | (in.read() & 0xFF);
        } else if (length == 127) {
            length = 0;
            for (int i = 0; i < 8; i++) {
                length = (length << 8) | (in.read() & 0xFF);
            }
            if (length < 0) {
                throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR, "negative frame length");
            }
        }
        if (opCode == null) {
            throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR, "unknown opcode " + (b0 & 0x0F));
        }
        boolean control = opCode.control();
        if (control && (!fin || length > 125)) {
            throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR,
                                          "control frame fragmented or longer than 125 bytes");
        }
        int buffered = fragments == null || control ? 0 : fragments.size();
        if (length > maxMessage - buffered) {
            throw new WsProtocolException(WsProtocolException.MESSAGE_TOO_BIG,
                                          "message larger than " + maxMessage + " bytes");
        }
        int key = 0;
        if (masked) {
            key = ((in.read() & 0xFF) << 24) | ((in.read() & 0xFF) << 16) | ((in.read() & 0xFF) << 8) | (in.read() & 0xFF);
        }
        byte[] payload = length == 0 ? new byte[0] : in.readBytes((int) length);
        if (masked) {
            Masking.mask(payload, 0, payload.length, key);
        }
        return switch (opCode) {
        case TEXT, BINARY -> {
            if (fragments != null) {
                throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR,
                                              "new message before the last one's final fragment");
            }
            if (fin) {
                yield new Message(opCode == Opcode.BINARY, payload);
            }
            fragments = new ByteArrayOutputStream(Math.max(256, payload.length * 2));
            fragments.writeBytes(payload);
            fragmentsBinary = opCode == Opcode.BINARY;
            yield null;
        }
        case CONTINUATION -> {
            if (fragments == null) {
                throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR, "continuation without a message");
            }
            fragments.writeBytes(payload);
            if (!fin) {
                yield null;
            }
            Message message = new Message(fragmentsBinary, fragments.toByteArray());
            fragments = null;
            yield message;
        }
        case PING -> new Ping(payload);
        case PONG -> new Pong(payload);
        case CLOSE -> close(payload);
        };
    }

    private static Close close(byte[] payload) {
        if (payload.length == 0) {
            return new Close(WsProtocolException.NO_STATUS, "");
        }
        if (payload.length == 1) {
            throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR, "close frame with a one-byte body");
        }
        int code = ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF);
        return new Close(code, new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8));
    }
}
