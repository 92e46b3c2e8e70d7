package io.nowconnect.e2e;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.Agent;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.LogSettings;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.log.Logging;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.testkit.Harness.await;
import static io.nowconnect.testkit.Harness.awaitReady;
import static io.nowconnect.testkit.Harness.client;
import static io.nowconnect.testkit.Harness.health;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent's HTTP health, readiness and metrics, and what its logs may never contain. */
@ExtendWith(TestKit.class)
@Timeout(300)
class ObservabilityTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void probesFollowTheHubDownAndBack(Harness harness) throws Exception {
        EchoServer echo = harness.echo();
        int hubPort = Harness.freePort();
        Hub hub = harness.startHub(hubPort, Map.of(), "echo");
        Map<String, String> vars = harness.agentVars(hubPort, Map.of("echo", echo.port()));
        vars.put("NC_HTTP_HOST", "127.0.0.1");
        vars.put("NC_HTTP_PORT", "0");
        Agent agent = harness.startAgent(vars);
        int http = agent.httpPort();
        awaitReady(agent, Duration.ofSeconds(10));

        HttpResponse<String> ready = get(http, "/readyz");
        assertEquals(200, ready.statusCode());
        JsonNode body = new ObjectMapper().readTree(ready.body());
        assertEquals("ready", body.get("state").asText());
        assertEquals("ws://127.0.0.1:" + hubPort + "/tunnel", body.get("hub").asText());
        assertEquals(200, get(http, "/healthz").statusCode());
        assertEquals("READY\n", health(agent.healthPort()));

        hub.close();
        await(Duration.ofSeconds(5), () -> get(http, "/readyz").statusCode() == 503, "/readyz 503 while the hub is down");
        JsonNode down = new ObjectMapper().readTree(get(http, "/readyz").body());
        assertFalse(down.get("ready").asBoolean());
        assertTrue(down.get("last_error").asText().startsWith("closed"), down.toString());
        assertEquals(200, get(http, "/healthz").statusCode(), "alive while disconnected");
        assertEquals("OK\n", health(agent.healthPort()));
        assertTrue(metric(get(http, "/metrics").body(), "nowconnect_tunnel_up", Map.of()) == 0.0);

