package io.nowconnect.tunnel;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.LogRecord;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.Agent;
import io.nowconnect.config.HubConfig;
import io.nowconnect.log.Event;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.LogCapture;
import io.nowconnect.testkit.ScriptedHub;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hub that names new replicas in every ack cannot grow the agent: ids beyond the protocol's 16 per ack are ignored
 * (logged once), and ids the latest ack no longer names are forgotten once no tunnel is on them, so the
 * {@code nowconnect_replica_tunnels} series and the {@code /readyz} replica list stay at their bound (the 16 of the
 * latest ack, plus at most one per slot while a tunnel is still on an older one).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReplicaFloodTest extends ScriptedHubTestBase {
    private static final int ACKS = 60;
    private static final int IDS_PER_ACK = 20;
    private static final int BOUND = 2 * HubConfig.MAX_REPLICAS;
    private static final Pattern SERIES = Pattern.compile("(?m)^nowconnect_replica_tunnels\\{[^}]*hub=\"([^\"]*)\"");

    @Test
    void replicaIdsFromAHubStayBounded() throws Exception {
        LogCapture capture = new LogCapture();
        List<LogRecord> records = capture.records;
        try {
            hub.ack = null;
            Map<String, String> vars = vars(targets("echo", echo().port()));
            vars.put("NC_HTTP_HOST", "127.0.0.1");
            vars.put("NC_HTTP_PORT", "0");
            vars.put("NC_RECONNECT_MIN_MS", "10");
            vars.put("NC_RECONNECT_MAX_MS", "50");
            vars.put("NC_PING_TIMEOUT_SEC", "10");
            Agent agent = startAgent(vars);
            String url = hub.url();
            int most = 0;
            int mostSeries = 0;
            List<ScriptedHub.Conn> open = new ArrayList<>();
            for (int ack = 0; ack < ACKS; ) {
                ScriptedHub.Conn conn = hub.awaitConnection(WAIT);
                String hello = conn.poll(WAIT);
                if (hello == null || !hello.startsWith("{\"t\":\"HELLO\",")) {
                    continue;
                }
                String replica = "x" + ack + "-0";
                conn.send(ack(ack));
                ack++;
                Harness.await(WAIT, () -> agent.status().replicas().getOrDefault(url, Map.of()).containsKey(replica)
                        || ended(conn), "the agent took ack naming " + replica);
                Map<String, Integer> listed = agent.status().replicas().getOrDefault(url, Map.of());
                most = Math.max(most, listed.size());
                // every other tunnel ends at once; the rest stay a while (a tunnel still on a replica keeps it listed)
                if (ack % 2 == 0) {
                    closeQuietly(conn);
                } else {
                    open.add(conn);
                    if (open.size() > 4) {
                        closeQuietly(open.removeFirst());
                    }
                }
                if (ack % 10 == 0) {
                    mostSeries = Math.max(mostSeries, series(agent.httpPort(), url));
                }
            }
            assertTrue(most <= BOUND, "replicas listed at most " + most + ", bound " + BOUND);
            assertTrue(mostSeries <= BOUND, "replica series at most " + mostSeries + ", bound " + BOUND);

            // the flood stops: every tunnel ends, no new one is acknowledged; what is left is the latest ack's 16
            hub.rejectStatus = 503;
            hub.all.forEach(ReplicaFloodTest::closeQuietly);
            Harness.await(WAIT, () -> agent.status().replicas().getOrDefault(url, Map.of()).size()
                    == HubConfig.MAX_REPLICAS && agent.status().replicas().get(url).values().stream()
                    .allMatch(n -> n == 0), "the latest ack's replicas only, no tunnel on any");
            Harness.await(WAIT, () -> series(agent.httpPort(), url) == HubConfig.MAX_REPLICAS, "16 replica series");
            String readyz = get(agent.httpPort(), "/readyz");
            int entries = readyz.split("\"replica\":", -1).length - 1;
            assertEquals(HubConfig.MAX_REPLICAS, entries, "replica entries in /readyz: " + readyz);
            assertTrue(readyz.length() < 4096, "/readyz is " + readyz.length() + " bytes");
            long overLimit = records.stream().filter(r -> r.getParameters() != null && r.getParameters().length == 1
                    && r.getParameters()[0] instanceof Event e && "replicas_over_limit".equals(e.fields().get("event")))
                    .count();
            assertEquals(1, overLimit, "ids beyond the limit logged once");
            System.out.printf("[replica flood] %d acks of %d new ids: at most %d replicas listed and %d series during the"
                                      + " flood (bound %d), %d after it, /readyz %d bytes%n", ACKS, IDS_PER_ACK, most,
                              mostSeries, BOUND, entries, readyz.length());
        } finally {
            capture.close();
        }
    }

    /** An ack naming the replica {@code x<n>-0} and {@value #IDS_PER_ACK} ids that no earlier ack named. */
    private static String ack(int n) {
        StringBuilder ids = new StringBuilder();
        for (int i = 0; i < IDS_PER_ACK; i++) {
            ids.append(i == 0 ? "" : ",").append("\"x").append(n).append('-').append(i).append('"');
        }
        return "{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\",\"replicas\"],\"replica\":\"x" + n + "-0\",\"replicas\":[" + ids
                + "]}";
    }

    private static void closeQuietly(ScriptedHub.Conn conn) {
        try {
            conn.close(1000, "bye");
        } catch (RuntimeException ignored) {
            // ended already
        }
    }

    private static boolean ended(ScriptedHub.Conn conn) {
        try {
            return conn.awaitEnded(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    private static int series(int port, String hubUrl) {
        try {
            Matcher m = SERIES.matcher(get(port, "/metrics"));
            int n = 0;
            while (m.find()) {
                n += m.group(1).equals(hubUrl) ? 1 : 0;
            }
            return n;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static String get(int port, String path) throws Exception {
        try (HttpClient client = HttpClient.newHttpClient()) {
            return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                               HttpResponse.BodyHandlers.ofString()).body();
        }
    }
}
