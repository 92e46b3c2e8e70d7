package io.nowconnect.e2e;

import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.log.AccessLog;
import io.nowconnect.log.Event;
import io.nowconnect.log.Logging;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The access log of a real hub and agent: 1,000 streams through an echo target, each client sending a size of its own,
 * give 1,000 lines on each side whose bytes match what the client sent (both ways), whose client port names the client,
 * whose cids pair the hub's line with the agent's, and as many as the metrics counted; no line carries a payload byte,
 * in either format. {@code NC_ACCESS_LOG=false} writes none.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class AccessLogTest {
    private static final int STREAMS = 1000;
    private static final int CONCURRENT = 32;
    private static final Duration WAIT = Duration.ofSeconds(30);
    /** Every payload is made of this text: no log line may contain it. */
    private static final String MARKER = "PAYLOAD-MARKER-7f3a";

    @Test
    void everyStreamHasOneLineOnEachSideWithTheBytesTheClientSent(Harness h) throws Exception {
        Capture capture = Capture.start();
        try {
            Hub hub = h.startHub("logged");
            EchoServer echo = h.echo();
            Agent agent = h.startAgent(h.agentVars(hub.port(), Map.of("logged", echo.port())));
            Harness.awaitReady(agent, WAIT);
            double hubOkBefore = metric(hub.port(), "nowconnect_hub_streams_total", "logged");
            double agentBefore = agentStreams("logged");

            int port = hub.listenerPorts().get("logged");
            // a client port may be used again by a later client: each port keeps the sizes sent from it
            Map<Integer, List<Integer>> sentByPort = new ConcurrentHashMap<>();
            Random sizes = new Random(26);
            int[] size = new int[STREAMS];
            long total = 0;
            for (int i = 0; i < STREAMS; i++) {
                size[i] = 1 + sizes.nextInt(i % 10 == 0 ? 200_000 : 4000);
                total += size[i];
            }
            Semaphore slots = new Semaphore(CONCURRENT);
            long start = System.nanoTime();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> done = new ArrayList<>();
                for (int i = 0; i < STREAMS; i++) {
                    int n = size[i];
                    slots.acquire();
                    done.add(pool.submit(() -> {
                        try (Socket s = Harness.client(port)) {
                            sentByPort.computeIfAbsent(s.getLocalPort(), k -> new CopyOnWriteArrayList<>()).add(n);
                            byte[] payload = payload(n);
                            Thread writer = Thread.ofVirtual().start(() -> {
                                try {
                                    Harness.sendAndFinish(s, payload);
                                } catch (IOException e) {
                                    throw new java.io.UncheckedIOException(e);
                                }
                            });
                            byte[] back = Harness.readAll(s);
                            writer.join();
                            assertEquals(n, back.length, "echoed bytes");
                        } catch (IOException | InterruptedException e) {
                            throw new AssertionError(e);
                        } finally {
                            slots.release();
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                }
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

            Harness.await(WAIT, () -> capture.side("client").size() >= STREAMS && capture.side("target").size() >= STREAMS,
                          STREAMS + " access lines on each side");
            List<Map<String, Object>> hubLines = capture.side("client");
            List<Map<String, Object>> agentLines = capture.side("target");
            assertEquals(STREAMS, hubLines.size(), "one hub line per stream");
            assertEquals(STREAMS, agentLines.size(), "one agent line per stream");
            Map<String, Map<String, Object>> agentByCid = new HashMap<>();
            agentLines.forEach(l -> agentByCid.put((String) l.get("cid"), l));
            long bytes = 0;
            for (Map<String, Object> line : hubLines) {
                List<Integer> fromPort = sentByPort.getOrDefault(((Number) line.get("client_port")).intValue(), List.of());
                int logged = ((Number) line.get("bytes_c2a")).intValue();
                assertTrue(fromPort.remove((Integer) logged), "the line names a client of this test and the bytes it "
                        + "sent " + fromPort + ": " + line);
                Integer sent = logged;
                assertEquals("127.0.0.1", line.get("client"));
                assertEquals("logged", line.get("connector"));
                assertEquals(Harness.AGENT_ID, line.get("agent_id"));
                assertNotNull(line.get("replica"));
                assertEquals("ok", line.get("result"), line.toString());
                assertEquals((long) sent, ((Number) line.get("bytes_c2a")).longValue(), "hub c2a bytes " + line);
                assertEquals((long) sent, ((Number) line.get("bytes_a2c")).longValue(), "hub a2c bytes " + line);
                Map<String, Object> other = agentByCid.get((String) line.get("cid"));
                assertNotNull(other, "the agent logged the same cid: " + line);
                assertEquals("127.0.0.1:" + echo.port(), other.get("target"));
                assertEquals((long) sent, ((Number) other.get("bytes_c2a")).longValue(), "agent c2a bytes " + other);
                assertEquals((long) sent, ((Number) other.get("bytes_a2c")).longValue(), "agent a2c bytes " + other);
                assertEquals("ok", other.get("result"));
                assertTrue(((Number) line.get("duration_ms")).longValue() >= 0);
                bytes += sent;
            }
            assertEquals(total, bytes, "bytes logged = bytes the clients sent");
            assertTrue(sentByPort.values().stream().allMatch(List::isEmpty), "every client has its line");
            Harness.await(WAIT, () -> metricQuiet(hub.port(), "nowconnect_hub_streams_total", "logged")
                    - hubOkBefore == STREAMS, "the hub counted " + STREAMS + " streams");
            assertEquals(STREAMS, metric(hub.port(), "nowconnect_hub_streams_total", "logged") - hubOkBefore,
                         "streams counted by the hub = lines logged by the hub");
            Harness.await(WAIT, () -> agentStreams("logged") - agentBefore == STREAMS, "the agent counted them");
            assertEquals(agentLines.size(), (int) (agentStreams("logged") - agentBefore),
                         "streams counted by the agent = lines logged by the agent");
            for (boolean json : new boolean[] {true, false}) {
                Formatter f = Logging.formatter(json);
                for (LogRecord r : capture.records) {
                    String text = f.format(r);
                    assertFalse(text.contains(MARKER), "a payload byte in the access log: " + text);
                    assertTrue(json ? text.contains("\"event\":\"access\"") : text.contains("event=access"), text);
                }
            }
            System.out.printf("[access log] %d streams, %d bytes each way in %d ms: %d hub lines, %d agent lines, "
                                      + "bytes and counts match%n", STREAMS, total, ms, hubLines.size(), agentLines.size());
        } finally {
            capture.close();
        }
    }

    @Test
    void noLineWhenTurnedOff(Harness h) throws Exception {
        Capture capture = Capture.start();
        try {
            Hub hub = h.startHub(0, Map.of("NC_ACCESS_LOG", "false"), "quiet");
            EchoServer echo = h.echo();
            Map<String, String> vars = h.agentVars(hub.port(), Map.of("quiet", echo.port()));
            vars.put("NC_ACCESS_LOG", "false");
            Agent agent = h.startAgent(vars);
            Harness.awaitReady(agent, WAIT);
            for (int i = 0; i < 5; i++) {
                try (Socket s = Harness.client(hub.listenerPorts().get("quiet"))) {
                    Harness.sendAndFinish(s, "hi".getBytes(StandardCharsets.US_ASCII));
                    assertEquals("hi", new String(Harness.readAll(s), StandardCharsets.US_ASCII));
                }
            }
            Harness.await(WAIT, () -> metricQuiet(hub.port(), "nowconnect_hub_streams_total", "quiet") >= 5,
                          "5 streams ended");
            assertEquals(0, capture.records.stream().filter(r -> "quiet".equals(fields(r).get("connector"))).count(),
                         "no access line with NC_ACCESS_LOG=false");
        } finally {
            capture.close();
        }
    }

    private static byte[] payload(int n) {
        byte[] marker = MARKER.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            out[i] = marker[i % marker.length];
        }
        return out;
    }

    private static Map<String, Object> fields(LogRecord r) {
        Object[] p = r.getParameters();
        return p != null && p.length == 1 && p[0] instanceof Event e ? e.fields() : Map.of();
    }

    /** The agent's {@code nowconnect_streams_total} for a connector, all results, from the process's registry. */
    private static double agentStreams(String connector) {
        double sum = 0;
        for (io.helidon.metrics.api.Meter m : io.helidon.metrics.api.Metrics.globalRegistry().meters()) {
            if (m.id().name().equals("nowconnect_streams_total") && m instanceof io.helidon.metrics.api.Counter c
                    && connector.equals(m.id().tagsMap().get("connector"))) {
                sum += c.count();
            }
        }
        return sum;
    }

    private static double metricQuiet(int port, String name, String connector) {
        try {
            return metric(port, name, connector);
        } catch (Exception e) {
            return -1;
        }
    }

    /** Sum of a counter's samples for one connector, from the hub's {@code /metrics}. */
    private static double metric(int port, String name, String connector) throws Exception {
        String body;
        try (HttpClient client = HttpClient.newHttpClient()) {
            body = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                               HttpResponse.BodyHandlers.ofString()).body();
        }
        Matcher m = Pattern.compile("(?m)^" + name + "\\{([^}]*)}\\s+(\\S+)").matcher(body);
        double sum = 0;
        while (m.find()) {
            if (m.group(1).contains("connector=\"" + connector + "\"")) {
                sum += Double.parseDouble(m.group(2));
            }
        }
        return sum;
    }

    /** The access logger's records, captured as they are logged. */
    private static final class Capture extends Handler {
        private final List<LogRecord> records = new CopyOnWriteArrayList<>();
        private final Logger logger = Logger.getLogger(AccessLog.LOGGER_NAME);
        private final Level level = logger.getLevel();

        static Capture start() {
            Capture c = new Capture();
            c.logger.setLevel(Level.INFO);
            c.logger.addHandler(c);
            return c;
        }

        /** Lines of one side: the hub's name a {@code client}, the agent's a {@code target}. */
        List<Map<String, Object>> side(String key) {
            return records.stream().map(AccessLogTest::fields).filter(f -> f.containsKey(key))
                    .filter(f -> "logged".equals(f.get("connector"))).toList();
        }

        @Override
        public void publish(LogRecord r) {
            if (AccessLog.EVENT.equals(fields(r).get("event"))) {
                records.add(r);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
            logger.setLevel(level);
        }
    }
}
