package io.nowconnect.protocol;

import java.io.IOException;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;

/**
 * Protocol v1: frames as JSON text, field order and names exactly as the wire protocol document shows them.
 *
 * <p>Encoding writes no spaces and fields in document order ({@code {"t":"DATA","cid":"…","seq":0,"b64":"…"}}),
 * so frames are byte-for-byte what other NowConnect peers send. Decoding ignores unknown fields and rejects
 * anything else with a {@link ProtocolException}. Thread-safe and stateless.
 */
public final class JsonCodec {
    /**
     * Parsers and generators borrow their buffers (about 16 KiB of char arrays) from one small pool shared by all
     * threads. Jackson's default pool is one per thread: every tunnel's reader thread (a virtual thread that lives as
     * long as the tunnel) would hold its own buffers for good, 16 KiB of heap per idle tunnel on a hub.
     */
    private static final int RECYCLED_BUFFERS = 32;
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16).build())
            .recyclerPool(JsonRecyclerPools.newBoundedPool(RECYCLED_BUFFERS))
            .build();
    private static final Base64.Encoder B64 = Base64.getEncoder();
    private static final Base64.Decoder B64_DECODER = Base64.getDecoder();
    /** Longest cid accepted in a frame, in characters (a UUID has 36); longer ones are refused as malformed. */
    public static final int MAX_CID_CHARS = 128;
    /** Most bytes of a JSON DATA frame besides its base64 payload, for a cid of up to {@link #MAX_CID_CHARS}. */
    static final int DATA_OVERHEAD = 192;

    private JsonCodec() {
    }

    /**
     * Encode a frame as a v1 JSON text frame.
     *
     * @param frame frame to encode
     * @return JSON text
     */
    public static String encode(Frame frame) {
        if (frame instanceof Frame.Data d) {
            // hot path: no generator needed, cid is escaped like any other string
            StringBuilder sb = new StringBuilder(48 + d.cid().length() + (d.payload().length + 2) / 3 * 4);
            sb.append("{\"t\":\"DATA\",\"cid\":");
            appendString(sb, d.cid());
            sb.append(",\"seq\":").append(d.seq()).append(",\"b64\":\"");
            sb.append(B64.encodeToString(d.payload()));
            return sb.append("\"}").toString();
        }
        StringWriter out = new StringWriter(96);
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("t", frame.type().wire());
            switch (frame) {
            case Frame.Hello h -> {
                g.writeStringField("agent_id", h.agentId());
                g.writeArrayFieldStart("connectors");
                for (String c : h.connectors()) {
                    g.writeString(c);
                }
                g.writeEndArray();
                g.writeStringField("ver", h.version());
                if (!h.caps().isEmpty()) {
                    writeCaps(g, h.caps());
                }
                if (h.window() > 0) {
                    g.writeNumberField("win", h.window());
                }
            }
            case Frame.HelloAck a -> {
                if (a.epoch() >= 0) {
                    g.writeNumberField("epoch", a.epoch());
                }
                if (!a.caps().isEmpty()) {
                    writeCaps(g, a.caps());
                }
                if (a.maxMessage() > 0) {
                    g.writeNumberField("max_message", a.maxMessage());
                }
                if (a.window() > 0) {
                    g.writeNumberField("win", a.window());
                }
                if (!a.replica().isEmpty()) {
                    g.writeStringField("replica", a.replica());
                }
                if (!a.replicas().isEmpty()) {
                    g.writeArrayFieldStart("replicas");
                    for (String r : a.replicas()) {
                        g.writeString(r);
                    }
                    g.writeEndArray();
                }
            }
            case Frame.Open o -> {
                g.writeStringField("cid", o.cid());
                g.writeStringField("connector", o.connector());
            }
            case Frame.Fin f -> {
                g.writeStringField("cid", f.cid());
                g.writeStringField("dir", f.dir().wire());
            }
            case Frame.Rst r -> {
                g.writeStringField("cid", r.cid());
                g.writeStringField("err", r.err());
            }
            case Frame.Drain ignored -> {
            }
            case Frame.Data ignored -> throw new IllegalStateException("handled above");
            case Frame.Window ignored -> throw new IllegalArgumentException("WINDOW exists only as a binary frame (bin1)");
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException("Cannot encode to a string writer", e);
        }
        return out.toString();
    }

    private static int intField(long value) {
        return (int) Math.min(value, Integer.MAX_VALUE);
    }

    /**
     * The largest DATA payload whose JSON frame fits in a WebSocket message of {@code maxMessage} bytes, for a cid of
     * up to {@link #MAX_CID_CHARS} plain characters: base64 takes 4 bytes for every 3, and the rest of the frame at most
     * {@value #DATA_OVERHEAD} bytes.
     *
     * @param maxMessage largest message the peer accepts
     * @return payload bytes (at least 1)
     */
    public static int maxDataPayload(int maxMessage) {
        return Math.max(1, (maxMessage - DATA_OVERHEAD) / 4 * 3);
    }

    /**
     * Decode one v1 JSON text frame.
     *
     * @param text the text frame
     * @return the frame
     * @throws ProtocolException when the text is not valid JSON, lacks a required field, has a bad value or an unknown type
     */
    public static Frame decode(String text) throws ProtocolException {
        String t = null;
        String cid = null;
        String connector = null;
        String b64 = null;
        String dir = null;
        String err = null;
        String agentId = null;
        String ver = null;
        long seq = -1;
        long epoch = -1;
        long maxMessage = 0;
        long window = 0;
        List<String> connectors = null;
        List<String> caps = List.of();
        String replica = "";
        List<String> replicas = List.of();
        try (JsonParser p = FACTORY.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new ProtocolException("bad_json", "frame is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                switch (name) {
                case "t" -> t = string(p, v, name);
                case "cid" -> cid = string(p, v, name);
                case "connector" -> connector = string(p, v, name);
                case "b64" -> b64 = string(p, v, name);
                case "dir" -> dir = string(p, v, name);
                case "err" -> err = v == JsonToken.VALUE_NULL ? null : string(p, v, name);
                case "agent_id" -> agentId = string(p, v, name);
                case "ver" -> ver = v == JsonToken.VALUE_NUMBER_FLOAT || v == JsonToken.VALUE_NUMBER_INT
                        ? p.getText() : string(p, v, name);
                case "seq" -> seq = number(p, v, name);
                case "epoch" -> epoch = number(p, v, name);
                case "max_message" -> maxMessage = number(p, v, name);
                case "win" -> window = number(p, v, name);
                case "connectors" -> connectors = strings(p, v, name);
                case "caps" -> caps = strings(p, v, name);
                case "replica" -> replica = string(p, v, name);
                case "replicas" -> replicas = strings(p, v, name);
                default -> p.skipChildren();
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
                throw new ProtocolException("bad_json", "trailing content after the frame object");
            }
        } catch (IOException e) {
            throw new ProtocolException("bad_json", "malformed JSON: " + firstLine(e.getMessage()));
        }
        if (t == null) {
            throw new ProtocolException("missing_field", "frame has no \"t\" field");
        }
        if (cid != null && cid.length() > MAX_CID_CHARS) {
            throw new ProtocolException("bad_cid", "cid longer than " + MAX_CID_CHARS + " characters");
        }
        String typeName = t;
        FrameType type = FrameType.fromWire(typeName)
                .orElseThrow(() -> new ProtocolException("unknown_type", "unknown frame type \"" + clip(typeName) + "\""));
        return switch (type) {
        case HELLO -> new Frame.Hello(require(agentId, "agent_id", t),
                                      connectors == null ? List.of() : connectors,
                                      ver == null ? "" : ver,
                                      caps, intField(window));
        case HELLO_ACK -> new Frame.HelloAck(caps, -1, intField(maxMessage), intField(window), replica, replicas);
        case WELCOME -> new Frame.HelloAck(caps, Math.max(epoch, 0), intField(maxMessage), intField(window),
                                           replica, replicas);
        case OPEN -> new Frame.Open(require(cid, "cid", t), require(connector, "connector", t));
        case DATA -> {
            require(cid, "cid", t);
            require(b64, "b64", t);
            if (seq < 0) {
                throw new ProtocolException("missing_field", "DATA frame has no valid \"seq\"");
            }
            byte[] bytes;
            try {
                bytes = B64_DECODER.decode(b64);
            } catch (IllegalArgumentException e) {
                throw new ProtocolException("bad_base64", "DATA frame has invalid base64 in \"b64\"");
            }
            yield new Frame.Data(cid, seq, bytes);
        }
        case FIN -> {
            require(cid, "cid", t);
            String dirName = require(dir, "dir", t);
            Direction d = Direction.fromWire(dirName)
                    .orElseThrow(() -> new ProtocolException("bad_field", "FIN frame has unknown dir \"" + clip(dirName) + "\""));
            yield new Frame.Fin(cid, d);
        }
        case RST -> new Frame.Rst(require(cid, "cid", t), err);
        case DRAIN -> new Frame.Drain();
        // binary only (bin1): as JSON it is a type this codec does not know
        case WINDOW -> throw new ProtocolException("unknown_type", "unknown frame type \"WINDOW\"");
        };
    }

    private static void writeCaps(JsonGenerator g, List<String> caps) throws IOException {
        g.writeArrayFieldStart("caps");
        for (String c : caps) {
            g.writeString(c);
        }
        g.writeEndArray();
    }

    private static void appendString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
            case '"' -> sb.append("\\\"");
            case '\\' -> sb.append("\\\\");
            default -> {
                if (c < 0x20) {
                    sb.append(String.format("\\u%04x", (int) c));
                } else {
                    sb.append(c);
                }
            }
            }
        }
        sb.append('"');
    }

    private static String string(JsonParser p, JsonToken v, String name) throws IOException, ProtocolException {
        if (v != JsonToken.VALUE_STRING) {
            p.skipChildren();
            throw new ProtocolException("bad_field", "field \"" + name + "\" must be a string");
        }
        return p.getText();
    }

    private static long number(JsonParser p, JsonToken v, String name) throws IOException, ProtocolException {
        if (v != JsonToken.VALUE_NUMBER_INT) {
            p.skipChildren();
            throw new ProtocolException("bad_field", "field \"" + name + "\" must be an integer");
        }
        long n = p.getLongValue();
        if (n < 0) {
            throw new ProtocolException("bad_field", "field \"" + name + "\" must not be negative");
        }
        return n;
    }

    private static List<String> strings(JsonParser p, JsonToken v, String name) throws IOException, ProtocolException {
        if (v != JsonToken.START_ARRAY) {
            p.skipChildren();
            throw new ProtocolException("bad_field", "field \"" + name + "\" must be an array of strings");
        }
        List<String> out = new ArrayList<>();
        JsonToken e;
        while ((e = p.nextToken()) != JsonToken.END_ARRAY) {
            out.add(string(p, e, name));
        }
        return out;
    }

    private static String require(String value, String field, String t) throws ProtocolException {
        if (value == null) {
            throw new ProtocolException("missing_field", t + " frame has no \"" + field + "\" field");
        }
        return value;
    }

    private static String clip(String s) {
        return s.length() > 32 ? s.substring(0, 32) + "…" : s;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return clip(nl < 0 ? s : s.substring(0, nl));
    }
}
