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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Protocol v1 at the hub, spoken by a hand-scripted agent (the JDK's own WebSocket client, independent of the
 * project's agent): HELLO_ACK shapes, frames before HELLO, HELLO twice, bad frames, oversized frames.
 *
 * <p>Also holds what the other hub tests share: hand-built JWTs and a Prometheus scraper ({@link RawAgent} is in the
 * test kit).
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubProtocolTest {
    static final Duration WAIT = Duration.ofSeconds(5);
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void helloAckListsDrainWhenTheAgentOffersIt(Harness harness) throws Exception {
        Hub hub = harness.startHub("p1");
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"premise-01\",\"connectors\":[\"p1\"],\"ver\":\"1.5\","
                               + "\"caps\":[\"drain\"]}");
            assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}", agent.next());
            Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel registered");
        }
    }

    @Test
    void helloAckIsPlainV1WithoutCaps(Harness harness) throws Exception {
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
    void frameBeforeHelloClosesWithPolicyViolation(Harness harness) throws Exception {
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
    void secondHelloIsIgnoredAndTheTunnelStays(Harness harness) throws Exception {
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
    void badFramesAreDroppedAndTheTunnelStays(Harness harness) throws Exception {
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
    void oversizedFrameClosesThatTunnelOnly(Harness harness) throws Exception {
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

    /** A valid token scoped to the connectors of the harness's hubs (hubs require the claim by default). */
    static String goodToken(Harness harness, String agentId) throws Exception {
        Map<String, Object> claims = claims(agentId);
        claims.put("connectors", harness.hubConnectors());
        return jwt(header("HS256"), claims, secret(harness));
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
