package io.nowconnect.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import io.nowconnect.buffer.ArrayPool;

/**
 * The {@code bin1} capability: DATA and WINDOW as binary WebSocket messages. Pure: no I/O, no state, thread-safe.
 *
 * <pre>
 *  byte 0      1       2 .. 1+L          2+L .. 5+L                6+L ..
 *     +------+-------+----------------+--------------------------+-----------------------+
 *     | type | L     | cid, UTF-8,    | DATA:   seq, uint32 BE   | DATA: payload         |
 *     |      | 1-255 | L bytes        | WINDOW: increment, u32 BE | WINDOW: nothing more  |
 *     +------+-------+----------------+--------------------------+-----------------------+
 *  type 0x01 DATA, 0x02 WINDOW
 * </pre>
 *
 * <p>A DATA payload is everything after the seq (possibly empty); its {@code seq} is the v1 DATA counter modulo 2^32.
 * A WINDOW is exactly {@code 6 + L} bytes and its increment is at least 1. Anything else (shorter than the fixed
 * part, {@code L} = 0 or running past the end, a cid that is not UTF-8, an unknown type, a bad WINDOW) is a
 * {@link ProtocolException}: receivers drop and count it, never end the tunnel for it.
 *
 * <p>Control frames (HELLO, OPEN, FIN, RST, DRAIN) stay JSON text; JSON DATA stays valid alongside binary DATA.
 */
public final class BinaryCodec {
    /** Type byte of a binary DATA frame. */
    public static final int TYPE_DATA = 0x01;
    /** Type byte of a WINDOW frame. */
    public static final int TYPE_WINDOW = 0x02;
    /** Longest cid, in UTF-8 bytes, that fits the one-byte length. */
    public static final int MAX_CID_BYTES = 255;
    /** Largest value of a 4-byte unsigned field. */
    public static final long MAX_UINT32 = 0xFFFF_FFFFL;
    /**
     * Bytes each side grants the other per stream and direction when the stream starts (the OPEN), before any WINDOW.
     */
    public static final int INITIAL_WINDOW = 256 * 1024;
    /**
     * Largest window a receiver grows a stream to (auto-tuning: it grants more than was consumed while its local socket
     * keeps up, so a fast stream is not held back by the round trip of its credit).
     */
    public static final int MAX_WINDOW = 4 << 20;
    /** Largest DATA payload a bin1 sender puts in one frame. */
    public static final int MAX_DATA_PAYLOAD = 64 * 1024;
    /** Largest bin1 message: a DATA frame with the longest cid and the largest payload. */
    public static final int MAX_MESSAGE = 2 + MAX_CID_BYTES + 4 + MAX_DATA_PAYLOAD;

    private BinaryCodec() {
    }

    /**
     * Whether a cid fits a binary frame (1 to 255 UTF-8 bytes).
     *
     * @param cid stream id
     * @return true when it can be encoded
     */
    public static boolean fits(String cid) {
        int n = utf8Length(cid);
        return n >= 1 && n <= MAX_CID_BYTES;
    }

    /**
     * Encode a DATA or WINDOW frame.
     *
     * @param frame {@link Frame.Data} or {@link Frame.Window}
     * @return the binary message
     * @throws IllegalArgumentException for other frames or a cid that does not fit
     */
    public static byte[] encode(Frame frame) {
        return switch (frame) {
        case Frame.Data d -> {
            byte[] header = dataHeader(d);
            byte[] out = Arrays.copyOf(header, header.length + d.payload().length);
            System.arraycopy(d.payload(), 0, out, header.length, d.payload().length);
            yield out;
        }
        case Frame.Window w -> {
            byte[] cid = cid(w.cid());
            ByteBuffer b = ByteBuffer.allocate(6 + cid.length);
            b.put((byte) TYPE_WINDOW).put((byte) cid.length).put(cid).putInt((int) w.increment());
            yield b.array();
        }
        default -> throw new IllegalArgumentException(frame.type().wire() + " has no binary form");
        };
    }

    /**
     * The header of a binary DATA frame (everything before the payload), for writers that append the payload
     * themselves without another copy.
     *
     * @param data frame
     * @return type, cid length, cid and seq
     * @throws IllegalArgumentException when the cid does not fit
     */
    public static byte[] dataHeader(Frame.Data data) {
        return dataHeader(data.cid(), data.seq());
    }

