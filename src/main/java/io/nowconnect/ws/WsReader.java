package io.nowconnect.ws;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * Reads RFC 6455 frames (section 5.2) from an upgraded connection and reassembles fragmented messages.
 *
 * <p>A server reader requires every frame to be masked (section 5.1) and unmasks the payload eight bytes at a time; a
 * client reader refuses masked frames. No extension is negotiated, so any RSV bit is an error. Control frames may
 * arrive between the fragments of a message and are returned at once. A message (fragments included) or frame longer
 * than the limit is refused with close code 1009 before its payload is read.
 *
 * <p>It reads the socket's stream itself ({@link UpgradedSocket}), as much as its buffer takes per read, and parses
 * frames in that buffer: a message is handed out as a slice of it (unmasked in place), so a frame's bytes are copied
 * once, by whoever decodes it. Memory: a quiet tunnel holds no read buffer of its own (it reads through the
 * connection's, {@link UpgradedSocket#quietRead()}); under light traffic the buffer is {@link #SMALL_BUFFER} bytes,
 * {@link #LARGE_BUFFER} while reads fill it (bulk), and it is let go once reads stayed short for
 * {@link #QUIET_NANOS} (checked at the next read, so a tunnel that fell quiet after bulk keeps it until its next
 * message, a ping at the latest); a payload larger than the large buffer is read straight into an array of its own.
 *
 * <p>Threads: one reader thread (the tunnel's); {@link #next()} blocks until a whole message or a control frame is in.
 * Locks: none; every field is that thread's.
 */
public final class WsReader {

    /** What {@link #next()} returns. */
    public sealed interface Event {
    }

    /**
     * A whole data message: {@code length} bytes of {@code bytes} from {@code offset}. The array may be the reader's
     * buffer, valid until its next {@link #next()}: decode or copy before.
     *
     * @param binary binary (else text, UTF-8)
     * @param bytes array holding the message's bytes
     * @param offset where they start
     * @param length how many
     */
    public record Message(boolean binary, byte[] bytes, int offset, int length) implements Event {
        /**
         * A copy of the message's bytes.
         *
         * @return payload
         */
        public byte[] payload() {
            return Arrays.copyOfRange(bytes, offset, offset + length);
        }

        /**
         * The payload of a text message.
         *
         * @return text
         */
        public String text() {
            return new String(bytes, offset, length, StandardCharsets.UTF_8);
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

    private static final byte[] EMPTY = new byte[0];
    /** Size of our read buffer for light traffic: pings, WINDOW, OPEN and small requests fit. */
    static final int SMALL_BUFFER = 1024;
    /**
     * Size of the read buffer while reads fill it (bulk): several 8 KiB frames per read, or a whole {@code bin1} DATA
     * of 64 KiB with its headers and the start of the next (read into the buffer, it is copied once, by the decoder).
     */
    static final int LARGE_BUFFER = 96 * 1024;
    /** How long reads stay short before the reader lets go of its buffer (see {@link #fill}). */
    static final long QUIET_NANOS = 1_000_000_000L;

    private final InputStream in;
    private final Supplier<byte[]> quietRead;
    private final boolean server;
    private final int maxMessage;
    /** Bytes read from {@link #in}: {@code [pos, lim)} are not consumed yet. */
    private byte[] buf;
    private int pos;
    private int lim;
    /** Whether the last read filled the buffer (more was waiting): the next refill takes the large buffer. */
    private boolean full;
    /** When a read last brought {@link #SMALL_BUFFER} bytes or more (nanoTime). */
    private long busyNanos;
    /** Fragments of the message being reassembled, or null. */
    private ByteArrayOutputStream fragments;
    private boolean fragmentsBinary;

    private WsReader(UpgradedSocket socket, boolean server, int maxMessage) {
        this.in = socket.in();
        this.quietRead = socket.quietRead();
        this.server = server;
        this.maxMessage = maxMessage;
        this.buf = socket.buffered();
        this.lim = buf.length;
        this.busyNanos = System.nanoTime() - QUIET_NANOS - 1;
    }

    /**
     * Reader for the server end: frames must be masked.
     *
     * @param socket the upgraded connection (its input and what was read past the upgrade)
     * @param maxMessage largest message accepted, fragments included
     * @return reader
     */
    public static WsReader server(UpgradedSocket socket, int maxMessage) {
        return new WsReader(socket, true, maxMessage);
    }

    /**
     * Reader for the client end: frames must not be masked.
     *
     * @param socket the upgraded connection (its input and what was read past the upgrade)
     * @param maxMessage largest message accepted, fragments included
     * @return reader
     */
    public static WsReader client(UpgradedSocket socket, int maxMessage) {
        return new WsReader(socket, false, maxMessage);
    }

    /**
     * Read until a whole message or a control frame is in. A {@link Message} may share the reader's buffer: its bytes
     * are valid until the next call.
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
        } catch (EndOfStream e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Size of the read buffer now (tests).
     *
     * @return bytes
     */
    int bufferSize() {
        return buf.length;
    }

    /** One frame: an event, or null for a fragment that did not complete its message. */
    private Event frame() throws IOException {
        need(2);
        int b0 = buf[pos] & 0xFF;
        int b1 = buf[pos + 1] & 0xFF;
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
        int headerLength = 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) + (masked ? 4 : 0);
        need(headerLength);
        int p = pos + 2;
        if (length == 126) {
            length = ((buf[p] & 0xFF) << 8) | (buf[p + 1] & 0xFF);
            p += 2;
        } else if (length == 127) {
            length = 0;
            for (int i = 0; i < 8; i++) {
                length = (length << 8) | (buf[p++] & 0xFF);
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
            key = ((buf[p] & 0xFF) << 24) | ((buf[p + 1] & 0xFF) << 16) | ((buf[p + 2] & 0xFF) << 8) | (buf[p + 3] & 0xFF);
        }
        pos += headerLength;
        int len = (int) length;
        // the payload: in the buffer when it fits there (one copy fewer), else an array of its own read straight into
        byte[] bytes;
        int offset;
        if (len <= LARGE_BUFFER) {
            need(len);
            bytes = buf;
            offset = pos;
            pos += len;
        } else {
            bytes = readLarge(len);
            offset = 0;
        }
        if (masked) {
            Masking.mask(bytes, offset, len, key);
        }
        return switch (opCode) {
        case TEXT, BINARY -> {
            if (fragments != null) {
                throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR,
                                              "new message before the last one's final fragment");
            }
            if (fin) {
                yield new Message(opCode == Opcode.BINARY, bytes, offset, len);
            }
            fragments = new ByteArrayOutputStream(Math.max(256, len * 2));
            fragments.write(bytes, offset, len);
            fragmentsBinary = opCode == Opcode.BINARY;
            yield null;
        }
        case CONTINUATION -> {
            if (fragments == null) {
                throw new WsProtocolException(WsProtocolException.PROTOCOL_ERROR, "continuation without a message");
            }
            fragments.write(bytes, offset, len);
            if (!fin) {
                yield null;
            }
            byte[] all = fragments.toByteArray();
            fragments = null;
            yield new Message(fragmentsBinary, all, 0, all.length);
        }
        case PING -> new Ping(Arrays.copyOfRange(bytes, offset, offset + len));
        case PONG -> new Pong(Arrays.copyOfRange(bytes, offset, offset + len));
        case CLOSE -> close(Arrays.copyOfRange(bytes, offset, offset + len));
        };
    }

    /** Make {@code n} bytes (at most the large buffer's size) available at {@link #pos}, reading as needed. */
    private void need(int n) throws IOException {
        while (lim - pos < n) {
            fill(n);
        }
    }

    /**
     * One read from the socket. On a quiet tunnel (nothing left over, no read of {@link #SMALL_BUFFER} bytes or more
     * for {@link #QUIET_NANOS}) it goes through the connection's own buffer ({@link UpgradedSocket#quietRead()}), so
     * that the reader holds no buffer of its own while it waits, which is most of the time on most of a hub's
     * tunnels. Otherwise it reads into our buffer, compacted first: the small one, or the large one when the last read
     * filled the buffer (bulk) or the frame in progress needs it.
     */
    private void fill(int need) throws IOException {
        int kept = lim - pos;
        if (kept == 0 && System.nanoTime() - busyNanos > QUIET_NANOS) {
            buf = EMPTY;
            pos = 0;
            lim = 0;
            byte[] got = quietRead.get();
            if (got == null) {
                throw EndOfStream.INSTANCE;
            }
            buf = got;
            lim = got.length;
            read(got.length, got.length >= SMALL_BUFFER);
            return;
        }
        int size = buf.length;
        if (need > size || full) {
            size = LARGE_BUFFER;
        } else if (size < SMALL_BUFFER) {
            size = SMALL_BUFFER;
        }
        if (size != buf.length) {
            byte[] b = new byte[size];
            System.arraycopy(buf, pos, b, 0, kept);
            buf = b;
            pos = 0;
            lim = kept;
        } else if (pos > 0 && (kept == 0 || buf.length - lim < need - kept)) {
            System.arraycopy(buf, pos, buf, 0, kept);
            pos = 0;
            lim = kept;
        }
        int n = in.read(buf, lim, buf.length - lim);
        if (n < 0) {
            throw EndOfStream.INSTANCE;
        }
        read(n, n == buf.length - lim);
        lim += n;
    }

    private void read(int n, boolean filled) {
        full = filled;
        if (n >= SMALL_BUFFER) {
            busyNanos = System.nanoTime();
        }
    }

    /** A payload larger than the large buffer: what is buffered, then the rest read straight into its own array. */
    private byte[] readLarge(int len) throws IOException {
        byte[] payload = new byte[len];
        int have = Math.min(len, lim - pos);
        System.arraycopy(buf, pos, payload, 0, have);
        pos += have;
        while (have < len) {
            int n = in.read(payload, have, len - have);
            if (n < 0) {
                throw EndOfStream.INSTANCE;
            }
            have += n;
        }
        return payload;
    }

    /** The connection ended; no stack trace (it is a normal end). */
    private static final class EndOfStream extends IOException {
        private static final EndOfStream INSTANCE = new EndOfStream();

        private EndOfStream() {
            super("end of stream", null);
            setStackTrace(new StackTraceElement[0]);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this;
        }
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
