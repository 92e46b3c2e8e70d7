package io.nowconnect.network;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.nowconnect.Agent;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The agent behind a real forward proxy (tinyproxy on loopback, started per test with its own config and log): CONNECT
 * for wss:// and ws://, Basic proxy credentials, NO_PROXY, the proxy's own failures, and no proxy at all without
 * NC_TRUST_ENV.
 */
@Timeout(60)
class ProxyTest extends NetworkTestBase {
    private static final String PROXY_USER = "nc-agent";
    private static final String PROXY_PASSWORD = "pa-ss_w.rd";
    /** The same credentials percent-encoded in the proxy URL ("-" as %2D, "." as %2E). */
    private static final String ENCODED_CREDENTIALS = "nc%2Dagent:pa%2Dss_w%2Erd";

    private final Map<String, String> savedProperties = new java.util.HashMap<>();

    @BeforeAll
    static void needsTinyproxy() {
        assumeTrue(TinyProxy.installed(), "tinyproxy is not installed (apt-get install tinyproxy-bin)");
    }

    @AfterEach
    void restoreProperties() {
        savedProperties.forEach((k, v) -> {
            if (v == null) {
                System.clearProperty(k);
            } else {
                System.setProperty(k, v);
            }
        });
    }

    @Test
    void wssThroughProxyWithCredentials() throws Exception {
        Hub hub = tlsHub();
        TinyProxy proxy = proxy("auth-proxy", List.of(hub.port()), PROXY_USER + " " + PROXY_PASSWORD);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", "http://" + ENCODED_CREDENTIALS + "@127.0.0.1:" + proxy.port());
        vars.put("NO_PROXY", "example.com,10.0.0.0/8");
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
        assertEquals(1, proxy.connects("localhost:" + hub.port()), proxy.log());
        assertFalse(logs.contains(PROXY_PASSWORD), "the proxy password is never logged");
        assertFalse(logs.contains("pa%2Dss"), "the proxy password is never logged");
    }

