package io.nowconnect.deploy;

import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.nowconnect.Agent;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.yaml.snakeyaml.Yaml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The monitoring files shipped in {@code deploy/}: the Prometheus alert rules pass their unit tests under
 * {@code promtool test rules} (Debian's {@code prometheus} package, installed by {@code .ci/run}), and every query of
 * the rules and of the Grafana dashboard names only series that a real hub and a real agent export (scraped here after
 * traffic, a refused client and a refused token, so the lazily created counters exist).
 */
@Timeout(120)
@ExtendWith(TestKit.class)
class MonitoringFilesTest {
    static final Path RULES = ProjectFiles.ROOT.resolve("deploy/prometheus/nowconnect-rules.yml");
    static final Path RULE_TESTS = ProjectFiles.ROOT.resolve("deploy/prometheus/nowconnect-rules.test.yml");
    static final Path DASHBOARD = ProjectFiles.ROOT.resolve("deploy/grafana/nowconnect.json");
    private static final Pattern METRIC = Pattern.compile("\\bnowconnect_[a-zA-Z0-9_]+");
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void rulesPassPromtool() throws Exception {
        Path promtool = Path.of("/usr/bin/promtool");
        boolean present = Files.isExecutable(promtool);
        if (System.getenv("CI") != null) {
            assertTrue(present, ".ci/run installs Debian's prometheus package (promtool)");
        }
        assumeTrue(present, "no " + promtool + " (apt-get install prometheus)");
        String check = run(promtool.toString(), "check", "rules", RULES.toString());
        assertTrue(check.contains("SUCCESS: 9 rules found"), check);
        String out = run(promtool.toString(), "test", "rules", RULE_TESTS.toString());
        assertTrue(out.contains("SUCCESS"), out);
    }

    @Test
    void dashboardQueriesAreValidPromql(Harness harness) throws Exception {
        Path promtool = Path.of("/usr/bin/promtool");
        assumeTrue(Files.isExecutable(promtool) || System.getenv("CI") != null, "no " + promtool);
        // each panel query as a recording rule, Grafana's variables replaced by what they stand for: promtool parses them
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        int i = 0;
        for (String expr : dashboard().values()) {
            String promql = expr.replace("$__rate_interval", "5m").replace("$hub_job", ".*").replace("$agent_job", ".*");
            rules.append("      - record: dashboard_query_").append(i++).append("\n        expr: ")
                    .append(new ObjectMapper().writeValueAsString(promql)).append('\n');
        }
        Path file = harness.dir().resolve("dashboard-rules.yml");
        Files.writeString(file, rules);
        String out = run(promtool.toString(), "check", "rules", file.toString());
        assertTrue(out.contains("SUCCESS: " + i + " rules found"), out);
    }

    @Test
    void everyQueryNamesAnExportedSeries(Harness harness) throws Exception {
        Set<String> exported = scrape(harness);
        // for whoever edits the rules or the dashboard: what a hub and an agent export
        Files.createDirectories(Path.of("target"));
        Files.write(Path.of("target", "monitoring-series.txt"), exported);
        Map<String, String> queries = new java.util.LinkedHashMap<>();
        rules().forEach((name, expr) -> queries.put("rule " + name, expr));
        dashboard().forEach((name, expr) -> queries.put("panel " + name, expr));
        assertTrue(queries.size() > 10, queries.toString());
        List<String> bad = new ArrayList<>();
        queries.forEach((where, expr) -> {
            Matcher m = METRIC.matcher(expr);
            boolean any = false;
            while (m.find()) {
                any = true;
                if (!exported.contains(m.group())) {
                    bad.add(where + ": " + m.group());
                }
            }
            if (!any) {
                bad.add(where + ": names no nowconnect_ series: " + expr);
            }
        });
        assertEquals(List.of(), bad, "exported: " + exported);
    }

    /** Alert name (with its index: one alert may have a warning and a critical rule) to expression. */
    @SuppressWarnings("unchecked")
    static Map<String, String> rules() throws IOException {
        Map<String, Object> doc = new Yaml().load(Files.readString(RULES));
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (Map<String, Object> group : (List<Map<String, Object>>) doc.get("groups")) {
            for (Map<String, Object> rule : (List<Map<String, Object>>) group.get("rules")) {
                String name = (String) (rule.containsKey("alert") ? rule.get("alert") : rule.get("record"));
                out.put(name + "#" + out.size(), (String) rule.get("expr"));
            }
        }
        return out;
    }

    /** Panel title and target ref to expression. */
    static Map<String, String> dashboard() throws IOException {
        JsonNode root = new ObjectMapper().readTree(DASHBOARD.toFile());
        Map<String, String> out = new java.util.LinkedHashMap<>();
        List<JsonNode> panels = new ArrayList<>();
        root.get("panels").forEach(panels::add);
        for (int i = 0; i < panels.size(); i++) {
            JsonNode p = panels.get(i);
            if (p.has("panels")) {
                p.get("panels").forEach(panels::add);
            }
            if (p.has("targets")) {
                for (JsonNode t : p.get("targets")) {
                    out.put(p.get("title").asText() + "/" + t.path("refId").asText(), t.get("expr").asText());
                }
            }
        }
        if (root.has("templating")) {
            for (JsonNode v : root.get("templating").get("list")) {
                if (v.has("query") && v.get("query").isTextual() && v.get("query").asText().contains("nowconnect_")) {
                    out.put("variable " + v.get("name").asText(), v.get("query").asText());
                }
            }
        }
        return out;
    }

    /** Names of every sample a hub and an agent export after some traffic and failures. */
    static Set<String> scrape(Harness harness) throws Exception {
        int echo = harness.echo().port();
        Hub hub = harness.startHub("echo", "idle");
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("echo", echo));
        vars.put("NC_HTTP_HOST", "127.0.0.1");
        vars.put("NC_HTTP_PORT", "0");
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, Duration.ofSeconds(10));
        byte[] data = "scraped".getBytes(StandardCharsets.UTF_8);
        try (Socket s = Harness.client(hub.listenerPorts().get("echo"))) {
            Harness.sendAndFinish(s, data);
            assertArrayEquals(data, Harness.readAll(s));
        }
        try (Socket s = Harness.client(hub.listenerPorts().get("idle"))) {
            assertEquals(-1, s.getInputStream().read());
        }
        assertEquals(401, RawAgent.upgradeStatus(hub.port(), "Bearer not-a-token"));
        Set<String> names = new TreeSet<>();
        for (int port : new int[] {hub.port(), agent.httpPort()}) {
            String text = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                                    HttpResponse.BodyHandlers.ofString()).body();
            for (String line : text.split("\n")) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    names.add(line.split("[{ ]", 2)[0]);
                }
            }
        }
        assertFalse(names.isEmpty());
        return names;
    }

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command));
        assertEquals(0, p.exitValue(), String.join(" ", command) + ":\n" + out);
        return out;
    }
}