    /**
     * The bytes of a DATA message before its payload.
     *
     * @param cid stream id
     * @param seq sequence number (sent modulo 2^32)
     * @return header bytes
     */
    public static byte[] dataHeader(String cid, long seq) {
        byte[] id = cid(cid);
        ByteBuffer b = ByteBuffer.allocate(6 + id.length);
        b.put((byte) TYPE_DATA).put((byte) id.length).put(id).putInt((int) seq);
        return b.array();
    }

    /**
     * Decode a whole binary message.
     *
     * @param message the message
     * @return {@link Frame.Data} or {@link Frame.Window}
     * @throws ProtocolException with a reason for metrics: {@code bin_short}, {@code bin_bad_cid},
     *                           {@code bin_unknown_type} or {@code bin_bad_window}
     */
    public static Frame decode(byte[] message) throws ProtocolException {
        return decode(message, 0, message.length);
    }

    /**
     * Decode a binary message held in part of an array (the array is not kept: a DATA payload is copied).
     *
     * @param buf buffer
     * @param offset start of the message
     * @param length message length
     * @return {@link Frame.Data} or {@link Frame.Window}
     * @throws ProtocolException when the message is malformed
     */
    public static Frame decode(byte[] buf, int offset, int length) throws ProtocolException {
        return decode(buf, offset, length, null);
    }

    /**
     * Decode a binary message held in part of an array; a DATA payload of exactly {@link #MAX_DATA_PAYLOAD} bytes
     * (bulk) is copied into an array of the pool, which its taker gives back once it is written.
     *
     * @param buf buffer
     * @param offset start of the message
     * @param length message length
     * @param payloads arrays of {@link #MAX_DATA_PAYLOAD} bytes for full payloads, or null
     * @return {@link Frame.Data} or {@link Frame.Window}
     * @throws ProtocolException when the message is malformed
     */
    public static Frame decode(byte[] buf, int offset, int length, ArrayPool payloads) throws ProtocolException {
        if (length < 2) {
            throw new ProtocolException("bin_short", "binary frame of " + length + " bytes is too short");
        }
        int type = buf[offset] & 0xFF;
        if (type != TYPE_DATA && type != TYPE_WINDOW) {
            throw new ProtocolException("bin_unknown_type", "unknown binary frame type " + type);
        }
        int cidLength = buf[offset + 1] & 0xFF;
        if (cidLength == 0) {
            throw new ProtocolException("bin_bad_cid", "binary frame with an empty cid");
        }
        if (length < 2 + cidLength) {
            throw new ProtocolException("bin_bad_cid", "cid length " + cidLength + " runs past the frame end");
        }
        if (length < 6 + cidLength) {
            throw new ProtocolException("bin_short", "binary frame of " + length + " bytes is too short");
        }
        String cid = cidString(buf, offset + 2, cidLength);
        int pos = offset + 2 + cidLength;
        long value = ((buf[pos] & 0xFFL) << 24) | ((buf[pos + 1] & 0xFFL) << 16) | ((buf[pos + 2] & 0xFFL) << 8)
                | (buf[pos + 3] & 0xFFL);
        pos += 4;
        int rest = offset + length - pos;
        if (type == TYPE_DATA) {
            byte[] payload;
            if (payloads != null && rest == MAX_DATA_PAYLOAD && payloads.arrayBytes() == MAX_DATA_PAYLOAD) {
                payload = payloads.take();
                System.arraycopy(buf, pos, payload, 0, rest);
            } else {
                payload = Arrays.copyOfRange(buf, pos, pos + rest);
            }
            return new Frame.Data(cid, value, payload);
        }
        if (rest != 0) {
            throw new ProtocolException("bin_bad_window", "WINDOW frame with " + rest + " trailing bytes");
        }
        if (value == 0) {
            throw new ProtocolException("bin_bad_window", "WINDOW frame with a zero increment");
        }
        return new Frame.Window(cid, value);
    }

    private static byte[] cid(String cid) {
        byte[] b = cid.getBytes(StandardCharsets.UTF_8);
        if (b.length == 0 || b.length > MAX_CID_BYTES) {
            throw new IllegalArgumentException("cid of " + b.length + " UTF-8 bytes does not fit a binary frame");
        }
        return b;
    }

    private static String cidString(byte[] buf, int offset, int length) throws ProtocolException {
        boolean ascii = true;
        for (int i = 0; i < length; i++) {
            if (buf[offset + i] < 0) {
                ascii = false;
                break;
            }
        }
        if (ascii) {
            return new String(buf, offset, length, StandardCharsets.ISO_8859_1);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(buf, offset, length))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new ProtocolException("bin_bad_cid", "cid is not valid UTF-8");
        }
    }

    private static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }
}
