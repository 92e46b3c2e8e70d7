package io.nowconnect.hub;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import io.nowconnect.testkit.Harness;
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
 * gets one escaped, short line in both formats.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubLogForgeryTest {
    private static final Logger OURS = Logger.getLogger("io.nowconnect");

    private Harness harness;
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            records.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void setUp(Harness harness) {
        this.harness = harness;
        OURS.addHandler(capture);
    }

    @AfterEach
    void tearDown() {
        OURS.removeHandler(capture);
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
}
