package io.nowconnect.protocol;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** v1 frames in and out, byte for byte, and malformed input. */
@Timeout(60)
class JsonCodecTest {
    private static final String CID = "6f1c1f38-4d4b-4b0e-9d1c-5b3f2e8a9c10";

    @Test
    void encodesEveryFrameExactlyAsTheProtocolDocument() {
        assertEquals("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\",\"connectors\":[\"ldap\",\"db\"],\"ver\":\"1.5\"}",
                     JsonCodec.encode(new Frame.Hello("premise-01", List.of("ldap", "db"), "1.5", List.of())));
        assertEquals("{\"t\":\"HELLO\",\"agent_id\":\"a\",\"connectors\":[],\"ver\":\"1.0.0\",\"caps\":[\"drain\"]}",
                     JsonCodec.encode(new Frame.Hello("a", List.of(), "1.0.0", List.of("drain"))));
        assertEquals("{\"t\":\"HELLO_ACK\"}", JsonCodec.encode(new Frame.HelloAck(List.of(), -1)));
        assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}", JsonCodec.encode(new Frame.HelloAck(List.of("drain"), -1)));
        assertEquals("{\"t\":\"WELCOME\",\"epoch\":7}", JsonCodec.encode(new Frame.HelloAck(List.of(), 7)));
        assertEquals("{\"t\":\"OPEN\",\"cid\":\"" + CID + "\",\"connector\":\"ldap\"}",
                     JsonCodec.encode(new Frame.Open(CID, "ldap")));
        assertEquals("{\"t\":\"DATA\",\"cid\":\"" + CID + "\",\"seq\":0,\"b64\":\"aGVsbG8=\"}",
                     JsonCodec.encode(new Frame.Data(CID, 0, "hello".getBytes(StandardCharsets.US_ASCII))));
        assertEquals("{\"t\":\"DATA\",\"cid\":\"c\",\"seq\":42,\"b64\":\"\"}", JsonCodec.encode(new Frame.Data("c", 42, new byte[0])));
        assertEquals("{\"t\":\"FIN\",\"cid\":\"" + CID + "\",\"dir\":\"c2a\"}", JsonCodec.encode(new Frame.Fin(CID, Direction.C2A)));
        assertEquals("{\"t\":\"FIN\",\"cid\":\"" + CID + "\",\"dir\":\"a2c\"}", JsonCodec.encode(new Frame.Fin(CID, Direction.A2C)));
        assertEquals("{\"t\":\"RST\",\"cid\":\"" + CID + "\",\"err\":\"connect_failed\"}",
                     JsonCodec.encode(new Frame.Rst(CID, "connect_failed")));
        assertEquals("{\"t\":\"DRAIN\"}", JsonCodec.encode(new Frame.Drain()));
    }

    @Test
    void escapesStringsInDataFramesLikeJackson() {
        String cid = "a\"b\\c\u0001";
        assertEquals("{\"t\":\"DATA\",\"cid\":\"a\\\"b\\\\c\\u0001\",\"seq\":1,\"b64\":\"AA==\"}",
                     JsonCodec.encode(new Frame.Data(cid, 1, new byte[1])));
        assertEquals(new Frame.Data(cid, 1, new byte[1]), decode(JsonCodec.encode(new Frame.Data(cid, 1, new byte[1]))));
    }

    @Test
    void limitsAckCarriesMaxMessageAndDataFramesFitIt() {
        Frame.HelloAck ack = new Frame.HelloAck(List.of("limits"), -1, 20000);
        assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"limits\"],\"max_message\":20000}", JsonCodec.encode(ack));
        assertEquals(ack, decode(JsonCodec.encode(ack)));
        assertEquals("{\"t\":\"HELLO_ACK\"}", JsonCodec.encode(new Frame.HelloAck(List.of(), -1)), "v1 ack unchanged");
        for (int limit : new int[] {1024, 20000, 65536, 1 << 20}) {
            String cid = "c".repeat(JsonCodec.MAX_CID_CHARS);
            int payload = JsonCodec.maxDataPayload(limit);
            String frame = JsonCodec.encode(new Frame.Data(cid, Long.MAX_VALUE, new byte[payload]));
            assertTrue(frame.length() <= limit, "a DATA frame of the largest payload fits " + limit + ": " + frame.length());
            assertTrue(frame.length() > limit - 200, "and uses the room: " + frame.length());
        }
    }

    @Test
    void replicasAckNamesTheReplicaAndTheList() {
        Frame.HelloAck ack = new Frame.HelloAck(List.of("replicas"), -1, 0, 0, "hub-1", List.of("hub-0", "hub-1"));
        assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"replicas\"],\"replica\":\"hub-1\","
                             + "\"replicas\":[\"hub-0\",\"hub-1\"]}", JsonCodec.encode(ack));
        assertEquals(ack, decode(JsonCodec.encode(ack)));
        Frame.HelloAck plain = (Frame.HelloAck) decode("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}");
        assertEquals("", plain.replica(), "no replica from a hub without the capability");
        assertEquals(List.of(), plain.replicas());
        assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}", JsonCodec.encode(plain), "nothing new for v1");
        assertThrows(ProtocolException.class, () -> JsonCodec.decode("{\"t\":\"HELLO_ACK\",\"replicas\":\"hub-0\"}"));
    }

    @Test
    void aCidLongerThan128CharactersIsRefused() {
        String ok = "{\"t\":\"OPEN\",\"cid\":\"" + "a".repeat(128) + "\",\"connector\":\"db\"}";
        assertEquals(new Frame.Open("a".repeat(128), "db"), decode(ok));
        ProtocolException e = assertThrows(ProtocolException.class, () -> JsonCodec.decode(
                "{\"t\":\"DATA\",\"cid\":\"" + "a".repeat(129) + "\",\"seq\":0,\"b64\":\"\"}"));
        assertEquals("bad_cid", e.reason());
    }

    @Test
    void decodesEveryFrameIgnoringUnknownFieldsAndOrder() {
        assertEquals(new Frame.Hello("premise-01", List.of("ldap"), "1.5", List.of()),
                     decode("{\"ver\":\"1.5\",\"t\":\"HELLO\",\"tenant\":\"x\",\"agent_id\":\"premise-01\",\"connectors\":[\"ldap\"]}"));
        assertEquals(new Frame.HelloAck(List.of(), -1), decode("{\"t\":\"HELLO_ACK\"}"));
        assertEquals(new Frame.HelloAck(List.of("drain", "bin1"), -1),
                     decode("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\",\"bin1\"],\"extra\":{\"a\":[1,2]}}"));
        assertEquals(new Frame.HelloAck(List.of(), 7), decode("{\"t\":\"WELCOME\",\"epoch\":7}"));
        assertEquals(new Frame.Open(CID, "db"), decode("{\"t\":\"OPEN\",\"cid\":\"" + CID + "\",\"connector\":\"db\"}"));
        Frame.Data d = (Frame.Data) decode("{\"t\":\"DATA\",\"cid\":\"x\",\"seq\":3,\"b64\":\"aGVsbG8=\"}");
        assertEquals(3, d.seq());
        assertArrayEquals("hello".getBytes(StandardCharsets.US_ASCII), d.payload());
        assertEquals(new Frame.Fin("x", Direction.C2A), decode("{\"t\":\"FIN\",\"cid\":\"x\",\"dir\":\"c2a\"}"));
        assertEquals(new Frame.Rst("x", "idle_timeout"), decode("{\"t\":\"RST\",\"cid\":\"x\",\"err\":\"idle_timeout\"}"));
        assertEquals(new Frame.Rst("x", "some_new_reason"), decode("{\"t\":\"RST\",\"cid\":\"x\",\"err\":\"some_new_reason\"}"));
        assertEquals(new Frame.Rst("x", ""), decode("{\"t\":\"RST\",\"cid\":\"x\"}"));
        assertEquals(new Frame.Drain(), decode("{\"t\":\"DRAIN\"}"));
    }

    @Test
    void dataFramesRoundTripEveryByteValue() {
        byte[] all = new byte[256];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) i;
        }
        Frame.Data d = (Frame.Data) decode(JsonCodec.encode(new Frame.Data(CID, 9, all)));
        assertArrayEquals(all, d.payload());
        assertEquals("Data[cid=" + CID + ", seq=9, bytes=256]", d.toString(), "toString never shows payload bytes");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "not json|bad_json",
            "[1,2]|bad_json",
            "{\"t\":\"OPEN\"|bad_json",
            "{\"t\":\"OPEN\"} trailing|bad_json",
            "{}|missing_field",
            "{\"t\":\"NOPE\"}|unknown_type",
            "{\"t\":7}|bad_field",
            "{\"t\":\"OPEN\",\"cid\":\"x\"}|missing_field",
            "{\"t\":\"DATA\",\"cid\":\"x\",\"b64\":\"AA==\"}|missing_field",
            "{\"t\":\"DATA\",\"cid\":\"x\",\"seq\":-1,\"b64\":\"AA==\"}|bad_field",
            "{\"t\":\"DATA\",\"cid\":\"x\",\"seq\":1.5,\"b64\":\"AA==\"}|bad_field",
            "{\"t\":\"DATA\",\"cid\":\"x\",\"seq\":0,\"b64\":\"@@@\"}|bad_base64",
            "{\"t\":\"DATA\",\"cid\":1,\"seq\":0,\"b64\":\"AA==\"}|bad_field",
            "{\"t\":\"FIN\",\"cid\":\"x\",\"dir\":\"sideways\"}|bad_field",
            "{\"t\":\"FIN\",\"cid\":\"x\"}|missing_field",
            "{\"t\":\"HELLO\",\"connectors\":[\"a\"]}|missing_field",
            "{\"t\":\"HELLO\",\"agent_id\":\"a\",\"connectors\":[1]}|bad_field",
            "{\"t\":\"HELLO_ACK\",\"caps\":\"drain\"}|bad_field"
    })
    void malformedFramesAreRefusedWithAReason(String text, String reason) {
        ProtocolException e = assertThrows(ProtocolException.class, () -> JsonCodec.decode(text));
        assertEquals(reason, e.reason(), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {40, 1000})
    void deeplyNestedInputIsRefusedWithoutStackOverflow(int depth) {
        String text = "{\"t\":\"DRAIN\",\"x\":" + "[".repeat(depth) + "]".repeat(depth) + "}";
        if (depth > 16) {
            assertThrows(ProtocolException.class, () -> JsonCodec.decode(text));
        }
    }

    private static Frame decode(String text) {
        try {
            return JsonCodec.decode(text);
        } catch (ProtocolException e) {
            throw new AssertionError(text + ": " + e.getMessage(), e);
        }
    }
}
