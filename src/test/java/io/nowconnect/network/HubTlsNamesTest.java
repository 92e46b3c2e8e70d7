package io.nowconnect.network;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.nowconnect.Agent;
import io.nowconnect.testkit.Harness;
import io.nowconnect.hub.Hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Which name the agent checks the hub's certificate against (RFC 2818 / RFC 6125): an IP literal in the URL against
 * {@code iPAddress} names only, a host name against {@code dNSName} names only; never a reverse lookup, never the
 * subject CN (every certificate here has CN=localhost). Direct and through a real proxy, IPv4, IPv6 and names.
 */
@Timeout(60)
class HubTlsNamesTest extends NetworkTestBase {

    @Test
    void ipOnlyCertificateAcceptedAtIpv4Url() throws Exception {
        Hub hub = hub(pki.ipv4OnlyCert, pki.ipv4OnlyKey, "127.0.0.1");
        Agent agent = harness.startAgent(agent(hub, "wss://127.0.0.1:" + hub.port() + "/tunnel"));
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
    }

    @Test
    void dnsOnlyCertificateRefusedAtIpv4Url() {
        Hub hub = hub(pki.dnsOnlyCert, pki.dnsOnlyKey, "127.0.0.1");
        Agent agent = harness.startAgent(agent(hub, "wss://127.0.0.1:" + hub.port() + "/tunnel"));
        refused(agent, "127.0.0.1");
    }

    @Test
    void ipOnlyCertificateAcceptedAtIpv6Url() throws Exception {
        assumeTrue(ipv6Loopback(), "no IPv6 loopback on this machine");
        Hub hub = hub(pki.ipv6OnlyCert, pki.ipv6OnlyKey, "::1");
        Agent agent = harness.startAgent(agent(hub, "wss://[::1]:" + hub.port() + "/tunnel"));
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
    }

    @Test
    void dnsOnlyCertificateRefusedAtIpv6Url() {
        assumeTrue(ipv6Loopback(), "no IPv6 loopback on this machine");
        Hub hub = hub(pki.dnsOnlyCert, pki.dnsOnlyKey, "::1");
        Agent agent = harness.startAgent(agent(hub, "wss://[::1]:" + hub.port() + "/tunnel"));
        refused(agent, "::1");
    }

    @Test
    void ipv4CertificateRefusedAtIpv6Url() {
        assumeTrue(ipv6Loopback(), "no IPv6 loopback on this machine");
        Hub hub = hub(pki.ipv4OnlyCert, pki.ipv4OnlyKey, "::1");
        Agent agent = harness.startAgent(agent(hub, "wss://[::1]:" + hub.port() + "/tunnel"));
        refused(agent, "::1");
    }

    @Test
    void dnsOnlyCertificateAcceptedAtName() throws Exception {
        Hub hub = hub(pki.dnsOnlyCert, pki.dnsOnlyKey, "127.0.0.1");
        Agent agent = harness.startAgent(agent(hub, "wss://localhost:" + hub.port() + "/tunnel"));
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
    }

    @Test
    void ipOnlyCertificateRefusedAtNameEvenWithMatchingCommonName() {
        Hub hub = hub(pki.ipv4OnlyCert, pki.ipv4OnlyKey, "127.0.0.1");
        Agent agent = harness.startAgent(agent(hub, "wss://localhost:" + hub.port() + "/tunnel"));
        refused(agent, "localhost");
    }

    @Test
    void throughProxyIpOnlyCertificateAcceptedAtIpUrl() throws Exception {
        assumeTrue(TinyProxy.installed(), "tinyproxy is not installed (apt-get install tinyproxy-bin)");
        Hub hub = hub(pki.ipv4OnlyCert, pki.ipv4OnlyKey, "127.0.0.1");
        TinyProxy proxy = proxy("ip-proxy", List.of(hub.port()), null);
        Agent agent = harness.startAgent(viaProxy(agent(hub, "wss://127.0.0.1:" + hub.port() + "/tunnel"), proxy));
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
        assertEquals(1, proxy.connects("127.0.0.1:" + hub.port()), proxy.log());
    }

    @Test
    void throughProxyDnsOnlyCertificateRefusedAtIpUrl() {
        assumeTrue(TinyProxy.installed(), "tinyproxy is not installed (apt-get install tinyproxy-bin)");
        Hub hub = hub(pki.dnsOnlyCert, pki.dnsOnlyKey, "127.0.0.1");
        TinyProxy proxy = proxy("ip-proxy", List.of(hub.port()), null);
        Agent agent = harness.startAgent(viaProxy(agent(hub, "wss://127.0.0.1:" + hub.port() + "/tunnel"), proxy));
        refused(agent, "127.0.0.1");
    }

    @Test
    void throughProxyNameMatchesDnsOnly() throws Exception {
        assumeTrue(TinyProxy.installed(), "tinyproxy is not installed (apt-get install tinyproxy-bin)");
        Hub ipOnly = hub(pki.ipv4OnlyCert, pki.ipv4OnlyKey, "127.0.0.1");
        Hub dnsOnly = hub(pki.dnsOnlyCert, pki.dnsOnlyKey, "127.0.0.1");
        TinyProxy proxy = proxy("name-proxy", List.of(ipOnly.port(), dnsOnly.port()), null);

        Agent good = harness.startAgent(viaProxy(agent(dnsOnly, "wss://localhost:" + dnsOnly.port() + "/tunnel"), proxy));
        Harness.awaitReady(good, WAIT);
        assertEcho(dnsOnly);
        assertEquals(1, proxy.connects("localhost:" + dnsOnly.port()), "the name goes to the proxy unresolved: "
                + proxy.log());

        Agent bad = harness.startAgent(viaProxy(agent(ipOnly, "wss://localhost:" + ipOnly.port() + "/tunnel"), proxy));
        refused(bad, "localhost");
    }

    private Hub hub(Path cert, Path key, String host) {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_HUB_TLS_CERT", cert.toString());
        vars.put("NC_HUB_TLS_KEY", key.toString());
        vars.put("NC_HUB_HOST", host);
        return harness.startHub(0, vars, "echo");
    }

    private Map<String, String> agent(Hub hub, String url) {
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_AGENT_URL", url);
        return vars;
    }

    private static Map<String, String> viaProxy(Map<String, String> vars, TinyProxy proxy) {
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", proxy.url());
        return vars;
    }

    private void refused(Agent agent, String host) {
        String error = awaitError(agent, "tls_failed: host name does not match certificate");
        awaitEndings(agent, "tls_failed", 2);
        assertFalse(agent.status().snapshot().ready());
        System.out.println("[" + host + "] " + error);
        // the JSON line carries the failure in "error", as the README documents
        String json = logs.jsonWarnings("host name does not match certificate").getFirst();
        assertTrue(json.contains("\"event\":\"disconnected\"") && json.contains("\"reason\":\"tls_failed\"")
                           && json.contains("\"error\":\"host name does not match certificate"), json);
        if (!host.equals("localhost")) {
            // the address itself was checked, not a name found for it
            assertFalse(error.contains("localhost"), error);
        }
    }

    private static boolean ipv6Loopback() {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName("::1"), 0));
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
