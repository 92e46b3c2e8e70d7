package io.nowconnect;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;
import io.nowconnect.hub.Hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent and hub as separate processes, as an operator runs them: SIGTERM ends the agent's log with {@code stopped},
 * every time; a busy hub or HTTP port gives the one clean message and exit 2, no Helidon stack trace.
 */
@Timeout(180)
@ExtendWith(TestKit.class)
class StopAndPortProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Harness harness;

    @BeforeEach
    void setUp(Harness harness) {
        this.harness = harness;
    }

    @Test
    void sigtermLogsStoppedLastEveryTime() throws Exception {
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub("echo");
        for (int run = 0; run < 3; run++) {
            Map<String, String> vars = harness.agentVars(hub.port(), Map.of("echo", echo.port()));
            vars.put("NC_LOG_FORMAT", "json");
            Path stderr = harness.dir().resolve("agent-" + run + ".stderr");
            Process p = start(vars, stderr, "agent");
            try {
                // up and serving: the "connected" event is in the log
                Harness.await(Duration.ofSeconds(30), () -> read(stderr).contains("\"event\":\"connected\""),
                              "agent connected; log: " + read(stderr));
                p.destroy(); // SIGTERM
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "stopped within 30 s");
                assertEquals(0, p.exitValue(), read(stderr));
            } finally {
                p.destroyForcibly();
            }
            List<String> lines = read(stderr).lines().filter(l -> !l.isBlank()).toList();
            JsonNode last = JSON.readTree(lines.getLast());
            assertEquals("stopped", last.path("event").asText(), "run " + run + ": the last line is stopped: " + lines);
        }
    }

    @Test
    void busyHubPortIsOneCleanMessage() throws Exception {
        try (ServerSocket busy = new ServerSocket()) {
            busy.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Map<String, String> vars = new java.util.HashMap<>();
            vars.put("NC_HUB_HOST", "127.0.0.1");
            vars.put("NC_HUB_PORT", Integer.toString(busy.getLocalPort()));
            vars.put("NC_HUB_JWT_SECRET_FILE", harness.secret().toString());
            Path stderr = harness.dir().resolve("hub.stderr");
            Process p = start(vars, stderr, "hub");
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the hub exits");
            String text = read(stderr);
            assertEquals(2, p.exitValue(), text);
            assertTrue(text.contains("NC_HUB_HOST/NC_HUB_PORT: cannot start the hub server on 127.0.0.1:"
                                             + busy.getLocalPort() + " (address in use or not available)"), text);
            assertFalse(text.contains("LoomServer") || text.contains("\tat ") || text.contains("Exception"), text);
            assertTrue(text.lines().count() <= 3, text);

            // the agent's HTTP port, the same way
            Map<String, String> agent = harness.agentVars(Harness.freePort(), Map.of("echo", 9));
            agent.put("NC_HTTP_HOST", "127.0.0.1");
            agent.put("NC_HTTP_PORT", Integer.toString(busy.getLocalPort()));
            Path agentErr = harness.dir().resolve("agent-http.stderr");
            Process a = start(agent, agentErr, "agent");
            assertTrue(a.waitFor(60, TimeUnit.SECONDS), "the agent exits");
            String agentText = read(agentErr);
            assertEquals(2, a.exitValue(), agentText);
            assertTrue(agentText.contains("NC_HTTP_HOST/NC_HTTP_PORT: cannot listen on 127.0.0.1:" + busy.getLocalPort()),
                       agentText);
            assertFalse(agentText.contains("LoomServer") || agentText.contains("\tat "), agentText);
        }
    }

    private static Process start(Map<String, String> vars, Path stderr, String mode) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
                                                                                "java").toString());
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "io.nowconnect.Main",
                                               mode);
        pb.environment().keySet().removeIf(k -> k.startsWith("NC_") || k.toLowerCase().endsWith("_proxy"));
        pb.environment().putAll(vars);
        pb.redirectError(stderr.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        return pb.start();
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "";
        }
    }
}
