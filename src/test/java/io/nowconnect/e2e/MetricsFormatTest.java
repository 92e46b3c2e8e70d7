package io.nowconnect.e2e;

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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The whole {@code /metrics} output of the agent and of the hub, read by a real Prometheus text-format parser (the
 * Python {@code prometheus_client} one, Debian package {@code python3-prometheus-client}, installed by {@code ./nowconnect test} from deploy/ci/test-packages.sh):
 * every family parses, none of ours is split into {@code unknown} families, and the target connect time is a valid
 * histogram. Also the names of the {@code /healthz} checks and the {@code /readyz} timestamp.
 */
@Timeout(90)
@ExtendWith(TestKit.class)
class MetricsFormatTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** Prints "family<TAB>type" per family and "sample<TAB>name<TAB>labels" per sample; a parse error exits non-zero. */
    private static final String PARSER = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            for f in text_string_to_metric_families(sys.stdin.read()):
                print("family\\t%s\\t%s" % (f.name, f.type))
                for s in f.samples:
                    print("sample\\t%s\\t%s\\t%s" % (s.name, ",".join("%s=%s" % kv for kv in sorted(s.labels.items())), s.value))
            """;

    private Harness harness;

    @BeforeEach
    void setUp(Harness harness) {
        this.harness = harness;
    }

    @Test
    void agentAndHubMetricsParseAsPrometheusText() throws Exception {
        String python = python();
        EchoServer echo = harness.echo();
        Hub hub = harness.startHub("echo");
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("echo", echo.port()));
        vars.put("NC_HTTP_HOST", "127.0.0.1");
        vars.put("NC_HTTP_PORT", "0");
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, Duration.ofSeconds(10));
        for (int i = 0; i < 3; i++) {
            byte[] data = ("metered " + i).getBytes(StandardCharsets.UTF_8);
            try (Socket s = Harness.client(hub.listenerPorts().get("echo"))) {
                Harness.sendAndFinish(s, data);
                assertArrayEquals(data, Harness.readAll(s));
            }
        }

        String agentText = get(agent.httpPort(), "/metrics").body();
        Map<String, String> agentFamilies = parse(python, agentText);
        assertEquals("histogram", agentFamilies.get("nowconnect_target_connect_seconds"), agentFamilies.toString());
        for (String family : List.of("nowconnect_tunnel_up", "nowconnect_streams_active", "nowconnect_bytes")) {
            assertTrue(agentFamilies.containsKey(family), family + " in " + agentFamilies.keySet());
        }
        agentFamilies.forEach((name, type) -> assertTrue(!type.equals("unknown") || !name.startsWith("nowconnect"),
                                                         name + " parsed as unknown: " + agentFamilies));
        String samples = lastSamples;
        assertTrue(samples.contains("sample\tnowconnect_target_connect_seconds_count\tconnector=echo"), samples);
        assertTrue(samples.contains("sample\tnowconnect_target_connect_seconds_bucket\tconnector=echo,le=+Inf"), samples);
        assertTrue(samples.contains("sample\tnowconnect_target_connect_seconds_sum\tconnector=echo"), samples);

        Map<String, String> hubFamilies = parse(python, get(hub.port(), "/metrics").body());
        assertTrue(hubFamilies.containsKey("nowconnect_hub_agents_connected"), hubFamilies.keySet().toString());
        hubFamilies.forEach((name, type) -> assertTrue(!type.equals("unknown") || !name.startsWith("nowconnect"),
                                                       name + " parsed as unknown: " + hubFamilies));

        // the health checks carry names, not lambda class names
        String health = get(agent.httpPort(), "/healthz").body();
        assertTrue(health.contains("\"name\":\"supervisor\""), health);
        assertTrue(!health.contains("$$Lambda"), health);
        String hubHealth = get(hub.port(), "/healthz").body();
        assertTrue(hubHealth.contains("\"name\":\"hub\""), hubHealth);
        assertTrue(!hubHealth.contains("$$Lambda"), hubHealth);

        // /readyz "since" in whole seconds, as the README shows it
        String ready = get(agent.httpPort(), "/readyz").body();
        assertTrue(ready.matches(".*\"since\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\".*"), ready);
    }

    private String lastSamples = "";

    /** Run the parser; returns family name to type. */
    private Map<String, String> parse(String python, String text) throws IOException, InterruptedException {
        Path in = Files.writeString(harness.dir().resolve("metrics-" + System.nanoTime() + ".txt"), text);
        Process p = new ProcessBuilder(python, "-c", PARSER).redirectInput(in.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "parser finished");
        assertEquals(0, p.exitValue(), "prometheus_client could not parse /metrics:\n" + out + "\n--- input ---\n" + text);
        Map<String, String> families = new HashMap<>();
        List<String> samples = new ArrayList<>();
        for (String line : out.split("\n")) {
            String[] f = line.split("\t");
            if (f[0].equals("family")) {
                families.put(f[1], f[2]);
            } else if (f[0].equals("sample")) {
                samples.add(line);
            }
        }
        lastSamples = String.join("\n", samples);
        return families;
    }

    /** Debian's python3 (where python3-prometheus-client installs), else the first python3 on the PATH. */
    private static String python() throws IOException, InterruptedException {
        List<String> candidates = new ArrayList<>(List.of("/usr/bin/python3", "python3"));
        boolean any = false;
        for (String c : candidates) {
            try {
                Process p = new ProcessBuilder(c, "-c", "import prometheus_client.parser").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                any = true;
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return c;
                }
            } catch (IOException e) {
                // not there: try the next
            }
        }
        assumeTrue(any, "python3 is not installed");
        throw new AssertionError("python3 has no prometheus_client: apt-get install python3-prometheus-client (./nowconnect "
                                         + "test does)");
    }

    private static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                 .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