    @Test
    void wsThroughProxyUsesConnectToo() throws Exception {
        Hub hub = harness.startHub("echo");
        TinyProxy proxy = proxy("plain-proxy", List.of(hub.port()), null);
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("echo", echo.port()));
        vars.put("NC_AGENT_URL", "ws://localhost:" + hub.port() + "/tunnel");
        vars.put("NC_TRUST_ENV", "true");
        vars.put("http_proxy", proxy.url());
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
        assertEquals(1, proxy.connects("localhost:" + hub.port()), proxy.log());
    }

    @Test
    void proxyWithoutCredentialsAnswers407AndTheAgentKeepsTrying() {
        Hub hub = tlsHub();
        TinyProxy proxy = proxy407(hub);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", proxy.url());
        Agent agent = harness.startAgent(vars);
        String error = awaitError(agent, "proxy refused CONNECT: 407");
        assertTrue(error.startsWith("proxy_failed: proxy refused CONNECT: 407 Proxy Authentication Required"), error);
        awaitEndings(agent, "proxy_failed", 3);
        assertFalse(agent.status().snapshot().ready());
        assertEquals(1, logs.warnings("407").size(), "logged once, then at DEBUG: " + logs.lines());
        warningLine("proxy refused CONNECT: 407");
        assertTrue(proxy.connects("localhost:" + hub.port()) >= 3, proxy.log());
    }

    @Test
    void wrongProxyPasswordAnswers407() {
        Hub hub = tlsHub();
        TinyProxy proxy = proxy407(hub);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_TRUST_ENV", "true");
        vars.put("https_proxy", "http://" + PROXY_USER + ":not-the-password@127.0.0.1:" + proxy.port());
        Agent agent = harness.startAgent(vars);
        // tinyproxy answers wrong credentials with 401, missing ones with 407
        awaitError(agent, "proxy_failed: proxy refused CONNECT: 401 Unauthorized (proxy credentials refused");
        awaitEndings(agent, "proxy_failed", 2);
        warningLine("proxy refused CONNECT: 401");
        assertFalse(logs.contains("not-the-password"), "the proxy password is never logged");
    }

    @Test
    void noProxyBypassesTheProxy() throws Exception {
        Hub hub = tlsHub();
        TinyProxy proxy = proxy("bypassed-proxy", List.of(hub.port()), null);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", proxy.url());
        vars.put("ALL_PROXY", proxy.url());
        vars.put("NO_PROXY", "example.com, .corp.internal, localhost:" + hub.port());
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
        assertFalse(proxy.sawAnyRequest(), proxy.log());
    }

    @Test
    void noProxyAtAllWithoutTrustEnvEvenWithJvmProxyProperties() throws Exception {
        Hub hub = tlsHub();
        TinyProxy proxy = proxy("ignored-proxy", List.of(hub.port()), null);
        for (String scheme : List.of("https", "http")) {
            setProperty(scheme + ".proxyHost", "127.0.0.1");
            setProperty(scheme + ".proxyPort", Integer.toString(proxy.port()));
        }
        setProperty("http.nonProxyHosts", "");
        Map<String, String> vars = wssAgent(hub);
        vars.put("HTTPS_PROXY", proxy.url());
        vars.put("https_proxy", proxy.url());
        vars.put("ALL_PROXY", proxy.url());
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
        assertFalse(proxy.sawAnyRequest(), proxy.log());
    }

    @Test
    void proxyUnreachable() {
        Hub hub = tlsHub();
        int nothing = Harness.freePort();
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", "http://127.0.0.1:" + nothing);
        Agent agent = harness.startAgent(vars);
        awaitError(agent, "proxy_failed: proxy unreachable (127.0.0.1:" + nothing + ")");
        awaitEndings(agent, "proxy_failed", 2);
        warningLine("proxy unreachable");
        String json = logs.jsonWarnings("proxy unreachable").getFirst();
        assertTrue(json.contains("\"error\":\"proxy unreachable (127.0.0.1:" + nothing), "error field: " + json);
    }

    @Test
    void hubUnreachableBehindTheProxy() throws Exception {
        int nothing = Harness.freePort();
        TinyProxy proxy = proxy("dead-end-proxy", List.of(nothing), null);
        Map<String, String> vars = harness.agentVars(nothing, Map.of("echo", echo.port()));
        vars.put("NC_AGENT_URL", "wss://localhost:" + nothing + "/tunnel");
        vars.put("NC_CA_BUNDLE", pki.serverCa.toString());
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", proxy.url());
        Agent agent = harness.startAgent(vars);
        awaitError(agent, "proxy_failed: hub unreachable behind the proxy");
        awaitEndings(agent, "proxy_failed", 2);
        warningLine("hub unreachable behind the proxy");
        assertTrue(proxy.connects("localhost:" + nothing) >= 2, proxy.log());
    }

    @Test
    void hubNameGoesToTheProxyUnresolved() {
        // a name nobody resolves (RFC 2606 .invalid): the agent must not try, only the proxy does (and fails here)
        int port = Harness.freePort();
        TinyProxy proxy = proxy("resolving-proxy", List.of(port), null);
        Map<String, String> vars = harness.agentVars(port, Map.of("echo", echo.port()));
        vars.put("NC_AGENT_URL", "wss://hub.nowconnect.invalid:" + port + "/tunnel");
        vars.put("NC_CA_BUNDLE", pki.serverCa.toString());
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", proxy.url());
        Agent agent = harness.startAgent(vars);
        awaitError(agent, "proxy_failed: hub unreachable behind the proxy");
        assertTrue(proxy.connects("hub.nowconnect.invalid:" + port) >= 1, proxy.log());
    }

    @Test
    void proxyKilledMidSessionThenBack() throws Exception {
        Hub hub = tlsHub();
        TinyProxy proxy = proxy("flaky-proxy", List.of(hub.port()), null);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", proxy.url());
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);

        proxy.kill();
        Harness.await(WAIT, () -> !agent.status().snapshot().ready(), "agent notices the proxy is gone");
        awaitError(agent, "proxy_failed: proxy unreachable (127.0.0.1:" + proxy.port() + ")");
        assertTrue(logs.contains("Tunnel lost"), logs.lines().toString());
        warningLine("proxy unreachable");

        proxy.restart();
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
        assertEquals(2, proxy.connects("localhost:" + hub.port()), proxy.log());
        assertTrue(agent.status().connects() >= 2);
    }

    private TinyProxy proxy407(Hub hub) {
        return proxy("auth-proxy", List.of(hub.port()), PROXY_USER + " " + PROXY_PASSWORD);
    }

    private void setProperty(String key, String value) {
        savedProperties.putIfAbsent(key, System.getProperty(key));
        System.setProperty(key, value);
    }
}
