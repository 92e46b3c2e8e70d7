package io.nowconnect.ws;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link WsReader} and {@link WsWriter} against the examples of RFC 6455 section 5.7, each other in both roles, a
 * byte-at-a-time reference for masking, and every protocol error the reader must refuse. Interoperability with other
 * implementations is covered elsewhere: Helidon's server WebSocket as the hub of the agent's conformance tests, the
 * JDK's WebSocket client as the agent of the hub's protocol tests, Helidon's WebSocket client in
 * {@code io.nowconnect.hub.HubHelidonClientTest}.
 */
@Timeout(60)
class WsFramingTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final byte[] HELLO = "Hello".getBytes(StandardCharsets.US_ASCII);

    @Test
    void rfcSingleFrameUnmaskedText() {
        WsReader.Message m = assertInstanceOf(WsReader.Message.class, client("810548656c6c6f").next());
        assertEquals("Hello", m.text());
        assertTrue(!m.binary());
    }

    @Test
    void rfcSingleFrameMaskedText() {
        WsReader.Message m = assertInstanceOf(WsReader.Message.class, server("818537fa213d7f9f4d5158").next());
        assertEquals("Hello", m.text());
    }

    @Test
    void rfcFragmentedUnmaskedText() {
        WsReader reader = client("010348656c", "80026c6f");
        assertEquals("Hello", assertInstanceOf(WsReader.Message.class, reader.next()).text());
        assertNull(reader.next(), "end of stream after the message");
    }

    @Test
    void rfcPingAndMaskedPong() {
        assertArrayEquals(HELLO, assertInstanceOf(WsReader.Ping.class, client("890548656c6c6f").next()).payload());
        assertArrayEquals(HELLO, assertInstanceOf(WsReader.Pong.class, server("8a8537fa213d7f9f4d5158").next()).payload());
    }

    @Test
    void rfcSixteenAndSixtyFourBitLengths() {
        byte[] b256 = random(256, 1);
        WsReader.Message m = assertInstanceOf(WsReader.Message.class,
                                              reader(false, 1 << 20, concat(HEX.parseHex("827e0100"), b256)).next());
        assertTrue(m.binary());
        assertArrayEquals(b256, m.payload());
        byte[] b64k = random(65536, 2);
        m = assertInstanceOf(WsReader.Message.class,
                             reader(false, 1 << 20, concat(HEX.parseHex("827f0000000000010000"), b64k)).next());
        assertArrayEquals(b64k, m.payload());
    }

    @Test
    void controlFramesMayComeBetweenFragments() {
        WsReader reader = client("010348656c", "890548656c6c6f", "80026c6f");
        assertInstanceOf(WsReader.Ping.class, reader.next());
        assertEquals("Hello", assertInstanceOf(WsReader.Message.class, reader.next()).text());
    }

    @Test
    void closeFrames() {
        WsReader.Close c = assertInstanceOf(WsReader.Close.class, client("880403e86279").next());
        assertEquals(1000, c.code());
        assertEquals("by", c.reason());
        c = assertInstanceOf(WsReader.Close.class, client("8800").next());
        assertEquals(WsProtocolException.NO_STATUS, c.code());
        assertEquals(1002, refusal(client("880103")));
    }

    @Test
    void theServerWriterProducesTheRfcBytes() {
        Capture out = new Capture();
        WsWriter writer = WsWriter.server(out, "test-writer");
        // the ping goes first whatever the timing (urgent lane), the close last
        writer.ping(HELLO);
        writer.text("Hello");
        writer.binary(new byte[0], new byte[256]);
        writer.close(1000, "by");
        assertTrue(writer.awaitClosed(Duration.ofSeconds(5)));
        assertEquals("890548656c6c6f" + "810548656c6c6f" + "827e0100" + "00".repeat(256) + "880403e86279",
                     HEX.formatHex(out.bytes()));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 200_000})
    void clientFramesAreMaskedAndTheServerReaderRestoresThem(int size) {
        byte[] header = {1, 2, 3};
        byte[] payload = random(size, size);
        Capture out = new Capture();
        WsWriter writer = WsWriter.client(out, "test-writer");
        writer.binary(header, payload);
        writer.text("tail");
        writer.close(1000, "");
        assertTrue(writer.awaitClosed(Duration.ofSeconds(5)));
        byte[] wire = out.bytes();
        assertEquals(0x82, wire[0] & 0xFF);
        assertEquals(0x80, wire[1] & 0x80, "mask bit set");
        WsReader reader = reader(true, 1 << 20, wire);
        WsReader.Message m = assertInstanceOf(WsReader.Message.class, reader.next());
        assertArrayEquals(concat(header, payload), m.payload());
        assertEquals("tail", assertInstanceOf(WsReader.Message.class, reader.next()).text());
        assertEquals(1000, assertInstanceOf(WsReader.Close.class, reader.next()).code());
        if (size >= 64) {
            int length = size + header.length;
            int start = 2 + (length < 126 ? 0 : length < 65536 ? 2 : 8) + 4 + header.length;
            byte[] onWire = Arrays.copyOfRange(wire, start, start + size);
            assertNotEquals(HEX.formatHex(payload), HEX.formatHex(onWire), "payload masked on the wire");
        }
    }

    @Test
    void maskingMatchesTheByteAtATimeDefinition() {
        Random rnd = new Random(42);
        for (int length = 0; length < 70; length++) {
            for (int offset = 0; offset < 9; offset++) {
                byte[] data = new byte[offset + length + 3];
                rnd.nextBytes(data);
                int key = rnd.nextInt();
                byte[] expected = data.clone();
                for (int i = 0; i < length; i++) {
                    expected[offset + i] ^= (byte) (key >>> (24 - 8 * (i % 4)));
                }
                Masking.mask(data, offset, length, key);
                assertArrayEquals(expected, data, "length " + length + " offset " + offset);
            }
        }
    }

    @Test
    void protocolErrorsAreRefusedWithTheirCloseCode() {
        // unmasked frame to a server, masked frame to a client
        assertEquals(1002, refusal(server("810548656c6c6f")));
        assertEquals(1002, refusal(client("818537fa213d7f9f4d5158")));
        // RSV1 without an extension, unknown opcodes
        assertEquals(1002, refusal(client("c10548656c6c6f")));
        assertEquals(1002, refusal(client("830548656c6c6f")));
        assertEquals(1002, refusal(client("8b0548656c6c6f")));
        // control frames: fragmented, or longer than 125 bytes
        assertEquals(1002, refusal(client("090548656c6c6f")));
        assertEquals(1002, refusal(client("897e007e" + "00".repeat(126))));
        // continuation without a message, a new message before the last fragment
        assertEquals(1002, refusal(client("80026c6f")));
        assertEquals(1002, refusal(client("010348656c", "810548656c6c6f")));
        // a 64-bit length with the top bit set
        assertEquals(1002, refusal(client("827f8000000000000000")));
    }

    @Test
    void tooBigIsRefusedBeforeThePayloadIsRead() {
        // only the header arrives: the reader must not wait for (or allocate) the declared 1 GiB
        assertEquals(1009, refusal(reader(false, 1 << 20, HEX.parseHex("827f0000000040000000"))));
        // fragments add up
        byte[] part = concat(HEX.parseHex("027e0200"), new byte[512]);
        byte[] more = concat(HEX.parseHex("007e0200"), new byte[512]);
        assertEquals(1009, refusal(reader(false, 1000, part, more)));
        // control frames do not count toward the message being reassembled
        WsReader reader = reader(false, 600, part, HEX.parseHex("890548656c6c6f"), HEX.parseHex("8000"));
        assertInstanceOf(WsReader.Ping.class, reader.next());
        assertEquals(512, assertInstanceOf(WsReader.Message.class, reader.next()).payload().length);
    }

    @Test
    void endOfStreamBetweenOrWithinFramesIsNull() {
        assertNull(client().next());
        assertNull(client("8105486c").next(), "cut within the payload");
        assertNull(client("81").next(), "cut within the header");
    }

    @Test
    void emptyMessagesDoNotWaitForMoreData() {
        // a zero-length payload must be complete without another byte from the socket (the supplier would fail)
        WsReader reader = client("8100", "8900", "8a00");
        assertEquals(0, assertInstanceOf(WsReader.Message.class, reader.next()).payload().length);
        assertEquals(0, assertInstanceOf(WsReader.Ping.class, reader.next()).payload().length);
        assertEquals(0, assertInstanceOf(WsReader.Pong.class, reader.next()).payload().length);
    }

    @Test
    void bytesReadPastTheUpgradeComeFirst() {
        // one frame and half of the next were read with the upgrade, the rest comes from the socket
        byte[] wire = HEX.parseHex("810548656c6c6f" + "810548656c6c6f");
        UpgradedSocket rest = ChunkedInput.socket(List.of(Arrays.copyOfRange(wire, 10, 14)));
        UpgradedSocket socket = new UpgradedSocket(rest.in(), rest.out(), Arrays.copyOf(wire, 10), rest.quietRead());
        WsReader reader = WsReader.client(socket, 1 << 20);
        assertEquals("Hello", assertInstanceOf(WsReader.Message.class, reader.next()).text());
        assertEquals("Hello", assertInstanceOf(WsReader.Message.class, reader.next()).text());
        assertNull(reader.next());
    }

    @Test
    void theReadBufferGrowsForBulkAndIsLetGoWhenQuiet() throws Exception {
        // bulk: 8 KiB frames arriving 256 KiB per read, then a pause, then small frames
        ByteArrayOutputStream bulk = new ByteArrayOutputStream();
        for (int i = 0; i < 32; i++) {
            bulk.writeBytes(HEX.parseHex("827e2000"));
            bulk.writeBytes(random(8192, i));
        }
        byte[] ping = HEX.parseHex("8900");
        UpgradedSocket socket = ChunkedInput.socket(List.of(bulk.toByteArray(), ping, ping, ping));
        WsReader reader = WsReader.client(socket, 1 << 20);
        for (int i = 0; i < 32; i++) {
            WsReader.Message m = assertInstanceOf(WsReader.Message.class, reader.next());
            assertArrayEquals(random(8192, i), m.payload(), "frame " + i);
        }
        assertEquals(WsReader.LARGE_BUFFER, reader.bufferSize(), "bulk reads take the large buffer");
        assertInstanceOf(WsReader.Ping.class, reader.next());
        assertEquals(WsReader.LARGE_BUFFER, reader.bufferSize(), "one short read right after bulk keeps it");
        Thread.sleep(WsReader.QUIET_NANOS / 1_000_000 + 100);
        assertInstanceOf(WsReader.Ping.class, reader.next());
        assertEquals(ping.length, reader.bufferSize(), "quiet: no buffer of its own, only the bytes of the last read");
        assertInstanceOf(WsReader.Ping.class, reader.next());
        assertNull(reader.next());
    }

    @Test
    void theFullPayloadTheWriterPoolsIsBin1sLargestData() {
        // a full frame's array is reused once written: that only pays if it is what bulk sends
        assertEquals(io.nowconnect.protocol.BinaryCodec.MAX_DATA_PAYLOAD, WsWriter.FULL_PAYLOAD);
    }

    private static int refusal(WsReader reader) {
        WsProtocolException e = assertThrows(WsProtocolException.class, () -> {
            while (reader.next() != null) {
                // read on until the refusal
            }
        });
        return e.closeCode();
    }

    private static WsReader client(String... hexChunks) {
        return reader(false, 1 << 20, Arrays.stream(hexChunks).map(HEX::parseHex).toArray(byte[][]::new));
    }

    private static WsReader server(String... hexChunks) {
        return reader(true, 1 << 20, Arrays.stream(hexChunks).map(HEX::parseHex).toArray(byte[][]::new));
    }

    /** A reader over the chunks, as if each arrived in one socket read; then end of stream. */
    private static WsReader reader(boolean server, int max, byte[]... chunks) {
        UpgradedSocket in = ChunkedInput.socket(Arrays.asList(chunks));
        return server ? WsReader.server(in, max) : WsReader.client(in, max);
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Collects what a writer writes. */
    private static final class Capture extends ByteArrayOutputStream {
        synchronized byte[] bytes() {
            return toByteArray();
        }
    }
}
