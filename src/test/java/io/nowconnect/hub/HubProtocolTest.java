package io.nowconnect.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.e2e.Harness;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Protocol v1 at the hub, spoken by a hand-scripted agent (the JDK's own WebSocket client, independent of the
 * project's agent): HELLO_ACK shapes, frames before HELLO, HELLO twice, bad frames, oversized frames.
 *
 * <p>Also holds the small kit the other hub tests share: {@link RawAgent}, hand-built JWTs and a Prometheus scraper.
 */
@Timeout(60)
class HubProtocolTest {
    static final Duration WAIT = Duration.ofSeconds(5);
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    Harness harness;

    @BeforeEach
    void setUp() {
        harness = Harness.create(dir);
    }

    @AfterEach
    void tearDown() {
        harness.close();
    }

    @Test
    void helloAckListsDrainWhenTheAgentOffersIt() throws Exception {
        Hub hub = harness.startHub("p1");
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\",\"connectors\":[\"p1\"],\"ver\":\"1.5\","
                               + "\"caps\":[\"drain\"]}");
            assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}", agent.next());
            Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel registered");
        }
    }

    @Test
    void helloAckIsPlainV1WithoutCaps() throws Exception {
        Hub hub = harness.startHub("p2");
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            // v1 HELLO: no caps field; an unknown extra field (tenant) is ignored
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\",\"connectors\":[\"p2\"],\"ver\":\"1\","
                               + "\"tenant\":\"acme\"}");
            assertEquals("{\"t\":\"HELLO_ACK\"}", agent.next());
        }
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            // caps the hub does not know are not echoed back
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\",\"connectors\":[\"p2\"],\"ver\":\"1.5\","
                               + "\"caps\":[\"bin9\"]}");
            assertEquals("{\"t\":\"HELLO_ACK\"}", agent.next());
        }
    }

    @Test
    void frameBeforeHelloClosesWithPolicyViolation() throws Exception {
        Hub hub = harness.startHub("p3");
        double before = metric(hub.port(), "nowconnect_hub_frames_dropped_total", "reason", "before_hello");
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            agent.send("{\"t\":\"DATA\",\"cid\":\"c-1\",\"seq\":0,\"b64\":\"aGk=\"}");
            assertEquals(1008, agent.awaitClose(WAIT));
        }
        assertEquals(0, hub.agentCount());
        awaitMetric(hub.port(), before + 1, "nowconnect_hub_frames_dropped_total", "reason", "before_hello");
    }

    @Test
    void secondHelloIsIgnoredAndTheTunnelStays() throws Exception {
        Hub hub = harness.startHub("p4");
        double before = metric(hub.port(), "nowconnect_hub_frames_dropped_total", "reason", "duplicate_hello");
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            agent.hello("p4");
            // the second HELLO may not change the connectors nor get an ack
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\",\"connectors\":[\"other\"],\"ver\":\"1.5\"}");
            awaitMetric(hub.port(), before + 1, "nowconnect_hub_frames_dropped_total", "reason", "duplicate_hello");
            assertEquals(1, hub.agentCount());
            assertStreamWorks(hub, agent, "p4");
        }
    }

    @Test
    void badFramesAreDroppedAndTheTunnelStays() throws Exception {
        Hub hub = harness.startHub("p5");
        int port = hub.port();
        double badJson = metric(port, "nowconnect_hub_frames_dropped_total", "reason", "bad_json");
        double unknownType = metric(port, "nowconnect_hub_frames_dropped_total", "reason", "unknown_type");
        double unknownCid = metric(port, "nowconnect_hub_frames_dropped_total", "reason", "unknown_cid");
        try (RawAgent agent = RawAgent.connect(port, goodToken(harness, Harness.AGENT_ID))) {
            agent.hello("p5");
            agent.send("{\"t\":\"DATA\",\"cid\":");
            agent.send("not json at all");
            agent.send("{\"t\":\"WHATEVER\",\"cid\":\"x\"}");
            agent.send("{\"t\":\"DATA\",\"cid\":\"00000000-0000-0000-0000-000000000000\",\"seq\":0,\"b64\":\"aGk=\"}");
            agent.send("{\"t\":\"FIN\",\"cid\":\"00000000-0000-0000-0000-000000000000\",\"dir\":\"a2c\"}");
            agent.send("{\"t\":\"RST\",\"cid\":\"00000000-0000-0000-0000-000000000000\",\"err\":\"connect_failed\"}");
            awaitMetric(port, badJson + 2, "nowconnect_hub_frames_dropped_total", "reason", "bad_json");
            awaitMetric(port, unknownType + 1, "nowconnect_hub_frames_dropped_total", "reason", "unknown_type");
            awaitMetric(port, unknownCid + 3, "nowconnect_hub_frames_dropped_total", "reason", "unknown_cid");
            assertEquals(1, hub.agentCount());
            assertStreamWorks(hub, agent, "p5");
        }
    }

    @Test
    void oversizedFrameClosesThatTunnelOnly() throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_MAX_WS_PAYLOAD", "1024", "NC_HUB_MAX_FRAME_BYTES", "4096"),
                                   "big-echo", "big-raw");
        EchoServer echo = harness.echo();
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("big-echo", echo.port()));
        vars.put("NC_MAX_WS_PAYLOAD", "1024");
        Agent real = harness.startAgent(vars);
        Harness.awaitReady(real, WAIT);

        Random random = new Random(7);
        try (Socket client = Harness.client(hub.listenerPorts().get("big-echo"));
             RawAgent raw = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            byte[] first = new byte[5000];
            random.nextBytes(first);
            client.getOutputStream().write(first);
            assertArrayEquals(first, readExactly(client.getInputStream(), first.length));

            raw.hello("big-raw");
            Harness.await(WAIT, () -> hub.agentCount() == 2, "both tunnels ready");
            raw.send("{\"t\":\"DATA\",\"cid\":\"x\",\"seq\":0,\"b64\":\"" + "A".repeat(10_000) + "\"}");
            int code = raw.awaitClose(WAIT);
            assertTrue(code == 1009 || code == RawAgent.ABNORMAL, "closed as too big, got " + code);
            Harness.await(WAIT, () -> hub.agentCount() == 1, "oversized tunnel removed");

            // the other agent's stream was not disturbed, and it still serves new streams
            byte[] second = new byte[5000];
            random.nextBytes(second);
            client.getOutputStream().write(second);
            assertArrayEquals(second, readExactly(client.getInputStream(), second.length));
            client.shutdownOutput();
            assertEquals(-1, client.getInputStream().read());
            try (Socket other = Harness.client(hub.listenerPorts().get("big-echo"))) {
                Harness.sendAndFinish(other, "still there".getBytes(StandardCharsets.UTF_8));
                assertEquals("still there", new String(Harness.readAll(other), StandardCharsets.UTF_8));
            }
        }
        assertTrue(real.status().snapshot().ready(), "the real agent kept its tunnel");
    }

    /** A client connection on the connector reaches the raw agent as OPEN and agent DATA reaches the client. */
    private static void assertStreamWorks(Hub hub, RawAgent agent, String connector) throws Exception {
        try (Socket client = Harness.client(hub.listenerPorts().get(connector))) {
            JsonNode open = agent.nextFrame("OPEN");
            assertEquals(connector, open.get("connector").asText());
            String cid = open.get("cid").asText();
            agent.send(data(cid, 0, "pong".getBytes(StandardCharsets.UTF_8)));
            assertArrayEquals("pong".getBytes(StandardCharsets.UTF_8), readExactly(client.getInputStream(), 4));
            client.getOutputStream().write("ping".getBytes(StandardCharsets.UTF_8));
            JsonNode data = agent.nextFrame("DATA");
            assertEquals(cid, data.get("cid").asText());
            assertEquals("ping", new String(Base64.getDecoder().decode(data.get("b64").asText()), StandardCharsets.UTF_8));
        }
    }

    // ---------------------------------------------------------------------------------------------------- the kit

    /** A DATA frame as an agent writes it. */
    static String data(String cid, long seq, byte[] bytes) {
        return "{\"t\":\"DATA\",\"cid\":\"" + cid + "\",\"seq\":" + seq + ",\"b64\":\""
                + Base64.getEncoder().encodeToString(bytes) + "\"}";
    }

    static byte[] readExactly(InputStream in, int n) throws IOException {
        byte[] buf = in.readNBytes(n);
        if (buf.length != n) {
            fail("EOF after " + buf.length + " of " + n + " bytes");
        }
        return buf;
    }

    /** The hub's HS256 secret as the hub reads it: file content trimmed, as bytes. */
    static byte[] secret(Harness harness) throws IOException {
        return Files.readString(harness.secret()).strip().getBytes(StandardCharsets.UTF_8);
    }

    /** Valid claims for an agent: aud nowconnect, exp in 10 minutes, a jti. */
    static Map<String, Object> claims(String agentId) {
        Map<String, Object> claims = new LinkedHashMap<>();
        long now = Instant.now().getEpochSecond();
        claims.put("agent_id", agentId);
        claims.put("sub", agentId);
        claims.put("aud", "nowconnect");
        claims.put("iat", now);
        claims.put("exp", now + 600);
        claims.put("jti", "test-" + System.nanoTime());
        return claims;
    }

    static Map<String, Object> header(String alg) {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("alg", alg);
        header.put("typ", "JWT");
        return header;
    }

    /** Hand-built JWT, MACed with HMAC-SHA256 over {@code key} (JDK crypto, independent of the hub's code). */
    static String jwt(Map<String, Object> header, Map<String, Object> claims, byte[] key) throws Exception {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String input = b64.encodeToString(JSON.writeValueAsBytes(header)) + "."
                + b64.encodeToString(JSON.writeValueAsBytes(claims));
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        return input + "." + b64.encodeToString(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
    }

    static String goodToken(Harness harness, String agentId) throws Exception {
        return jwt(header("HS256"), claims(agentId), secret(harness));
    }

    /** GET on the hub's HTTP port. */
    static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build()) {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .header("Accept", "text/plain")
                    .timeout(WAIT)
                    .GET()
                    .build();
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        }
    }

    private static final Pattern SAMPLE = Pattern.compile("^([A-Za-z_:][A-Za-z0-9_:]*)(\\{(.*)})?\\s+(\\S+).*$");

    /**
     * Sum of the samples of a meter in the hub's Prometheus text whose labels include the given pairs (0 when absent).
     * Meters live in the process-wide registry, so tests compare before/after values.
     */
    static double metric(int port, String name, String... labels) throws IOException, InterruptedException {
        HttpResponse<String> response = get(port, "/metrics");
        assertEquals(200, response.statusCode(), "GET /metrics");
        return sum(response.body(), name, labels);
    }

    static double sum(String prometheus, String name, String... labels) {
        double sum = 0;
        for (String line : prometheus.split("\n")) {
            Matcher m = SAMPLE.matcher(line.strip());
            if (line.startsWith("#") || !m.matches() || !m.group(1).equals(name)) {
                continue;
            }
            String labelText = m.group(3) == null ? "" : m.group(3);
            boolean all = true;
            for (int i = 0; i < labels.length; i += 2) {
                if (!labelText.contains(labels[i] + "=\"" + labels[i + 1] + "\"")) {
                    all = false;
                    break;
                }
            }
            if (all) {
                sum += Double.parseDouble(m.group(4));
            }
        }
        return sum;
    }

    /** Wait until a meter reaches at least a value. */
    static void awaitMetric(int port, double atLeast, String name, String... labels) {
        Harness.await(WAIT, () -> {
            try {
                return metric(port, name, labels) >= atLeast;
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }, name + java.util.List.of(labels) + " >= " + atLeast);
    }

    /**
     * A scripted agent: the JDK's WebSocket client on {@code /tunnel}. Collects every text message (reassembled) and
     * how the WebSocket ended. The JDK client answers the hub's pings by itself.
     */
    static final class RawAgent implements AutoCloseable {
        /** Close "code" when the connection ended without a close frame. */
        static final int ABNORMAL = 1006;

        private final LinkedBlockingQueue<String> messages = new LinkedBlockingQueue<>();
        /** Binary messages from the hub (reassembled); each is also noted in the text queue as "<binary N bytes>". */
        final LinkedBlockingQueue<byte[]> binaries = new LinkedBlockingQueue<>();
        private final CompletableFuture<Integer> closed = new CompletableFuture<>();
        private final HttpClient http;
        private WebSocket ws;

        private RawAgent(HttpClient http) {
            this.http = http;
        }

        /** Open {@code /tunnel} with {@code Authorization: Bearer token}; fails the test if the upgrade fails. */
        static RawAgent connect(int hubPort, String token) throws Exception {
            HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build();
            RawAgent agent = new RawAgent(http);
            try {
                agent.ws = http.newWebSocketBuilder()
                        .header("Authorization", "Bearer " + token)
                        .connectTimeout(WAIT)
                        .buildAsync(URI.create("ws://127.0.0.1:" + hubPort + "/tunnel"), agent.listener())
                        .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                http.close();
                throw e;
            }
            return agent;
        }

        /**
         * Try an upgrade that should be refused and return the HTTP status (101 if it was accepted).
         *
         * @param authorization the Authorization header value, or null for none
         */
        static int upgradeStatus(int hubPort, String authorization) throws Exception {
            try (HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build()) {
                WebSocket.Builder builder = http.newWebSocketBuilder().connectTimeout(WAIT);
                if (authorization != null) {
                    builder.header("Authorization", authorization);
                }
                WebSocket ws;
                try {
                    ws = builder.buildAsync(URI.create("ws://127.0.0.1:" + hubPort + "/tunnel"),
                                            new WebSocket.Listener() { })
                            .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof WebSocketHandshakeException h) {
                        return h.getResponse().statusCode();
                    }
                    throw e;
                }
                ws.abort();
                return 101;
            }
        }

        private WebSocket.Listener listener() {
            return new WebSocket.Listener() {
                private final StringBuilder parts = new StringBuilder();

                @Override
                public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                    parts.append(data);
                    if (last) {
                        messages.add(parts.toString());
                        parts.setLength(0);
                    }
                    webSocket.request(1);
                    return null;
                }

                private final java.io.ByteArrayOutputStream binaryParts = new java.io.ByteArrayOutputStream();

                @Override
                public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
                    byte[] chunk = new byte[data.remaining()];
                    data.get(chunk);
                    binaryParts.writeBytes(chunk);
                    if (last) {
                        binaries.add(binaryParts.toByteArray());
                        binaryParts.reset();
                    }
                    messages.add("<binary " + chunk.length + " bytes>");
                    webSocket.request(1);
                    return null;
                }

                @Override
                public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
                    closed.complete(statusCode);
                    return null;
                }

                @Override
                public void onError(WebSocket webSocket, Throwable error) {
                    closed.complete(ABNORMAL);
                }
            };
        }

        /** Send one text frame (waits until it is written). */
        synchronized void send(String text) throws Exception {
            ws.sendText(text, true).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }

        /** Send one binary frame (waits until it is written). */
        synchronized void sendBinary(byte[] bytes) throws Exception {
            ws.sendBinary(ByteBuffer.wrap(bytes), true).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }

        /** HELLO with caps ["drain"] exporting the connectors; asserts the ack. */
        void hello(String... connectors) throws Exception {
            StringBuilder list = new StringBuilder();
            for (String c : connectors) {
                list.append(list.isEmpty() ? "" : ",").append('"').append(c).append('"');
            }
            send("{\"t\":\"HELLO\",\"agent_id\":\"" + Harness.AGENT_ID + "\",\"connectors\":[" + list
                         + "],\"ver\":\"1.5\",\"caps\":[\"drain\"]}");
            assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}", next());
        }

        /** Next text message from the hub. */
        String next() throws InterruptedException {
            String m = messages.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (m == null) {
                fail("no message from the hub within " + WAIT.toMillis() + " ms"
                             + (closed.isDone() ? " (WebSocket closed: " + closed.getNow(0) + ")" : ""));
            }
            return m;
        }

        /** Next message, which must be a frame of the given type. */
        JsonNode nextFrame(String type) throws Exception {
            String m = next();
            JsonNode node = JSON.readTree(m);
            assertEquals(type, node.path("t").asText(), "unexpected frame " + m);
            return node;
        }

        /** Messages received and not read yet. */
        List<String> pending() {
            List<String> out = new ArrayList<>();
            messages.drainTo(out);
            return out;
        }

        /** Wait for the WebSocket to end; returns the close code, or {@link #ABNORMAL}. */
        int awaitClose(Duration timeout) throws Exception {
            try {
                return closed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("WebSocket still open after " + timeout.toMillis() + " ms");
            }
        }

        boolean isClosed() {
            return closed.isDone();
        }

        /** Drop the TCP connection without a close handshake. */
        void abort() {
            ws.abort();
        }

        @Override
        public void close() {
            if (ws != null) {
                ws.abort();
            }
            http.shutdownNow();
        }
    }

    /** Write bytes and flush. */
    static void write(Socket s, byte[] bytes) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(bytes);
        out.flush();
    }

    static byte[] concat(List<byte[]> parts) {
        int n = parts.stream().mapToInt(p -> p.length).sum();
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
