package io.nowconnect.log;

import java.util.logging.Level;
import java.util.logging.LogRecord;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both line formats with values a peer could send: newlines, control characters, a megabyte, quotes and fake fields
 * give one escaped, short line; failures carry {@code error}.
 */
@Timeout(60)
class LogFormatsTest {
    private static final String FORGED = "1.0\n2026-01-01T00:00:00.000Z INFO    Agent - NowConnect agent stopped event=stopped\r"
            + "\u0000\u001b[31m\u2028";
    private static final String MEGABYTE = "x".repeat(1 << 20);

    @Test
    void plainLineCannotBeForged() {
        String line = format(false, record("Agent connected: " + FORGED, Event.of("agent_connected")
                .with("ver", FORGED).with("reason", "a b event=stopped").with("cid", MEGABYTE)));
        assertOneShortLine(line);
        // quoted (it has spaces), so a backslash is doubled: \\n is the escaped newline
        assertTrue(line.contains("ver=\"1.0\\\\n2026-01-01T00:00:00.000Z INFO    Agent - NowConnect agent stopped "
                                         + "event=stopped\\\\r\\\\u0000\\\\u001b[31m\\\\u2028\""), line);
        assertTrue(line.contains("reason=\"a b event=stopped\""), "a value with spaces is quoted: " + line);
        assertTrue(line.contains("cid=\"" + "x".repeat(LogFormats.MAX_VALUE) + "...(" + ((1 << 20) - LogFormats.MAX_VALUE)
                                         + " more)\""), "capped");
    }

    @Test
    void jsonLineCannotBeForged() throws Exception {
        String line = format(true, record(MEGABYTE, Event.of("agent_connected").with("ver", FORGED).with("cid", MEGABYTE)));
        assertOneShortLine(line);
        JsonNode json = new ObjectMapper().readTree(line);
        String msg = json.get("msg").asText();
        assertEquals("x".repeat(LogFormats.MAX_MESSAGE) + "...(" + ((1 << 20) - LogFormats.MAX_MESSAGE) + " more)", msg);
        assertTrue(json.get("ver").asText().startsWith("1.0\\n2026"), json.get("ver").asText());
        assertFalse(json.get("ver").asText().contains("\n"));
    }

    @Test
    void invisibleAndBidiCharactersAreEscapedInMessagesAndFieldsOfBothFormats() throws Exception {
        StringBuilder all = new StringBuilder();
        for (char c = 0x80; c <= 0x9f; c++) {
            all.append(c);
        }
        for (char c : "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\ufeff"
                .toCharArray()) {
            all.append(c);
        }
        String peer = "ok" + all + "end";
        for (boolean json : new boolean[] {false, true}) {
            String line = format(json, record("closed: " + peer, Event.of("disconnected").with("reason", peer)));
            assertOneShortLine(line);
            for (int i = 0; i < all.length(); i++) {
                assertFalse(line.indexOf(all.charAt(i)) >= 0, "raw U+" + Integer.toHexString(all.charAt(i)) + ": " + line);
            }
            assertTrue(line.contains("\\u009b") && line.contains("\\u202e") && line.contains("\\u2069"), line);
        }
        // plain: a message holding '=' or a quote is quoted as a whole, so its text cannot pose as fields
        String plain = format(false, record("closed (bye\" event=forged level=ERROR)", Event.of("disconnected")));
        assertTrue(plain.contains(" - \"closed (bye\\\" event=forged level=ERROR)\" event=disconnected"), plain);
        assertTrue(format(false, record("Agent connected", Event.of("x"))).contains(" - Agent connected event=x"));
    }

    @Test
    void failuresCarryTheErrorField() throws Exception {
        // our events: the error given to the event
        LogRecord ours = record("Connection failed", Event.of("disconnected").with("error", "proxy answered 407\nforged"));
        JsonNode json = new ObjectMapper().readTree(format(true, ours));
        assertEquals("proxy answered 407\\nforged", json.get("error").asText());
        assertOneShortLine(format(false, ours));

        // a library's record with an exception: error from the exception, the stack escaped in "stack"
        LogRecord library = new LogRecord(Level.SEVERE, "Failed to start listener");
        library.setLoggerName("io.helidon.webserver.LoomServer");
        library.setThrown(new IllegalStateException("bad\nthing", new java.io.IOException("cause\nline")));
        String line = format(true, library);
        assertEquals(1, line.split("\n").length, line);
        json = new ObjectMapper().readTree(line);
        assertEquals("IllegalStateException: bad\\nthing", json.get("error").asText());
        assertTrue(json.get("stack").asText().startsWith("java.lang.IllegalStateException: bad\\nthing\n\tat "),
                   json.get("stack").asText());
        assertTrue(json.get("stack").asText().contains("Caused by: java.io.IOException: cause\\nline"));

        String plain = format(false, library);
        assertTrue(plain.lines().findFirst().orElseThrow().endsWith("error=\"IllegalStateException: bad\\\\nthing\""), plain);
        // the stack's lines follow, indented: none of them can pass for a record
        plain.lines().skip(1).forEach(l -> assertTrue(l.startsWith("    "), l));
    }

    private static LogRecord record(String message, Event event) {
        LogRecord r = new LogRecord(Level.INFO, message);
        r.setLoggerName("io.nowconnect.hub.AgentTunnel");
        r.setParameters(new Object[] {event});
        return r;
    }

    private static String format(boolean json, LogRecord r) {
        return Logging.formatter(json).format(r);
    }

    private static void assertOneShortLine(String line) {
        assertEquals(1, line.split("\n").length, "one line: " + line.substring(0, Math.min(500, line.length())));
        assertTrue(line.endsWith("\n"));
        assertTrue(line.length() < 4096, "short: " + line.length() + " chars");
        assertFalse(line.contains("\r") || line.contains("\u0000") || line.contains("\u2028"), line);
    }
}