        harness.startHub(hubPort, Map.of(), "echo");
        await(Duration.ofSeconds(5), () -> get(http, "/readyz").statusCode() == 200, "/readyz 200 once the hub is back");
        assertEquals("READY\n", health(agent.healthPort()));
        String metrics = get(http, "/metrics").body();
        assertEquals(1.0, metric(metrics, "nowconnect_tunnel_up", Map.of()));
        assertEquals(2.0, metric(metrics, "nowconnect_tunnel_connects_total", Map.of()));
        assertEquals(1.0, metric(metrics, "nowconnect_tunnel_reconnects_total", Map.of("reason", "closed")));
        for (String path : new String[] {"/", "/observe/health", "/observe/metrics", "/health", "/metrics/x"}) {
            assertEquals(404, get(http, path).statusCode(), path);
        }
    }

    @Test
    void metricsAfterAKnownWorkloadAreExact(Harness harness) throws Exception {
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub("metered");
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("metered", echo.port()));
        vars.put("NC_HTTP_HOST", "127.0.0.1");
        vars.put("NC_HTTP_PORT", "0");
        Agent agent = harness.startAgent(vars);
        awaitReady(agent, Duration.ofSeconds(10));
        int streams = 7;
        int bytes = 30_000;
        for (int i = 0; i < streams; i++) {
            try (Socket c = client(hub.listenerPorts().get("metered"))) {
                Harness.sendAndFinish(c, new byte[bytes]);
                assertEquals(bytes, Harness.readAll(c).length);
            }
        }
        await(Duration.ofSeconds(5), () -> metric(scrape(agent), "nowconnect_streams_total",
                                                  Map.of("connector", "metered", "result", "ok")) == streams,
              "all streams counted as ok");
        String text = scrape(agent);
        System.out.println("observability: /metrics after " + streams + " streams x " + bytes + " bytes each way:\n"
                                   + text.lines().filter(l -> l.startsWith("nowconnect_") && !l.contains("nowconnect_hub_"))
                                           .reduce("", (a, b) -> a + "  " + b + "\n"));
        assertEquals(streams * (double) bytes, metric(text, "nowconnect_bytes_total",
                                                      Map.of("connector", "metered", "direction", "c2a")));
        assertEquals(streams * (double) bytes, metric(text, "nowconnect_bytes_total",
                                                      Map.of("connector", "metered", "direction", "a2c")));
        assertEquals(0.0, metric(text, "nowconnect_streams_active", Map.of("connector", "metered")));
        assertEquals(streams, metric(text, "nowconnect_target_connect_seconds_count", Map.of("connector", "metered")));
        assertEquals(1.0, metric(text, "nowconnect_tunnel_up", Map.of()));
        assertEquals(1.0, metric(text, "nowconnect_tunnel_connects_total", Map.of()));
        assertTrue(metric(text, "nowconnect_tunnel_uptime_seconds", Map.of()) > 0);
        assertFalse(text.contains("cid="), "no cid label");
        HttpResponse<String> json = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.httpPort()
                                                                                        + "/metrics"))
                                                      .header("Accept", "application/json").build(),
                                              HttpResponse.BodyHandlers.ofString());
        assertEquals(200, json.statusCode());
        assertTrue(new ObjectMapper().readTree(json.body()).toString().contains("nowconnect_tunnel_up"), json.body());
    }

    @Test
    void httpEndpointStaysOffWithoutAPort(Harness harness) {
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub("echo");
        Agent agent = harness.startAgent(harness.agentVars(hub.port(), Map.of("echo", echo.port())));
        awaitReady(agent, Duration.ofSeconds(10));
        assertEquals(-1, agent.httpPort());
        assertEquals("READY\n", health(agent.healthPort()));
    }

    @Test
    void debugJsonLogsOfAFullRunHoldNoTokenAndNoPayload(Harness harness) throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8);
        Logging.configure(LogSettings.create(ConfigLoader.fromMaps(Map.of("NC_LOG_LEVEL", "DEBUG", "NC_LOG_FORMAT", "json"),
                                                                   Map.of())), out);
        String marker = "PAYLOAD-MARKER-7f3a9c";
        Map<String, String> vars;
        try {
            EchoServer echo = harness.echo();
            Hub hub = harness.startHub("echo");
            vars = new HashMap<>(harness.agentVars(hub.port(), Map.of("echo", echo.port())));
            Agent agent = harness.startAgent(vars);
            awaitReady(agent, Duration.ofSeconds(10));
            for (int i = 0; i < 3; i++) {
                try (Socket c = client(hub.listenerPorts().get("echo"))) {
                    Harness.sendAndFinish(c, (marker + i).getBytes());
                    assertEquals(marker + i, new String(Harness.readAll(c)));
                }
            }
            try (Socket c = client(hub.listenerPorts().get("echo"))) {
                c.getOutputStream().write(marker.getBytes());
            }
            agent.stop(Duration.ofSeconds(2));
        } finally {
            Logging.configure(LogSettings.create(ConfigLoader.fromMaps(Map.of(), Map.of())));
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        String token = Files.readString(Path.of(vars.get("NC_TOKEN_FILE"))).strip();
        assertFalse(log.contains(token), "the token appears in the log");
        assertFalse(log.contains(token.substring(token.lastIndexOf('.') + 1)), "the token's signature appears in the log");
        assertFalse(log.contains(marker), "payload bytes appear in the log");
        assertFalse(log.contains(java.util.Base64.getEncoder().encodeToString((marker + "0").getBytes())),
                    "base64 payload appears in the log");
        ObjectMapper json = new ObjectMapper();
        int lines = 0;
        java.util.Set<String> events = new java.util.HashSet<>();
        for (String line : log.split("\n")) {
            JsonNode n = json.readTree(line);
            assertTrue(n.has("ts") && n.has("level") && n.has("logger") && n.has("msg"), line);
            if (n.has("event")) {
                events.add(n.get("event").asText());
            }
            lines++;
        }
        assertTrue(lines > 10, "DEBUG logged per-stream events");
        assertTrue(events.containsAll(java.util.List.of("starting", "connecting", "connected", "stream_open", "stream_closed",
                                                        "draining", "disconnected", "stopped")), events.toString());
        assertTrue(log.contains("\"cid\":\""), "per-stream DEBUG lines carry the cid");
    }

    private static String scrape(Agent agent) {
        return get(agent.httpPort(), "/metrics").body();
    }

    private static HttpResponse<String> get(int port, String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                     .timeout(Duration.ofSeconds(5)).build(),
                             HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new AssertionError("GET " + path + " failed: " + e, e);
        }
    }

    /** Value of one Prometheus sample with the given name and (at least these) labels; -1 when absent. */
    static double metric(String text, String name, Map<String, String> labels) {
        Pattern p = Pattern.compile("^" + Pattern.quote(name) + "(\\{[^}]*\\})?\\s+(\\S+)$", Pattern.MULTILINE);
        Matcher m = p.matcher(text);
        while (m.find()) {
            String l = m.group(1) == null ? "" : m.group(1);
            boolean all = labels.entrySet().stream().allMatch(e -> l.contains(e.getKey() + "=\"" + e.getValue() + "\""));
            if (all) {
                return Double.parseDouble(m.group(2));
            }
        }
        return -1;
    }
}
