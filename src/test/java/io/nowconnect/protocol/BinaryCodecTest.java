package io.nowconnect.protocol;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

import io.nowconnect.buffer.ArrayPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** bin1 frames byte for byte (fixtures as hex), round trips, and malformed input. */
@Timeout(60)
class BinaryCodecTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final String CID = "6f1c1f38-4d4b-4b0e-9d1c-5b3f2e8a9c10";
    private static final String CID_HEX = HEX.formatHex(CID.getBytes(StandardCharsets.US_ASCII));

    @Test
    void dataFixture() {
        // type 01, cid length 0x24 (36), cid, seq 0x00000007, payload "hello"
        byte[] expected = HEX.parseHex("0124" + CID_HEX + "00000007" + "68656c6c6f");
        Frame.Data d = new Frame.Data(CID, 7, "hello".getBytes(StandardCharsets.US_ASCII));
        assertArrayEquals(expected, BinaryCodec.encode(d));
        assertEquals(d, decode(expected));
        // the header alone is what a writer puts before the payload
        assertArrayEquals(HEX.parseHex("0124" + CID_HEX + "00000007"), BinaryCodec.dataHeader(d));
    }

    @Test
    void shortestFrames() {
        assertArrayEquals(HEX.parseHex("01016300000000"), BinaryCodec.encode(new Frame.Data("c", 0, new byte[0])));
        assertEquals(new Frame.Data("c", 0, new byte[0]), decode(HEX.parseHex("01016300000000")));
        assertArrayEquals(HEX.parseHex("02016300000001"), BinaryCodec.encode(new Frame.Window("c", 1)));
        assertEquals(new Frame.Window("c", 1), decode(HEX.parseHex("02016300000001")));
    }

    @Test
    void windowFixture() {
        // type 02, cid length 36, cid, increment 0x00020000 (128 KiB)
        byte[] expected = HEX.parseHex("0224" + CID_HEX + "00020000");
        assertArrayEquals(expected, BinaryCodec.encode(new Frame.Window(CID, 128 * 1024)));
        assertEquals(new Frame.Window(CID, 131072), decode(expected));
    }

    @Test
    void seqAndIncrementAreUnsigned32Bit() {
        byte[] max = HEX.parseHex("010178ffffffff00");
        assertEquals(new Frame.Data("x", 0xFFFF_FFFFL, new byte[1]), decode(max));
        // a v1 counter beyond 32 bits goes out modulo 2^32
        assertArrayEquals(HEX.parseHex("01017800000001"), BinaryCodec.encode(new Frame.Data("x", (1L << 32) + 1, new byte[0])));
        assertEquals(new Frame.Window("x", 0xFFFF_FFFFL), decode(HEX.parseHex("020178ffffffff")));
        assertThrows(IllegalArgumentException.class, () -> new Frame.Window("x", 0));
        assertThrows(IllegalArgumentException.class, () -> new Frame.Window("x", 1L << 32));
    }

    @Test
    void utf8CidsUpTo255Bytes() {
        String cid = "\u00e9".repeat(127) + "a"; // 255 bytes
        assertTrue(BinaryCodec.fits(cid));
        Frame.Data d = new Frame.Data(cid, 1, new byte[] {1, 2, 3});
        byte[] wire = BinaryCodec.encode(d);
        assertEquals(255, wire[1] & 0xFF);
        assertEquals(d, decode(wire));

        String tooLong = "\u00e9".repeat(128); // 256 bytes
        assertFalse(BinaryCodec.fits(tooLong));
        assertFalse(BinaryCodec.fits(""));
        assertThrows(IllegalArgumentException.class, () -> BinaryCodec.encode(new Frame.Data(tooLong, 0, new byte[0])));
        assertThrows(IllegalArgumentException.class, () -> BinaryCodec.encode(new Frame.Window("", 1)));
    }

    @Test
    void largePayloadRoundTripsFromAnOffset() {
        byte[] payload = new byte[65536];
        new java.util.Random(1).nextBytes(payload);
        byte[] wire = BinaryCodec.encode(new Frame.Data(CID, 99, payload));
        byte[] padded = new byte[wire.length + 10];
        System.arraycopy(wire, 0, padded, 3, wire.length);
        Frame.Data d;
        try {
            d = (Frame.Data) BinaryCodec.decode(padded, 3, wire.length);
        } catch (ProtocolException e) {
            throw new AssertionError(e);
        }
        assertEquals(99, d.seq());
        assertArrayEquals(payload, d.payload());
    }

    @Test
    void aFullPayloadIsDecodedIntoAnArrayOfThePoolOthersIntoTheirOwn() throws ProtocolException {
        ArrayPool pool = new ArrayPool(BinaryCodec.MAX_DATA_PAYLOAD, 1);
        byte[] pooled = new byte[BinaryCodec.MAX_DATA_PAYLOAD];
        pool.giveBack(pooled);
        byte[] payload = new byte[BinaryCodec.MAX_DATA_PAYLOAD];
        new java.util.Random(2).nextBytes(payload);

        byte[] shorter = java.util.Arrays.copyOf(payload, payload.length - 1);
        Frame.Data small = (Frame.Data) BinaryCodec.decode(wire(shorter), 0, wire(shorter).length, pool);
        assertArrayEquals(shorter, small.payload());
        assertEquals(1, pool.pooled(), "a payload short of the pool's size is not put in one of its arrays");

        byte[] full = wire(payload);
        Frame.Data d = (Frame.Data) BinaryCodec.decode(full, 0, full.length, pool);
        assertSame(pooled, d.payload(), "the full payload went into the pool's array");
        assertArrayEquals(payload, d.payload());
        assertEquals(0, pool.pooled());
    }

    private static byte[] wire(byte[] payload) {
        return BinaryCodec.encode(new Frame.Data(CID, 5, payload));
    }

    @Test
    void onlyDataAndWindowHaveABinaryForm() {
        assertThrows(IllegalArgumentException.class, () -> BinaryCodec.encode(new Frame.Rst("c", "reset")));
        assertThrows(IllegalArgumentException.class, () -> BinaryCodec.encode(new Frame.Drain()));
        // and WINDOW has no JSON form: as text it is an unknown type
        assertThrows(IllegalArgumentException.class, () -> JsonCodec.encode(new Frame.Window("c", 1)));
        ProtocolException e = assertThrows(ProtocolException.class,
                                           () -> JsonCodec.decode("{\"t\":\"WINDOW\",\"cid\":\"c\"}"));
        assertEquals("unknown_type", e.reason());
    }

    @ParameterizedTest(name = "{2}: {0}")
    @CsvSource(delimiter = '|', value = {
            "''|bin_short|empty",
            "01|bin_short|type only",
            "0101|bin_bad_cid|cid length past the end",
            "010163|bin_short|no seq",
            "010163000000|bin_short|truncated seq",
            "0100|bin_bad_cid|zero cid length, nothing else",
            "010000000000|bin_bad_cid|zero cid length",
            "01ff6300000000|bin_bad_cid|cid length 255 in a 7-byte frame",
            "0102c36300000000|bin_bad_cid|invalid UTF-8 in the cid",
            "00016300000000|bin_unknown_type|type 0",
            "03016300000000|bin_unknown_type|type 3",
            "ff016300000000|bin_unknown_type|type 255",
            "7b22743a|bin_unknown_type|JSON sent as binary",
            "02016300000000|bin_bad_window|zero increment",
            "0201630000000100|bin_bad_window|trailing byte",
            "020163000001|bin_short|truncated increment"
    })
    void malformedFramesAreRefusedWithAReason(String hex, String reason, String what) {
        byte[] bytes = HEX.parseHex(hex);
        ProtocolException e = assertThrows(ProtocolException.class, () -> BinaryCodec.decode(bytes), what);
        assertEquals(reason, e.reason(), e.getMessage());
    }

    private static Frame decode(byte[] bytes) {
        try {
            return BinaryCodec.decode(bytes);
        } catch (ProtocolException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }
}
