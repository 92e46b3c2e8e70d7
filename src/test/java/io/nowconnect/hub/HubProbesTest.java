package io.nowconnect.hub;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import io.nowconnect.Agent;
import io.nowconnect.config.ConfigException;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The health paths as balancers and probes send them, over raw sockets: HTTP/1.0 (which Helidon 4.2.0 alone answers
 * 505) and HTTP/1.1 get the same status from the same code, on the hub's port, on its admin listener
 * ({@code NC_HUB_ADMIN_PORT}, which takes {@code /metrics} and {@code /readyz} off the hub's port) and on the agent's
 * HTTP endpoint; malformed, oversized and other requests get a clear 4xx and a close.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubProbesTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void hubPortAnswersHttp10AndHttp11Alike(Harness harness) throws Exception {
        Hub hub = harness.startHub("probe");
        int port = hub.port();
        for (String v : new String[] {"HTTP/1.0", "HTTP/1.1"}) {
            assertEquals(200, request(port, "GET", "/healthz", v).status(), v);
            Reply ready = request(port, "GET", "/readyz", v);
            assertEquals(200, ready.status(), v);
            assertTrue(ready.body().contains("\"status\":\"UP\""), ready.body());
            // no agent serves "probe" yet: not ready for its clients
            assertEquals(503, request(port, "GET", "/readyz?connector=probe", v).status(), v);
            assertEquals(404, request(port, "GET", "/nope", v).status(), v);
        }
        Reply health = request(port, "GET", "/healthz", "HTTP/1.0");
        assertTrue(health.body().contains("\"name\":\"hub\""), health.body());
        assertTrue(health.head().contains("Content-Length: " + health.body().length()), health.head());
        assertTrue(health.head().contains("Connection: close"), health.head());
        assertEquals(200, request(port, "GET", "/metrics", "HTTP/1.1").status());

        EchoServer echo = harness.echo();
        Agent agent = harness.startAgent(harness.agentVars(port, Map.of("probe", echo.port())));
        Harness.awaitReady(agent, WAIT);
        Harness.await(WAIT, () -> hub.agentCount() == 1, "agent registered");
        assertEquals(200, request(port, "GET", "/readyz?connector=probe", "HTTP/1.0").status());
        assertEquals(200, request(port, "GET", "/readyz?connector=probe", "HTTP/1.1").status());
        // HEAD: the status and length, no body
        Reply head = request(port, "HEAD", "/readyz", "HTTP/1.0");
        assertEquals(200, head.status());
        assertEquals("", head.body());
    }

    @Test
    void http10OtherRequestsAreRefusedAndClosed(Harness harness) throws Exception {
        Hub hub = harness.startHub("refused");
        int port = hub.port();
        Reply post = request(port, "POST", "/readyz", "HTTP/1.0");
        assertEquals(405, post.status());
        assertTrue(post.head().contains("Allow: GET, HEAD"), post.head());
        assertEquals(404, request(port, "GET", "/metrics/x", "HTTP/1.0").status());
        assertEquals(400, raw(port, "GET  HTTP/1.0\r\n\r\n").status());
        assertEquals(400, raw(port, "GET /readyz?connector=%zz HTTP/1.0\r\n\r\n").status());
        // a request head over 8 KiB
        String big = "GET /readyz HTTP/1.0\r\nX-Fill: " + "a".repeat(9000) + "\r\n\r\n";
        assertEquals(431, raw(port, big).status());
        // headers are read and ignored; a second request on the connection is never read
        Reply two = raw(port, "GET /healthz HTTP/1.0\r\nHost: x\r\nUser-Agent: monitor\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n");
        assertEquals(200, two.status());
        assertEquals(200, two.status(), "one answer, then the close that exchange() checks");
    }

    @Test
    void adminListenerTakesMetricsAndReadinessOffTheHubPort(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_ADMIN_HOST", "127.0.0.1", "NC_HUB_ADMIN_PORT", "0"), "adm");
        int pub = hub.port();
        int admin = hub.adminPort();
        assertTrue(admin > 0 && admin != pub, "admin port " + admin);
        for (String v : new String[] {"HTTP/1.0", "HTTP/1.1"}) {
            Reply health = request(pub, "GET", "/healthz", v);
            assertEquals(200, health.status(), v);
            assertEquals("{\"status\":\"UP\"}", health.body(), "no details on the hub's port");
            assertEquals(404, request(pub, "GET", "/readyz", v).status(), v);
            assertEquals(404, request(pub, "GET", "/readyz?connector=adm", v).status(), v);
            assertEquals(404, request(pub, "GET", "/metrics", v).status(), v);

            assertTrue(request(admin, "GET", "/healthz", v).body().contains("\"name\":\"hub\""), v);
            assertEquals(200, request(admin, "GET", "/readyz", v).status(), v);
            assertEquals(503, request(admin, "GET", "/readyz?connector=adm", v).status(), v);
            assertEquals(404, request(admin, "GET", "/tunnel", v).status(), v);
        }
        Reply metrics = request(admin, "GET", "/metrics", "HTTP/1.1");
        assertEquals(200, metrics.status());
        assertTrue(metrics.body().contains("nowconnect_hub_agents_connected"), metrics.body());

        // agents still use the hub's port; readiness for the connector shows on the admin port
        EchoServer echo = harness.echo();
        Agent agent = harness.startAgent(harness.agentVars(pub, Map.of("adm", echo.port())));
        Harness.awaitReady(agent, WAIT);
        Harness.await(WAIT, () -> hub.agentCount() == 1, "agent registered");
        assertEquals(200, request(admin, "GET", "/readyz?connector=adm", "HTTP/1.0").status());
        assertEquals(200, request(admin, "GET", "/readyz?connector=adm", "HTTP/1.1").status());
    }

    @Test
    void adminListenerHoldsAtMost64ConnectionsAndCutsSilentOnes(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_ADMIN_PORT", "0"), "cap");
        int admin = hub.adminPort();
        java.util.List<Socket> silent = new java.util.ArrayList<>();
        for (int i = 0; i < HubAdmin.ADMIN_MAX_CONNECTIONS; i++) {
            Socket s = harness.closeLater(new Socket());
            s.connect(new InetSocketAddress("127.0.0.1", admin), 5000);
            silent.add(s);
        }
        long start = System.nanoTime();
        // one more: in the backlog, answered only once a slot is free (here: when the silent ones are cut)
        Reply late = raw(admin, "GET /healthz HTTP/1.0\r\n\r\n", 30_000);
        long servedMs = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(200, late.status());
        for (Socket s : silent) {
            s.setSoTimeout(15_000);
            try {
                assertEquals(-1, s.getInputStream().read(), "a silent connection is closed");
            } catch (java.net.SocketException e) {
                // reset: closed as well
            }
        }
        long cutMs = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("[admin] %d silent connections cut after %d ms; the next request served after %d ms%n",
                          silent.size(), cutMs, servedMs);
        assertTrue(servedMs >= HubAdmin.ADMIN_REQUEST_DEADLINE.toMillis() - 1500,
                   "served only once slots were free: " + servedMs + " ms");
    }

    @Test
    void authFailureReasonsStayOffTheWire(Harness harness) throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_ADMIN_PORT", "0"), "auth");
        String upgrade = "GET /tunnel HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        Reply missing = raw(hub.port(), upgrade + "Connection: close\r\n\r\n");
        Reply forged = raw(hub.port(), upgrade + "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln\r\n\r\n");
        String otherAudience = io.nowconnect.hub.auth.TokenMinter.mintHs256(
                io.nowconnect.hub.auth.TokenMinter.readSecret(harness.secret()), "probe-agent", Duration.ofHours(1), "elsewhere");
        Reply audience = raw(hub.port(), upgrade + "Authorization: Bearer " + otherAudience + "\r\n\r\n");
        for (Reply r : new Reply[] {missing, forged, audience}) {
            assertEquals(401, r.status(), r.text());
            assertEquals("", r.body(), "no body, the status says it all: " + r.text());
            assertTrue(r.head().contains("WWW-Authenticate: Bearer realm=\"nowconnect\""), r.head());
            for (String reason : new String[] {"missing_token", "bad_signature", "malformed", "wrong_audience", "expired",
                                               "token"}) {
                assertFalse(r.body().toLowerCase(java.util.Locale.ROOT).contains(reason), reason + " in " + r.text());
            }
        }
        // the reasons are in the metrics, on the admin port
        String metrics = request(hub.adminPort(), "GET", "/metrics", "HTTP/1.1").body();
        assertTrue(metrics.contains("nowconnect_hub_auth_failures_total"), metrics);
        assertTrue(metrics.contains("wrong_audience"), "the reason is counted on the admin port");
        assertEquals(404, request(hub.port(), "GET", "/metrics", "HTTP/1.1").status(), "and not on the hub's port");
    }

    @Test
    void adminPortProblemsAreConfigErrors(Harness harness) throws Exception {
        try (java.net.ServerSocket busy = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            ConfigException e = assertThrows(ConfigException.class, () -> harness.startHub(
                    0, Map.of("NC_HUB_ADMIN_HOST", "127.0.0.1", "NC_HUB_ADMIN_PORT", Integer.toString(busy.getLocalPort())),
                    "busy"));
            assertTrue(e.getMessage().contains("NC_HUB_ADMIN_HOST/NC_HUB_ADMIN_PORT"), e.getMessage());
        }
    }

    @Test
    void agentEndpointAnswersHttp10AndHttp11Alike(Harness harness) throws Exception {
        Hub hub = harness.startHub("ag");
        EchoServer echo = harness.echo();
        Map<String, String> vars = new HashMap<>(harness.agentVars(hub.port(), Map.of("ag", echo.port())));
        vars.put("NC_HTTP_HOST", "127.0.0.1");
        vars.put("NC_HTTP_PORT", "0");
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);
        int http = agent.httpPort();
        for (String v : new String[] {"HTTP/1.0", "HTTP/1.1"}) {
            Reply health = request(http, "GET", "/healthz", v);
            assertEquals(200, health.status(), v);
            assertTrue(health.body().contains("\"name\":\"supervisor\""), health.body());
            Reply ready = request(http, "GET", "/readyz", v);
            assertEquals(200, ready.status(), v);
            assertTrue(ready.body().contains("\"ready\":true"), ready.body());
            assertEquals(404, request(http, "GET", "/nope", v).status(), v);
        }
        assertEquals(200, request(http, "GET", "/metrics", "HTTP/1.1").status());
        hub.close();
        Harness.await(WAIT, () -> !agent.status().snapshot().ready(), "agent lost its tunnel");
        assertEquals(503, request(http, "GET", "/readyz", "HTTP/1.0").status());
        assertEquals(503, request(http, "GET", "/readyz", "HTTP/1.1").status());
    }

    /** One request ({@code Connection: close} on HTTP/1.1), read to the end. */
    static Reply request(int port, String method, String target, String version) throws IOException {
        String extra = version.equals("HTTP/1.1") ? "Host: 127.0.0.1\r\nConnection: close\r\n" : "";
        return raw(port, method + " " + target + " " + version + "\r\n" + extra + "\r\n");
    }

    /** Send the bytes, read until the server closes. */
    static Reply raw(int port, String request) throws IOException {
        return raw(port, request, 10_000);
    }

    static Reply raw(int port, String request, int timeoutMs) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(timeoutMs);
            return exchange(s, request);
        }
    }

    /**
     * Send the bytes, read one answer: its head, then {@code Content-Length} bytes (none for HEAD). An HTTP/1.0 request
     * must then see the connection closed. (Helidon 4.2.0 keeps an HTTP/1.1 connection open after answering
     * {@code Connection: close} until the client closes it, so HTTP/1.1 answers are read by length.)
     */
    static Reply exchange(Socket s, String request) throws IOException {
        s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
        try {
            while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    break;
                }
                head.write(b);
            }
        } catch (java.net.SocketException e) {
            // reset before an answer
        }
        String h = head.toString(StandardCharsets.ISO_8859_1);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(h);
        int length = m.find() && !request.startsWith("HEAD ") ? Integer.parseInt(m.group(1)) : 0;
        String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
        if (request.contains(" HTTP/1.0\r\n")) {
            try {
                assertEquals(-1, in.read(), "connection closed after the HTTP/1.0 answer");
            } catch (java.net.SocketException e) {
                // closed with a reset (the server left unread request bytes): closed all the same
            }
        }
        return new Reply(h + body);
    }

    /** A whole HTTP answer. */
    record Reply(String text) {
        int status() {
            String[] parts = text.split(" ", 3);
            return parts.length < 2 ? -1 : Integer.parseInt(parts[1]);
        }

        String head() {
            int end = text.indexOf("\r\n\r\n");
            return end < 0 ? text : text.substring(0, end);
        }

        String body() {
            int end = text.indexOf("\r\n\r\n");
            return end < 0 ? "" : text.substring(end + 4);
        }
    }
}
