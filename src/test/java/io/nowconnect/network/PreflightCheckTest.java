package io.nowconnect.network;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import io.nowconnect.check.CheckCommand;
import io.nowconnect.hub.Hub;
import io.nowconnect.hub.auth.TokenMinter;
import io.nowconnect.testkit.Harness;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code nowconnect check} and {@code hub check} against real hubs (TLS from the test PKI), real targets and a real
 * proxy socket on loopback: a healthy install exits 0 (table and {@code --json}), and each broken part is found on its
 * own line: a token for another audience, an expired token, a target that refuses, a hub whose certificate names
 * another host, a proxy that refuses CONNECT. The token never appears in the output.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PreflightCheckTest extends NetworkTestBase {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The output and exit status of one check run. */
    private record Run(int code, String out, String err) {
        String line(String check) {
            return out.lines().filter(l -> l.startsWith(check + " ")).findFirst()
                    .orElseThrow(() -> new AssertionError("no line " + check + " in\n" + out));
        }
    }

    @Test
    void healthyInstallExitsZero() throws Exception {
        Hub hub = tlsHub();
        Map<String, String> vars = healthyAgent(hub);
        Run run = check(vars);
        assertEquals(0, run.code(), run.out());
        for (String check : List.of("config", "token file", "token agent_id", "token expiry", "token connectors",
                                    "target echo dns", "target echo tcp", "hub dns", "hub tcp", "hub clock",
                                    "hub upgrade", "hub hello", "hub connectors", "hub close")) {
            assertTrue(run.line(check).contains(" OK "), run.line(check));
        }
        // the test PKI's certificates live 2 days: the one warning of a healthy install
        assertTrue(run.line("hub tls").contains(" WARN ") && run.out().contains("renew the hub's certificate"), run.out());
        assertTrue(run.line("hub tls").contains("DNS:localhost"), run.line("hub tls"));
        assertTrue(run.line("hub hello").contains("drain"), run.line("hub hello"));
        assertTrue(run.out().contains("0 FAIL"), run.out());
        assertNoToken(run, vars);
        // the check's tunnel has gone: the hub has no agent left
        Harness.await(WAIT, () -> hub.agentCount() == 0, "the check's tunnel closed");
    }

    @Test
    void jsonParsesWithJackson() throws Exception {
        Hub hub = tlsHub();
        Map<String, String> vars = healthyAgent(hub);
        Run run = check(vars, "--json");
        assertEquals(0, run.code(), run.out());
        JsonNode root = JSON.readTree(run.out());
        assertEquals("agent", root.get("mode").asText());
        assertTrue(root.get("ok").asBoolean());
        assertEquals(0, root.get("failed").asInt());
        List<String> names = new ArrayList<>();
        for (JsonNode c : root.get("checks")) {
            assertTrue(List.of("OK", "WARN", "FAIL").contains(c.get("result").asText()), c.toString());
            names.add(c.get("check").asText());
        }
        assertTrue(names.containsAll(List.of("hub upgrade", "hub hello", "target echo tcp")), names.toString());
        assertNoToken(run, vars);
    }

    @Test
    void findsATokenForAnotherAudience() throws Exception {
        Hub hub = tlsHub();
        Map<String, String> vars = healthyAgent(hub);
        vars.put("NC_TOKEN_FILE", write("aud.token", TokenMinter.mintHs256(secret(), Harness.AGENT_ID,
                                                                           Duration.ofHours(1), "another-hub",
                                                                           List.of("echo"), Optional.empty())));
        Run run = check(vars);
        assertEquals(1, run.code(), run.out());
        assertTrue(run.line("token audience").contains("aud another-hub"), run.out());
        String upgrade = run.line("hub upgrade");
        assertTrue(upgrade.contains("FAIL") && upgrade.contains("401") && upgrade.contains("wrong_audience"), run.out());
        assertTrue(run.out().contains("NC_HUB_AUDIENCE"), run.out());
    }

    @Test
    void findsAnExpiredToken() throws Exception {
        Hub hub = tlsHub();
        Map<String, String> vars = healthyAgent(hub);
        vars.put("NC_TOKEN_FILE", write("expired.token", expiredToken()));
        Run run = check(vars);
        assertEquals(1, run.code(), run.out());
        String expiry = run.line("token expiry");
        assertTrue(expiry.contains("FAIL") && expiry.contains(" ago"), run.out());
        assertTrue(run.line("hub upgrade").contains("(expired)"), run.out());
    }

    @Test
    void findsAnUnreachableTarget() throws Exception {
        Hub hub = tlsHub();
        Map<String, String> vars = healthyAgent(hub);
        vars.put("NC_TARGET_echo_PORT", Integer.toString(Harness.freePort()));
        Run run = check(vars);
        assertEquals(1, run.code(), run.out());
        String tcp = run.line("target echo tcp");
        assertTrue(tcp.contains("FAIL") && tcp.contains("refused"), run.out());
        assertTrue(run.out().contains("is the service running"), run.out());
        assertTrue(run.line("hub hello").contains(" OK "), "the hub is still checked: " + run.out());
    }

    @Test
    void findsAHubCertificateForAnotherName() throws Exception {
        Hub hub = tlsHub(pki.wrongHostCert, pki.wrongHostKey, null);
        Run run = check(healthyAgent(hub));
        assertEquals(1, run.code(), run.out());
        String tls = run.line("hub tls");
        assertTrue(tls.contains("FAIL") && tls.contains("host name does not match"), run.out());
        assertTrue(tls.contains("DNS:other.example") && tls.contains("read without verification"), run.out());
        assertFalse(run.out().lines().anyMatch(l -> l.startsWith("hub upgrade")),
                    "no upgrade over a connection the agent would refuse");
    }

    @Test
    void findsAProxyThatRefusesConnect() throws Exception {
        Hub hub = tlsHub();
        Map<String, String> vars = healthyAgent(hub);
        try (RefusingProxy proxy = new RefusingProxy()) {
            vars.put("NC_TRUST_ENV", "true");
            vars.put("HTTPS_PROXY", "http://127.0.0.1:" + proxy.port());
            Run run = check(vars);
            assertEquals(1, run.code(), run.out());
            String line = run.line("proxy 127.0.0.1:" + proxy.port());
            assertTrue(line.contains("FAIL") && line.contains("403 Forbidden"), run.out());
            assertTrue(run.out().contains("ConnectPort"), run.out());
            assertTrue(proxy.requests.stream().anyMatch(r -> r.startsWith("CONNECT localhost:" + hub.port())),
                       proxy.requests.toString());
        }
    }

    @Test
    void throughTinyproxyThatAllowsTheHubsPortAndOneThatDoesNot() throws Exception {
        assumeTrue(TinyProxy.installed(), "tinyproxy is not installed (apt-get install tinyproxy-bin)");
        Hub hub = tlsHub();
        Map<String, String> vars = healthyAgent(hub);
        vars.put("NC_TRUST_ENV", "true");
        TinyProxy allowing = proxy("check-proxy", List.of(hub.port()), null);
        vars.put("HTTPS_PROXY", allowing.url());
        Run ok = check(vars);
        assertEquals(0, ok.code(), ok.out());
        assertTrue(ok.line("proxy 127.0.0.1:" + allowing.port()).contains("CONNECT localhost:" + hub.port() + " allowed"),
                   ok.out());
        assertTrue(ok.line("hub dns").contains("resolved by the proxy"), ok.out());
        assertTrue(ok.line("hub tls").contains("DNS:localhost"), "TLS end to end through the tunnel: " + ok.out());
        assertTrue(ok.line("hub hello").contains(" OK "), ok.out());

        TinyProxy refusing = proxy("check-proxy-403", List.of(hub.port() + 1), null);
        vars.put("HTTPS_PROXY", refusing.url());
        Run bad = check(vars);
        assertEquals(1, bad.code(), bad.out());
        String line = bad.line("proxy 127.0.0.1:" + refusing.port());
        assertTrue(line.contains("FAIL") && line.contains("403"), bad.out());
    }

    @Test
    void reachesEveryReplicaBehindABalancerAndNamesTheOneMissing() throws Exception {
        List<Integer> backends = new ArrayList<>();
        for (String id : List.of("r0", "r1")) {
            Hub hub = harness.startHub(0, Map.of("NC_HUB_REPLICA_ID", id, "NC_HUB_REPLICAS", "r0,r1,r2"), "echo");
            backends.add(hub.port());
        }
        try (RoundRobin balancer = new RoundRobin(backends)) {
            Map<String, String> vars = harness.agentVars(backends.getFirst(), Map.of("echo", echo.port()));
            vars.put("NC_AGENT_URL", "ws://127.0.0.1:" + balancer.port() + "/tunnel");
            Run run = check(vars);
            assertEquals(0, run.code(), "a missing replica is a warning: " + run.out());
            assertTrue(run.line("hub replica r0").contains(" OK "), run.out());
            assertTrue(run.line("hub replica r1").contains(" OK "), run.out());
            String missing = run.line("hub replica r2");
            assertTrue(missing.contains(" WARN ") && missing.contains("not reached in 12 dials"), run.out());
        }
    }

    @Test
    void usageErrorsExitTwo() {
        Run run = check(new HashMap<>(), "--bogus");
        assertEquals(2, run.code());
        assertTrue(run.err().contains("usage: nowconnect check"), run.err());
    }

    @Test
    void hubCheckFindsItsCertificateKeysAndPorts() throws Exception {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_HUB_HOST", "127.0.0.1");
        vars.put("NC_HUB_PORT", Integer.toString(Harness.freePort()));
        vars.put("NC_HUB_JWT_SECRET_FILE", harness.secret().toString());
        vars.put("NC_HUB_TLS_CERT", pki.serverCert.toString());
        vars.put("NC_HUB_TLS_KEY", pki.serverKey.toString());
        vars.put("NC_HUB_REQUIRE_CONNECTORS_CLAIM", "true");
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            vars.put("NC_HUB_LISTENERS", "echo=127.0.0.1:" + Harness.freePort());
            Run ok = hubCheck(vars);
            assertEquals(0, ok.code(), ok.out());
            assertTrue(ok.line("tls certificate").contains("DNS:localhost"), ok.out());
            assertTrue(ok.line("tls key").contains("belongs to the certificate"), ok.out());
            assertTrue(ok.line("key secret").contains(" OK "), ok.out());

            vars.put("NC_HUB_LISTENERS", "echo=127.0.0.1:" + busy.getLocalPort());
            vars.put("NC_HUB_TLS_KEY", pki.wrongHostKey.toString());
            Run bad = hubCheck(vars);
            assertEquals(1, bad.code(), bad.out());
            assertTrue(bad.line("listener echo").contains("FAIL"), bad.out());
            assertTrue(bad.line("tls key").contains("does not belong"), bad.out());
            String secret = Files.readString(harness.secret()).strip();
            assertFalse(ok.out().contains(secret) || bad.out().contains(secret), "the secret is never printed");
        }
    }

    private Map<String, String> healthyAgent(Hub hub) throws IOException {
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_TOKEN_FILE", write("scoped.token", TokenMinter.mintHs256(secret(), Harness.AGENT_ID,
                                                                              Duration.ofDays(30), "nowconnect",
                                                                              List.of("echo"), Optional.empty())));
        return vars;
    }

    private Run check(Map<String, String> vars, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = CheckCommand.agent(List.of(args), vars, Optional.empty(), new PrintStream(out, true, StandardCharsets.UTF_8),
                                      new PrintStream(err, true, StandardCharsets.UTF_8));
        Run run = new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        System.out.println(run.out());
        return run;
    }

    private Run hubCheck(Map<String, String> vars) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = CheckCommand.hub(List.of(), vars, Optional.empty(), new PrintStream(out, true, StandardCharsets.UTF_8),
                                    System.err);
        Run run = new Run(code, out.toString(StandardCharsets.UTF_8), "");
        System.out.println(run.out());
        return run;
    }

    private static void assertNoToken(Run run, Map<String, String> vars) throws IOException {
        String token = Files.readString(Path.of(vars.get("NC_TOKEN_FILE"))).strip();
        assertFalse(run.out().contains(token) || run.out().contains(token.split("\\.")[2]), "the token is never printed");
    }

    private byte[] secret() {
        return TokenMinter.readSecret(harness.secret());
    }

    private String write(String name, String content) throws IOException {
        Path file = harness.dir().resolve(name);
        Files.writeString(file, content + "\n");
        return file.toString();
    }

    /** An HS256 token of the hub's secret that expired an hour ago. */
    private String expiredToken() throws Exception {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        long now = Instant.now().getEpochSecond();
        String header = b64.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String claims = b64.encodeToString(("{\"agent_id\":\"" + Harness.AGENT_ID + "\",\"aud\":\"nowconnect\",\"iat\":"
                + (now - 7200) + ",\"exp\":" + (now - 3600) + ",\"connectors\":[\"echo\"]}").getBytes(StandardCharsets.UTF_8));
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret(), "HmacSHA256"));
        String signature = b64.encodeToString(mac.doFinal((header + "." + claims).getBytes(StandardCharsets.US_ASCII)));
        return header + "." + claims + "." + signature;
    }

    /** A TCP balancer on loopback: each connection goes to the next backend port in turn (round robin). */
    private static final class RoundRobin implements AutoCloseable {
        private final ServerSocket server;
        private final List<Integer> backends;
        private final List<Socket> open = java.util.Collections.synchronizedList(new ArrayList<>());
        private int next;

        RoundRobin(List<Integer> backends) throws IOException {
            this.backends = backends;
            server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Thread.ofVirtual().name("round-robin").start(this::serve);
        }

        int port() {
            return server.getLocalPort();
        }

        private void serve() {
            while (!server.isClosed()) {
                try {
                    Socket client = server.accept();
                    Socket backend = new Socket(InetAddress.getLoopbackAddress(), backends.get(next++ % backends.size()));
                    open.add(client);
                    open.add(backend);
                    pipe(client, backend);
                    pipe(backend, client);
                } catch (IOException e) {
                    // closed
                }
            }
        }

        private static void pipe(Socket from, Socket to) {
            Thread.ofVirtual().start(() -> {
                try {
                    from.getInputStream().transferTo(to.getOutputStream());
                    to.shutdownOutput();
                } catch (IOException e) {
                    // either side went away
                }
            });
        }

        @Override
        public void close() throws IOException {
            server.close();
            synchronized (open) {
                for (Socket s : open) {
                    s.close();
                }
            }
        }
    }

    /** An HTTP proxy on loopback that answers every request with 403, as tinyproxy does for a port not in ConnectPort. */
    private static final class RefusingProxy implements AutoCloseable {
        final List<String> requests = java.util.Collections.synchronizedList(new ArrayList<>());
        private final ServerSocket server;
        private final Thread thread;

        RefusingProxy() throws IOException {
            server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            thread = Thread.ofVirtual().name("refusing-proxy").start(this::serve);
        }

        int port() {
            return server.getLocalPort();
        }

        private void serve() {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    s.setSoTimeout(5000);
                    InputStream in = s.getInputStream();
                    StringBuilder head = new StringBuilder();
                    int b;
                    while (!head.toString().endsWith("\r\n\r\n") && head.length() < 8192 && (b = in.read()) >= 0) {
                        head.append((char) b);
                    }
                    requests.add(head.toString());
                    s.getOutputStream().write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                                      .getBytes(StandardCharsets.US_ASCII));
                } catch (IOException e) {
                    // closed, or a client that went away
                }
            }
        }

        @Override
        public void close() throws Exception {
            server.close();
            thread.join(5000);
        }
    }
}
