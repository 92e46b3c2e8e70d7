package io.nowconnect.fuzz;

import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ProtocolException;
import io.nowconnect.ws.ChunkedInput;
import io.nowconnect.ws.UpgradedSocket;
import io.nowconnect.ws.WsProtocolException;
import io.nowconnect.ws.WsReader;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Property tests, seeded ({@code -Dnc.fuzz.seed=N} replays one), of the two binary parsers a hostile peer reaches:
 * the {@code bin1} codec (every valid DATA/WINDOW round-trips; mutated and random messages decode or fail with a
 * {@link ProtocolException}, nothing else) and the WebSocket frame reader (valid frame sequences, split into random
 * socket reads, come out as the messages that went in; mutated and random byte streams yield events, an end of stream
 * or a {@link WsProtocolException}, nothing else, and never a message above the limit).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BinaryFramingFuzzTest {
    private static final int MAX_MESSAGE = 70_000;

    @Test
    void bin1CodecRoundTripsAndRejectsOnlyWithProtocolException() {
        long seed = Long.getLong("nc.fuzz.seed", System.nanoTime());
        System.out.println("fuzz: bin1 seed " + seed + " (replay with -Dnc.fuzz.seed=" + seed + ")");
        Random rnd = new Random(seed);
        List<byte[]> corpus = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            Frame f = rnd.nextBoolean()
                    ? new Frame.Data(cid(rnd), rnd.nextLong(BinaryCodec.MAX_UINT32 + 1), bytes(rnd, rnd.nextInt(300)))
                    : new Frame.Window(cid(rnd), 1 + rnd.nextLong(BinaryCodec.MAX_UINT32));
            byte[] m = BinaryCodec.encode(f);
            Frame back = decode(m, seed);
            assertEquals(BinaryCodec.encode(back).length, m.length);
            assertArrayEquals(m, BinaryCodec.encode(back), "round trip (seed " + seed + ")");
            corpus.add(m);
        }
        int decoded = 0;
        int rejected = 0;
        for (int i = 0; i < 30_000; i++) {
            byte[] m = i % 5 == 0 ? bytes(rnd, rnd.nextInt(80)) : mutate(rnd, corpus.get(rnd.nextInt(corpus.size())));
            try {
                Frame f = BinaryCodec.decode(m);
                decoded++;
                assertArrayEquals(m, BinaryCodec.encode(f), "what decodes re-encodes to the same bytes (seed " + seed + ")");
            } catch (ProtocolException e) {
                rejected++;
            } catch (RuntimeException e) {
                fail("bin1 decode threw " + e + " for " + Arrays.toString(m) + " (seed " + seed + ")");
            }
        }
        System.out.printf("fuzz: bin1: 3000 valid frames round-tripped, 30000 mutants/random (%d decoded, %d rejected)%n",
                          decoded, rejected);
    }

    @Test
    void frameReaderSurvivesMutatedAndRandomStreams() {
        long seed = Long.getLong("nc.fuzz.seed", System.nanoTime());
        System.out.println("fuzz: ws seed " + seed + " (replay with -Dnc.fuzz.seed=" + seed + ")");
        Random rnd = new Random(seed);
        int valid = 0;
        int refused = 0;
        int ended = 0;
        for (int round = 0; round < 3000; round++) {
            boolean server = rnd.nextBoolean();
            List<byte[]> messages = new ArrayList<>();
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            int count = 1 + rnd.nextInt(6);
            for (int i = 0; i < count; i++) {
                byte[] payload = bytes(rnd, rnd.nextInt(4) == 0 ? rnd.nextInt(MAX_MESSAGE) : rnd.nextInt(200));
                messages.add(payload);
                writeMessage(rnd, wire, payload, server);
            }
            byte[] stream = wire.toByteArray();
            if (round % 3 == 0) {
                // intact: exactly the messages, in order, whatever the read boundaries
                WsReader reader = reader(rnd, stream, server);
                for (byte[] expected : messages) {
                    WsReader.Event e = next(reader, seed);
                    while (e instanceof WsReader.Ping) {
                        e = next(reader, seed);
                    }
                    assertTrue(e instanceof WsReader.Message, "a message, got " + e + " (seed " + seed + ")");
                    assertArrayEquals(expected, ((WsReader.Message) e).payload(), "payload (seed " + seed + ")");
                }
                assertEquals(null, next(reader, seed), "end of stream (seed " + seed + ")");
                valid++;
                continue;
            }
            byte[] bad = round % 3 == 1 ? mutate(rnd, stream) : bytes(rnd, rnd.nextInt(300));
            WsReader reader = reader(rnd, bad, server);
            try {
                for (int i = 0; i < 1000; i++) {
                    WsReader.Event e = reader.next();
                    if (e == null) {
                        ended++;
                        break;
                    }
                    if (e instanceof WsReader.Message m) {
                        assertTrue(m.payload().length <= MAX_MESSAGE, "message above the limit (seed " + seed + ")");
                    }
                }
            } catch (WsProtocolException e) {
                refused++;
                assertTrue(e.closeCode() == WsProtocolException.PROTOCOL_ERROR
                                   || e.closeCode() == WsProtocolException.MESSAGE_TOO_BIG, "close code " + e.closeCode());
            } catch (RuntimeException e) {
                fail("frame reader threw " + e + " (seed " + seed + ", round " + round + ")");
            }
        }
        System.out.printf("fuzz: ws: %d intact streams read back exactly, %d broken streams refused, %d ended%n",
                          valid, refused, ended);
    }

    /** A data message as 1-3 fragments (masked from a client), sometimes with a ping between them. */
    private static void writeMessage(Random rnd, ByteArrayOutputStream out, byte[] payload, boolean masked) {
        int parts = payload.length < 2 ? 1 : 1 + rnd.nextInt(3);
        int pos = 0;
        for (int p = 0; p < parts; p++) {
            int end = p == parts - 1 ? payload.length : pos + rnd.nextInt(payload.length - pos + 1);
            int op = p == 0 ? 0x2 : 0x0;
            frame(rnd, out, (p == parts - 1 ? 0x80 : 0) | op, Arrays.copyOfRange(payload, pos, end), masked);
            pos = end;
            if (p < parts - 1 && rnd.nextInt(3) == 0) {
                frame(rnd, out, 0x89, bytes(rnd, rnd.nextInt(126)), masked);
            }
        }
    }

    private static void frame(Random rnd, ByteArrayOutputStream out, int b0, byte[] payload, boolean masked) {
        out.write(b0);
        int len = payload.length;
        int maskBit = masked ? 0x80 : 0;
        if (len < 126) {
            out.write(maskBit | len);
        } else if (len < 65536 && rnd.nextBoolean()) {
            out.write(maskBit | 126);
            out.write(len >>> 8);
            out.write(len);
        } else {
            // the 64-bit form is also valid for short lengths
            out.write(maskBit | 127);
            for (int i = 7; i >= 0; i--) {
                out.write((int) ((long) len >>> (8 * i)));
            }
        }
        byte[] body = payload.clone();
        if (masked) {
            byte[] key = bytes(rnd, 4);
            out.writeBytes(key);
            for (int i = 0; i < body.length; i++) {
                body[i] ^= key[i & 3];
            }
        }
        out.writeBytes(body);
    }

    /** A reader over the bytes, delivered in reads of random sizes, then end of stream. */
    private static WsReader reader(Random rnd, byte[] stream, boolean server) {
        Queue<byte[]> chunks = new ArrayDeque<>();
        int pos = 0;
        while (pos < stream.length) {
            int n = Math.min(stream.length - pos, 1 + rnd.nextInt(rnd.nextBoolean() ? 16 : 20_000));
            chunks.add(Arrays.copyOfRange(stream, pos, pos + n));
            pos += n;
        }
        UpgradedSocket in = ChunkedInput.socket(List.copyOf(chunks));
        return server ? WsReader.server(in, MAX_MESSAGE) : WsReader.client(in, MAX_MESSAGE);
    }

    private static WsReader.Event next(WsReader reader, long seed) {
        try {
            return reader.next();
        } catch (RuntimeException e) {
            return fail("an intact stream was refused: " + e + " (seed " + seed + ")");
        }
    }

    private static Frame decode(byte[] m, long seed) {
        try {
            return BinaryCodec.decode(m);
        } catch (ProtocolException e) {
            return fail("a valid frame did not decode: " + e.getMessage() + " (seed " + seed + ")");
        }
    }

    private static byte[] mutate(Random rnd, byte[] in) {
        byte[] b = in.clone();
        switch (rnd.nextInt(5)) {
        case 0 -> {
            for (int i = 0; i < 1 + rnd.nextInt(4) && b.length > 0; i++) {
                b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
            }
        }
        case 1 -> b = Arrays.copyOf(b, b.length == 0 ? 0 : rnd.nextInt(b.length));
        case 2 -> {
            byte[] extra = bytes(rnd, 1 + rnd.nextInt(20));
            b = Arrays.copyOf(b, b.length + extra.length);
            System.arraycopy(extra, 0, b, b.length - extra.length, extra.length);
        }
        case 3 -> {
            if (b.length > 0) {
                b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            }
        }
        default -> {
            if (b.length > 2) {
                b[1] = (byte) (0x7E + rnd.nextInt(2) | (b[1] & 0x80)); // a wrong extended length
            }
        }
        }
        return b;
    }

    private static String cid(Random rnd) {
        int n = 1 + rnd.nextInt(rnd.nextInt(10) == 0 ? 80 : 36);
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            s.append(rnd.nextInt(20) == 0 ? (char) ('Ā' + rnd.nextInt(200)) : (char) ('a' + rnd.nextInt(26)));
        }
        return s.toString();
    }

    private static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }
}
