package io.nowconnect.faults;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.testkit.ChildJvm;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.nowconnect.faults.FaultKit.report;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.is;

/**
 * Many agents on one hub: a hub process with {@code NC_HUB_MAX_TUNNELS=2000} and 2,050 independent v1 agent tunnels
 * from {@code bench/HubScale.java} (one child process, each tunnel its own agent_id, token and HELLO). The hub
 * acknowledges 2,000, refuses the other 50 at the upgrade with 503 (counted, logged), keeps every acknowledged tunnel
 * open, and clients of a connector exported by 50 agents picked at random are each echoed by another of them. Once
 * those tunnels are gone their slots are free again.
 */
@Tag("faults")
@Timeout(value = 420, unit = TimeUnit.SECONDS)
class HubScaleTest {
    private static final int CAP = 2000;
    private static final int OVER = 50;
    private static final int PROBES = 50;
    private static final Pattern KV = Pattern.compile("^([a-z_0-9]+)=(.*)$", Pattern.MULTILINE);

    @TempDir
    Path dir;

    @Test
    void holdsTheCapRefusesBeyondItWith503AndStillRoutes() throws Exception {
        long limit = FaultKit.openFileLimit();
        Assumptions.assumeTrue(limit >= CAP + OVER + 500, "open-file limit " + limit + " is below " + (CAP + OVER + 500)
                + " (the hub and the agents' process each hold one socket per tunnel); run with ulimit -n 65536");
        Path secret = dir.resolve("hub.secret");
        byte[] key = new byte[32];
        ThreadLocalRandom.current().nextBytes(key);
        Files.writeString(secret, Base64.getEncoder().encodeToString(key));
        int port = FaultKit.freePort();
        int probe = FaultKit.freePort();
        Map<String, String> extra = new HashMap<>();
        extra.put("NC_HUB_MAX_TUNNELS", Integer.toString(CAP));
        // the kit's 1 s / 3 s pings are for fault detection; thousands of tunnels on a busy 2-core machine need the
        // defaults
        extra.put("NC_HUB_PING_INTERVAL_SEC", "20");
        extra.put("NC_HUB_PING_TIMEOUT_SEC", "20");
        try (FaultKit.HubProcess hub = new FaultKit.HubProcess(dir, secret, "127.0.0.1", port,
                                                                Map.of("probe", "127.0.0.1:" + probe), extra, List.of())) {
            hub.start(Duration.ofSeconds(60));
            Map<String, String> run = agents(secret, port, probe, CAP + OVER, CAP, PROBES, "scale");
            report("hub scale", run.get("acked") + " tunnels acknowledged in " + run.get("seconds_all") + " s ("
                    + run.get("seconds_1000") + " s for 1,000), " + run.get("refused_503") + " refused with 503, "
                    + run.get("agents_served") + " random agents served");
            assertThat(run.toString(), run.get("exit"), equalTo("0"));
            assertThat(run.get("acked"), equalTo(Integer.toString(CAP)));
            assertThat(run.get("refused_503"), equalTo(Integer.toString(OVER)));
            assertThat(run.get("errors"), equalTo("0"));
            assertThat(run.get("alive_at_end"), equalTo(Integer.toString(CAP)));
            assertThat(run.get("routed"), equalTo(Integer.toString(PROBES)));
            // each probe client was kept open, so the least busy tunnel was another random agent each time
            assertThat(run.get("agents_served"), equalTo(Integer.toString(PROBES)));
            assertThat(hub.process().isAlive(), is(true));

            String metrics = metrics(port);
            assertThat(metrics, containsString("nowconnect_hub_tunnels_max{scope=\"application\",} " + CAP + ".0"));
            assertThat(value(metrics, "nowconnect_hub_tunnels_refused_total\\{reason=\"max_tunnels\""), equalTo((double) OVER));
            String log = Files.readString(dir.resolve("hub-" + port + "-1.log"));
            assertThat(log, containsString("event=tunnel_refused"));
            assertThat(log, containsString("max_tunnels=" + CAP));

            // the agents' process closed its tunnels when it exited: their slots come back and new agents get in
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (value(metrics(port), "nowconnect_hub_tunnels_open") > 0 && System.nanoTime() < deadline) {
                FaultKit.sleep(200);
            }
            assertThat(value(metrics(port), "nowconnect_hub_tunnels_open"), equalTo(0.0));
            Map<String, String> again = agents(secret, port, probe, 20, 20, 5, "again");
            assertThat(again.toString(), again.get("exit"), equalTo("0"));
            assertThat(again.get("acked"), equalTo("20"));
            assertThat(hub.process().isAlive(), is(true));
        }
    }

    /** Runs bench/HubScale.java; its key=value lines plus "exit". */
    private Map<String, String> agents(Path secret, int port, int probe, int agents, int expect, int probes, String prefix)
            throws IOException, InterruptedException {
        Path out = dir.resolve("agents-" + prefix + ".log");
        Process p = ChildJvm.source(Path.of("bench/HubScale.java")).options("-Xmx512m", "-XX:+UseSerialGC")
                .args("hub=127.0.0.1:" + port, "secret=" + secret, "agents=" + agents, "expect=" + expect,
                      "probes=" + probes, "route=127.0.0.1:" + probe, "prefix=" + prefix)
                .log(out).start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("HubScale did not finish in 300 s: " + Files.readString(out));
        }
        Map<String, String> kv = new HashMap<>();
        Matcher m = KV.matcher(Files.readString(out));
        while (m.find()) {
            kv.put(m.group(1), m.group(2));
        }
        kv.put("exit", Integer.toString(p.exitValue()));
        return kv;
    }

    private static String metrics(int port) throws IOException, InterruptedException {
        try (HttpClient c = HttpClient.newHttpClient()) {
            return c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                                  .timeout(Duration.ofSeconds(10)).build(),
                          HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
        }
    }

    /** The value of the first sample whose line starts with the pattern, or -1. */
    private static double value(String metrics, String pattern) {
        Matcher m = Pattern.compile("^" + pattern + "[^ ]* ([0-9.E+-]+)$", Pattern.MULTILINE).matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }
}
