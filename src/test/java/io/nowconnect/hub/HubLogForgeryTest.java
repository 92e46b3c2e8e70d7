package io.nowconnect.hub;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.LogCapture;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;
import io.nowconnect.log.Logging;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A peer's values in the hub's log: an agent whose HELLO {@code ver} holds a newline, a fake log record and 300 KB
 * gets one escaped, short line in both formats; a close reason with C1 and bidi controls and a forged field is one
 * escaped line whose fields are the hub's own; floods of refusals are one line per period with a count.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubLogForgeryTest {
    private Harness harness;
    private LogCapture capture;
    private List<LogRecord> records;

    @BeforeEach
    void setUp(Harness harness) {
        this.harness = harness;
        capture = new LogCapture();
        records = capture.records;
    }

    @AfterEach
    void tearDown() {
        capture.close();
    }

    @Test
    void forgedHelloVersionIsOneEscapedShortLine() throws Exception {
        Hub hub = harness.startHub("forge");
        String forged = "1.5\\n2026-01-01T00:00:00.000Z INFO    Agent - NowConnect agent stopped event=stopped\\r"
                + "y".repeat(300_000);
        try (RawAgent agent = RawAgent.connect(hub.port(),
                                                                              HubProtocolTest.goodToken(harness,
                                                                                                        Harness.AGENT_ID))) {
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"" + Harness.AGENT_ID + "\",\"connectors\":[\"forge\"],\"ver\":\""
                               + forged + "\"}");
            assertEquals("{\"t\":\"HELLO_ACK\"}", agent.next());
        }
        // the hub logs the connection just after it sent the ack
        Harness.await(Duration.ofSeconds(5), () -> records.stream()
                .anyMatch(r -> r.getMessage() != null && r.getMessage().startsWith("Agent connected")), "agent_connected");
        LogRecord connected = records.stream()
                .filter(r -> r.getMessage() != null && r.getMessage().startsWith("Agent connected")).findFirst()
                .orElseThrow(() -> new AssertionError("no agent_connected record"));

        String plain = Logging.formatter(false).format(connected);
        String json = Logging.formatter(true).format(connected);
        System.out.println("[plain] " + plain.substring(0, Math.min(300, plain.length())) + "...");
        for (String line : List.of(plain, json)) {
            assertEquals(1, line.split("\n").length, "one line");
            assertTrue(line.length() < 2048, "short: " + line.length());
            assertFalse(line.contains("\r"));
        }
        assertTrue(plain.contains("ver=\"1.5\\\\n2026-01-01T00:00:00.000Z INFO"), plain.substring(0, 400));
        assertTrue(plain.contains(" more)"), "the cap is marked");
        JsonNode node = HubProtocolTest.JSON.readTree(json);
        assertTrue(node.get("ver").asText().startsWith("1.5\\n2026-01-01T00:00:00.000Z INFO"), node.get("ver").asText());
        assertTrue(node.get("ver").asText().endsWith(" more)"));
        records.stream().filter(r -> r.getLevel().intValue() >= Level.INFO.intValue())
                .forEach(r -> assertEquals(1, Logging.formatter(false).format(r).split("\n").length));
    }

    @Test
    void peerCloseReasonIsOneEscapedLineInBothFormats() throws Exception {
        Hub hub = harness.startHub("forge");
        String reason = "bye\u009b[2J\u202egnp.exe\nevent=forged level=ERROR";
        try (RawAgent agent = RawAgent.connect(hub.port(), scopedToken("forge"))) {
            agent.hello("forge");
            Harness.await(Duration.ofSeconds(5), () -> hub.agentCount() == 1, "tunnel registered");
            agent.sendClose(1000, reason);
            agent.awaitClose(Duration.ofSeconds(5));
        }
        Harness.await(Duration.ofSeconds(5), () -> disconnected().isPresent(), "agent_disconnected");
        LogRecord record = disconnected().orElseThrow();
        String plain = Logging.formatter(false).format(record);
        String json = Logging.formatter(true).format(record);
        System.out.println("[plain] " + plain.strip());
        System.out.println("[json]  " + json.strip());
        for (String line : List.of(plain, json)) {
            assertEquals(1, line.split("\n").length, "one line: " + line);
            for (char c : new char[] {'\u009b', '\u202e', '\r'}) {
                assertFalse(line.indexOf(c) >= 0, "raw U+" + Integer.toHexString(c) + " in " + line);
            }
        }
        assertTrue(plain.contains("\\u009b") && plain.contains("\\u202e"), plain);
        Map<String, String> fields = plainFields(plain);
        assertEquals("agent_disconnected", fields.get("event"), plain);
        assertFalse(fields.containsKey("level"), "no forged field: " + plain);
        JsonNode node = HubProtocolTest.JSON.readTree(json);
        assertEquals("agent_disconnected", node.get("event").asText());
        assertEquals("INFO", node.get("level").asText());
        assertTrue(node.get("reason").asText().contains("\\u009b[2J\\u202egnp.exe\\nevent=forged level=ERROR"),
                   node.get("reason").asText());
    }

    @Test
    void nineteenRefusalsAreOneOrTwoLinesWithACount() throws Exception {
        // refused at once, not after NC_HUB_AGENT_WAIT_MS
        Hub hub = harness.startHub(0, Map.of("NC_HUB_AGENT_WAIT_MS", "0"), "lonely");
        int lonely = hub.listenerPorts().get("lonely");
        for (int i = 0; i < 19; i++) {
            assertEquals(401, RawAgent.upgradeStatus(hub.port(), "Bearer not.a.token" + i));
            try (java.net.Socket client = Harness.client(lonely)) {
                assertEquals(-1, client.getInputStream().read(), "closed: no agent");
            }
        }
        for (String event : List.of("auth_failed", "no_agent_for_connector")) {
            List<LogRecord> lines = records.stream().filter(r -> event.equals(field(r, "event"))).toList();
            lines.forEach(r -> System.out.println("[plain] " + Logging.formatter(false).format(r).strip()));
            assertTrue(lines.size() >= 1 && lines.size() <= 2, event + ": " + lines.size() + " lines");
            // the count since the last line: "refused" on upgrades, "count" on the listeners' lines
            long counted = lines.stream().mapToLong(r -> ((Number) (field(r, "refused") != null ? field(r, "refused")
                    : field(r, "count"))).longValue()).sum();
            assertTrue(counted >= 1 && counted <= 19, event + " counts " + counted);
        }
    }

    private java.util.Optional<LogRecord> disconnected() {
        return records.stream().filter(r -> "agent_disconnected".equals(field(r, "event"))).findFirst();
    }

    private static Object field(LogRecord r, String key) {
        Object[] p = r.getParameters();
        return p != null && p.length == 1 && p[0] instanceof io.nowconnect.log.Event e ? e.fields().get(key) : null;
    }

    /** The fields of a plain line, read as a log parser would: key=value or key="quoted \" value" after the message. */
    private static Map<String, String> plainFields(String line) {
        Map<String, String> fields = new java.util.LinkedHashMap<>();
        String rest = line.strip().substring(line.indexOf(" - ") + 3);
        List<String> tokens = new ArrayList<>();
        StringBuilder token = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < rest.length(); i++) {
            char c = rest.charAt(i);
            if (c == '\\' && quoted && i + 1 < rest.length()) {
                token.append(c).append(rest.charAt(++i));
            } else if (c == '"') {
                quoted = !quoted;
                token.append(c);
            } else if (c == ' ' && !quoted) {
                tokens.add(token.toString());
                token.setLength(0);
            } else {
                token.append(c);
            }
        }
        tokens.add(token.toString());
        for (String t : tokens) {
            int eq = t.indexOf('=');
            if (eq > 0 && !t.startsWith("\"")) {
                fields.merge(t.substring(0, eq), t.substring(eq + 1), (a, b) -> a + "|" + b);
            }
        }
        return fields;
    }

    private String scopedToken(String... connectors) throws Exception {
        Map<String, Object> claims = HubProtocolTest.claims(Harness.AGENT_ID);
        claims.put("connectors", List.of(connectors));
        return HubProtocolTest.jwt(HubProtocolTest.header("HS256"), claims, HubProtocolTest.secret(harness));
    }
}
