package io.nowconnect.fuzz;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.protocol.ProtocolException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Property tests of the v1 codec with a seeded generator (the seed is printed; {@code -Dnc.fuzz.seed=N} replays one):
 * every valid frame round-trips ({@code decode(encode(f)).equals(f)} and re-encoding is byte-stable); random and mutated
 * texts (flipped bytes, truncation, duplicated fields, wrong types, huge numbers, unicode, deep nesting) either decode
 * or fail with a {@link ProtocolException}, never anything else.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class JsonCodecFuzzTest {
    private static final int VALID = 3000;
    private static final int MUTATED = 20_000;
    private static final int RANDOM = 5000;

    @Test
    void validFramesRoundTripAndMutationsFailOnlyWithProtocolException() {
        long seed = Long.getLong("nc.fuzz.seed", System.nanoTime());
        System.out.println("fuzz: codec seed " + seed + " (replay with -Dnc.fuzz.seed=" + seed + ")");
        Random rnd = new Random(seed);
        long start = System.nanoTime();
        List<String> corpus = new ArrayList<>();
        for (int i = 0; i < VALID; i++) {
            Frame f = randomFrame(rnd);
            String text = JsonCodec.encode(f);
            Frame back = decodeOrFail(text, seed, "valid frame " + f);
            assertEquals(f, back, "round trip of " + clip(text) + " (seed " + seed + ")");
            assertEquals(text, JsonCodec.encode(back), "re-encoding is stable (seed " + seed + ")");
            corpus.add(text);
        }
        int decoded = 0;
        int rejected = 0;
        for (int i = 0; i < MUTATED; i++) {
            String text = mutate(rnd, corpus.get(rnd.nextInt(corpus.size())));
            Object r = decodeAny(text, seed);
            if (r instanceof Frame f) {
                decoded++;
                // whatever decodes must encode and decode to the same frame again
                String again = encodeOrFail(f, text, seed);
                assertEquals(f, decodeOrFail(again, seed, "re-encoded mutant " + clip(text)), "mutant round trip (seed " + seed + ")");
            } else {
                rejected++;
            }
        }
        for (int i = 0; i < RANDOM; i++) {
            String text = randomText(rnd);
            if (decodeAny(text, seed) instanceof Frame f) {
                encodeOrFail(f, text, seed);
            }
        }
        System.out.printf("fuzz: codec: %d valid frames round-tripped, %d mutants (%d decoded, %d rejected with "
                                  + "ProtocolException), %d random texts, in %d ms%n",
                          VALID, MUTATED, decoded, rejected, RANDOM, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }

    private static Frame decodeOrFail(String text, long seed, String what) {
        try {
            return JsonCodec.decode(text);
        } catch (ProtocolException e) {
            return fail(what + " did not decode: " + e.getMessage() + " (seed " + seed + ")");
        }
    }

    /** A frame, or the ProtocolException; anything else fails the test. */
    private static Object decodeAny(String text, long seed) {
        try {
            return JsonCodec.decode(text);
        } catch (ProtocolException e) {
            return e;
        } catch (Throwable t) {
            throw new AssertionError("decode threw " + t + " for " + clip(text) + " (seed " + seed + ")", t);
        }
    }

    private static String encodeOrFail(Frame f, String from, long seed) {
        try {
            return JsonCodec.encode(f);
        } catch (Throwable t) {
            throw new AssertionError("encode threw " + t + " for a frame decoded from " + clip(from) + " (seed " + seed + ")", t);
        }
    }

    static Frame randomFrame(Random rnd) {
        return switch (rnd.nextInt(8)) {
        case 0 -> new Frame.Hello(str(rnd), strings(rnd), str(rnd), strings(rnd));
        case 1 -> new Frame.HelloAck(strings(rnd), -1);
        case 2 -> new Frame.HelloAck(strings(rnd), rnd.nextBoolean() ? rnd.nextInt(1000) : rnd.nextLong() & Long.MAX_VALUE);
        case 3 -> new Frame.Open(cid(rnd), str(rnd));
        case 4 -> {
            byte[] b = new byte[rnd.nextInt(4) == 0 ? rnd.nextInt(9000) : rnd.nextInt(64)];
            rnd.nextBytes(b);
            yield new Frame.Data(cid(rnd), rnd.nextInt(3) == 0 ? rnd.nextLong() & Long.MAX_VALUE : rnd.nextInt(100_000), b);
        }
        case 5 -> new Frame.Fin(cid(rnd), rnd.nextBoolean() ? Direction.A2C : Direction.C2A);
        case 6 -> new Frame.Rst(cid(rnd), rnd.nextInt(5) == 0 ? "" : str(rnd));
        default -> new Frame.Drain();
        };
    }

    /** A random cid within the codec's limit ({@link io.nowconnect.protocol.JsonCodec#MAX_CID_CHARS}). */
    private static String cid(Random rnd) {
        String s = str(rnd);
        while (s.length() > io.nowconnect.protocol.JsonCodec.MAX_CID_CHARS) {
            s = str(rnd);
        }
        return s;
    }

    private static List<String> strings(Random rnd) {
        List<String> out = new ArrayList<>();
        for (int i = rnd.nextInt(4); i > 0; i--) {
            out.add(str(rnd));
        }
        return out;
    }

    /** Strings with escapes, control characters, non-ASCII and (well-formed) surrogate pairs. */
    static String str(Random rnd) {
        int len = rnd.nextInt(6) == 0 ? rnd.nextInt(300) : rnd.nextInt(40);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < len; i++) {
            switch (rnd.nextInt(10)) {
            case 0 -> sb.append((char) rnd.nextInt(0x20));
            case 1 -> sb.append("\"\\/".charAt(rnd.nextInt(3)));
            case 2 -> sb.append((char) (0xa0 + rnd.nextInt(0x2000)));
            case 3 -> sb.appendCodePoint(0x10000 + rnd.nextInt(0x10000));
            default -> sb.append((char) (0x20 + rnd.nextInt(0x5f)));
            }
        }
        return sb.toString();
    }

    private static final String[] HUGE = {"99999999999999999999999", "-1", "1e400", "1.5", "-0", "18446744073709551616",
                                          "9223372036854775807", "9223372036854775808", "0x10", "NaN", "Infinity", "01"};
    private static final String[] VALUES = {"null", "true", "false", "[]", "{}", "\"\"", "[1,[2,[3]]]", "{\"a\":{\"b\":1}}",
                                            "\"\\ud800\"", "\"\\udc00x\"", "\"\\u0000\"", "\"é😀\"", "[\"x\",1]", "[null]"};
    private static final String[] FIELDS = {"t", "cid", "connector", "seq", "b64", "dir", "err", "agent_id", "ver",
                                            "connectors", "caps", "epoch"};

    static String mutate(Random rnd, String valid) {
        String s = valid;
        int rounds = 1 + rnd.nextInt(3);
        for (int r = 0; r < rounds; r++) {
            s = switch (rnd.nextInt(10)) {
            case 0 -> { // flip a byte of the UTF-8 form
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                if (b.length > 0) {
                    b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
                }
                yield new String(b, StandardCharsets.UTF_8);
            }
            case 1 -> s.substring(0, rnd.nextInt(s.length() + 1)); // truncate
            case 2 -> { // duplicate a field
                String f = FIELDS[rnd.nextInt(FIELDS.length)];
                yield s.startsWith("{") ? "{\"" + f + "\":" + VALUES[rnd.nextInt(VALUES.length)] + "," + s.substring(1) : s;
            }
            case 3 -> { // replace a value with a wrong type
                String f = FIELDS[rnd.nextInt(FIELDS.length)];
                yield s.replaceFirst("\"" + f + "\":(\"[^\"]*\"|\\d+|\\[[^\\]]*\\])",
                                     java.util.regex.Matcher.quoteReplacement("\"" + f + "\":" + VALUES[rnd.nextInt(VALUES.length)]));
            }
            case 4 -> s.replaceFirst("\"(seq|epoch)\":\\d+", "\"$1\":" + HUGE[rnd.nextInt(HUGE.length)]);
            case 5 -> { // insert random unicode / control characters somewhere
                int at = rnd.nextInt(s.length() + 1);
                yield s.substring(0, at) + str(rnd) + s.substring(at);
            }
            case 6 -> s.endsWith("}") ? s.substring(0, s.length() - 1) + ",\"x\":" + "[".repeat(rnd.nextInt(40))
                    + "]".repeat(rnd.nextInt(40)) + "}" : s;
            case 7 -> s.replaceFirst("\"b64\":\"[^\"]*\"", java.util.regex.Matcher.quoteReplacement(
                    "\"b64\":\"" + str(rnd).replace("\"", "").replace("\\", "") + "\""));
            case 8 -> s.replaceFirst("\"t\":\"[A-Z_]+\"", "\"t\":\"" + List.of("OPEN", "DATA", "FIN", "RST", "HELLO", "HELLO_ACK",
                                                                             "WELCOME", "DRAIN", "open", "", "X").get(rnd.nextInt(11)) + "\"");
            default -> { // swap two characters
                if (s.length() < 2) {
                    yield s;
                }
                char[] c = s.toCharArray();
                int a = rnd.nextInt(c.length);
                int b = rnd.nextInt(c.length);
                char t = c[a];
                c[a] = c[b];
                c[b] = t;
                yield new String(c);
            }
            };
        }
        return s;
    }

    private static String randomText(Random rnd) {
        StringBuilder sb = new StringBuilder();
        String alphabet = "{}[]\":,0123456789-+.eEtruefalsn \\u\t\n";
        for (int i = rnd.nextInt(80); i > 0; i--) {
            sb.append(rnd.nextInt(4) == 0 ? (char) rnd.nextInt(0x3000) : alphabet.charAt(rnd.nextInt(alphabet.length())));
        }
        return sb.toString();
    }

    private static String clip(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "…" : s;
    }
}
