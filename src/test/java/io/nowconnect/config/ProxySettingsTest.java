package io.nowconnect.config;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Proxy settings from the environment: curl's variables, precedence, NO_PROXY matching, URL parsing. */
@Timeout(60)
class ProxySettingsTest {

    @ParameterizedTest(name = "NO_PROXY={0}: {1}:{2} bypass={3}")
    @CsvSource(delimiter = '|', textBlock = """
            example.com               | example.com        | 443  | true
            example.com               | hub.example.com    | 443  | true
            example.com               | a.b.example.com    | 443  | true
            example.com               | badexample.com     | 443  | false
            example.com               | example.com.evil   | 443  | false
            .example.com              | example.com        | 443  | true
            .example.com              | hub.example.com    | 443  | true
            .example.com              | badexample.com     | 443  | false
            *.example.com             | hub.example.com    | 443  | true
            EXAMPLE.com               | Hub.Example.COM    | 443  | true
            example.com               | hub.example.com.   | 443  | true
            *                         | anything.at.all    | 443  | true
            *                         | 10.1.2.3           | 8443 | true
            hub.example.com:8443      | hub.example.com    | 8443 | true
            hub.example.com:8443      | hub.example.com    | 443  | false
            .example.com:443          | hub.example.com    | 443  | true
            10.1.2.3                  | 10.1.2.3           | 443  | true
            10.1.2.3                  | 10.1.2.4           | 443  | false
            10.1.2.3:8443             | 10.1.2.3           | 443  | false
            10.0.0.0/8                | 10.200.3.4         | 443  | true
            10.0.0.0/8                | 11.0.0.1           | 443  | false
            192.168.0.0/16:443        | 192.168.7.7        | 443  | true
            192.168.0.0/16:443        | 192.168.7.7        | 80   | false
            10.0.0.0/8                | ten.example.com    | 443  | false
            ::1                       | ::1                | 443  | true
            ::1                       | [::1]              | 443  | true
            [::1]:8443                | ::1                | 8443 | true
            [::1]:8443                | ::1                | 443  | false
            fd00::/8                  | fd12:3456::1       | 443  | true
            fd00::/8                  | fe80::1            | 443  | false
            localhost,127.0.0.0/8     | 127.0.0.1          | 443  | true
            'localhost, .corp'        | hub.corp           | 443  | true
            'a.com b.com'             | b.com              | 443  | true
            a.com                     | 10.0.0.1           | 443  | false
            """)
    void noProxyMatching(String noProxy, String host, int port, boolean bypass) {
        ProxySettings s = ProxySettings.fromMap(Map.of("HTTPS_PROXY", "http://proxy:3128", "NO_PROXY", noProxy));
        assertEquals(bypass, s.bypass(host, port), noProxy + " vs " + host + ":" + port);
        String authority = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
        assertEquals(bypass, s.forUrl(URI.create("wss://" + authority + ":" + port + "/tunnel")).isEmpty());
    }

    @Test
    void defaultPortsOfTheHubUrlCountForNoProxyPorts() {
        ProxySettings s = ProxySettings.fromMap(Map.of("ALL_PROXY", "http://proxy:3128",
                                                       "NO_PROXY", "secure.example:443,plain.example:80"));
        assertTrue(s.forUrl(URI.create("wss://secure.example/tunnel")).isEmpty());
        assertTrue(s.forUrl(URI.create("wss://secure.example:8443/tunnel")).isPresent());
        assertTrue(s.forUrl(URI.create("ws://plain.example/tunnel")).isEmpty());
    }

    @Test
    void schemeSelectsTheVariableAndAllProxyIsTheFallback() {
        ProxySettings s = ProxySettings.fromMap(Map.of("HTTPS_PROXY", "http://secure-proxy:3128",
                                                       "HTTP_PROXY", "http://plain-proxy:8080"));
        assertEquals("secure-proxy", s.forUrl(URI.create("wss://hub.example/tunnel")).orElseThrow().host());
        assertEquals("plain-proxy", s.forUrl(URI.create("ws://hub.example/tunnel")).orElseThrow().host());

        ProxySettings all = ProxySettings.fromMap(Map.of("ALL_PROXY", "http://any-proxy:3128",
                                                         "HTTP_PROXY", "http://plain-proxy:8080"));
        assertEquals("any-proxy", all.forUrl(URI.create("wss://hub.example/tunnel")).orElseThrow().host());
        assertEquals("plain-proxy", all.forUrl(URI.create("ws://hub.example/tunnel")).orElseThrow().host());

        ProxySettings onlyPlain = ProxySettings.fromMap(Map.of("HTTP_PROXY", "http://plain-proxy:8080"));
        assertTrue(onlyPlain.forUrl(URI.create("wss://hub.example/tunnel")).isEmpty(), "HTTP_PROXY is not for wss://");
        assertTrue(ProxySettings.fromMap(Map.of()).forUrl(URI.create("wss://hub.example/tunnel")).isEmpty());
    }

    @Test
    void lowerCaseWinsAsInCurl() {
        Map<String, String> env = Map.of("HTTPS_PROXY", "http://upper:1", "https_proxy", "http://lower:2",
                                         "HTTP_PROXY", "http://upper:3", "http_proxy", "http://lower:4",
                                         "ALL_PROXY", "http://upper:5", "all_proxy", "http://lower:6",
                                         "NO_PROXY", "upper.example", "no_proxy", "lower.example");
        ProxySettings s = ProxySettings.fromMap(env);
        assertEquals("lower:2 (https_proxy)", s.https().orElseThrow().address() + " (" + s.https().orElseThrow().variable() + ")");
        assertEquals("lower:4", s.http().orElseThrow().address());
        assertEquals("lower:6", s.all().orElseThrow().address());
        assertTrue(s.bypass("lower.example", 443));
        assertFalse(s.bypass("upper.example", 443));
        // upper case alone is honoured
        assertEquals("upper:1", ProxySettings.fromMap(Map.of("HTTPS_PROXY", "http://upper:1")).https().orElseThrow().address());
        // a blank lower-case variable counts as unset
        assertEquals("upper:1", ProxySettings.fromMap(Map.of("HTTPS_PROXY", "http://upper:1", "https_proxy", " "))
                .https().orElseThrow().address());
    }

    @Test
    void proxyUrlForms() {
        ProxySettings.Server plain = server("http://proxy.corp:3128");
        assertEquals("proxy.corp", plain.host());
        assertEquals(3128, plain.port());
        assertEquals(Optional.empty(), plain.username());
        assertEquals(80, server("http://proxy.corp").port());
        assertEquals(3128, server("http://proxy.corp:3128/").port());
        assertEquals(8080, server("proxy.corp:8080").port(), "no scheme: http:// as curl");
        assertEquals(3128, server("HTTP://proxy.corp:3128").port());
        ProxySettings.Server v6 = server("http://[fd00::1]:3128");
        assertEquals("fd00::1", v6.host());
        assertEquals("[fd00::1]:3128", v6.address());
    }

    @Test
    void credentialsArePercentDecodedAndNeverPrinted() {
        ProxySettings.Server s = server("http://DOMAIN%5Cj%C3%BCrgen:p%40ss%3Aw%2Frd+x%25@proxy.corp:3128");
        assertEquals("DOMAIN\\jürgen", s.username().orElseThrow());
        assertEquals("p@ss:w/rd+x%", s.password().orElseThrow(), "+ stays a plus");
        assertEquals("http://DOMAIN\\jürgen:***@proxy.corp:3128 (HTTPS_PROXY)", s.toString());
        assertFalse(ProxySettings.fromMap(Map.of("HTTPS_PROXY", "http://u:secret@p:1")).toString().contains("secret"));
        ProxySettings.Server userOnly = server("http://alice@proxy.corp:3128");
        assertEquals("alice", userOnly.username().orElseThrow());
        assertEquals(Optional.empty(), userOnly.password());
        assertEquals("", server("http://alice:@proxy.corp:3128").password().orElseThrow());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "https://proxy.corp:3128",
            "socks5://proxy.corp:1080",
            "http://",
            "http://proxy.corp:99999",
            "http://proxy.corp:0",
            "http://proxy.corp:3128/some/path",
            "http://proxy.corp:3128/?q=1",
            "http://user:p@ss@proxy.corp:3128",
            "http://user:bad%zzescape@proxy.corp:3128",
            "http://user:trunc%2@proxy.corp:3128",
            "http://:s3cr3t@proxy.corp:3128",
            "http://proxy corp:3128",
    })
    void badProxyUrlsAreConfigErrorsNamingTheVariableNotTheValue(String url) {
        ConfigException e = assertThrows(ConfigException.class, () -> ProxySettings.fromMap(Map.of("https_proxy", url)));
        assertEquals(1, e.problems().size(), e.problems().toString());
        assertTrue(e.problems().getFirst().startsWith("https_proxy"), e.problems().toString());
        for (String secret : List.of("p@ss", "s3cr3t", "%zz", "trunc", "proxy.corp")) {
            assertFalse(e.problems().getFirst().contains(secret), "no part of the value in " + e.problems());
        }
    }

    @Test
    void badNoProxyEntries() {
        ConfigException e = assertThrows(ConfigException.class, () -> ProxySettings.fromMap(
                Map.of("NO_PROXY", "10.0.0.0/33,host:notaport,[::1")));
        assertEquals(3, e.problems().size(), e.problems().toString());
        assertTrue(e.problems().stream().allMatch(p -> p.startsWith("NO_PROXY: ")), e.problems().toString());
    }

    @Test
    void agentConfigReadsProxiesOnlyWithTrustEnv(@TempDir Path dir) throws Exception {
        Map<String, String> vars = agentVars(dir);
        vars.put("HTTPS_PROXY", "http://user:secret@proxy.corp:3128");
        vars.put("https_proxy", "http://lower.corp:3128");
        vars.put("NO_PROXY", ".internal");

        assertSame(ProxySettings.NONE, AgentConfig.create(ConfigLoader.fromMaps(vars, Map.of())).proxy(), "unset");
        vars.put("NC_TRUST_ENV", "false");
        assertSame(ProxySettings.NONE, AgentConfig.create(ConfigLoader.fromMaps(vars, Map.of())).proxy(), "false");

        vars.put("NC_TRUST_ENV", "true");
        AgentConfig config = AgentConfig.create(ConfigLoader.fromMaps(vars, Map.of()));
        assertEquals("lower.corp", config.proxy().forUrl(config.url()).orElseThrow().host());
        assertTrue(config.proxy().bypass("hub.internal", 443));
        assertFalse(config.toString().contains("secret"));

        // an env file supplies them too (the environment wins)
        Map<String, String> file = new HashMap<>(Map.of("HTTPS_PROXY", "http://from-file:3128"));
        vars.remove("HTTPS_PROXY");
        vars.remove("https_proxy");
        config = AgentConfig.create(ConfigLoader.fromMaps(vars, file));
        assertEquals("from-file", config.proxy().https().orElseThrow().host());
    }

    @Test
    void agentConfigListsProxyProblemsWithTheOthers(@TempDir Path dir) throws Exception {
        Map<String, String> vars = agentVars(dir);
        vars.put("NC_TRUST_ENV", "true");
        vars.put("HTTPS_PROXY", "socks5://user:secret@proxy.corp:1080");
        vars.put("http_proxy", "http://user:se@cret@proxy.corp:3128");
        vars.put("NO_PROXY", "10.0.0.0/40");
        vars.put("NC_PING_INTERVAL_SEC", "0");
        ConfigException e = assertThrows(ConfigException.class,
                                         () -> AgentConfig.create(ConfigLoader.fromMaps(vars, Map.of())));
        List<String> problems = e.problems();
        assertEquals(4, problems.size(), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("HTTPS_PROXY")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("http_proxy")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("NO_PROXY")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("NC_PING_INTERVAL_SEC")), problems.toString());
        assertFalse(problems.toString().contains("secret") || problems.toString().contains("cret@"), problems.toString());

        // without NC_TRUST_ENV the same variables are not even read
        vars.remove("NC_TRUST_ENV");
        vars.remove("NC_PING_INTERVAL_SEC");
        assertSame(ProxySettings.NONE, AgentConfig.create(ConfigLoader.fromMaps(vars, Map.of())).proxy());
    }

    private static ProxySettings.Server server(String url) {
        return ProxySettings.fromMap(Map.of("HTTPS_PROXY", url)).https().orElseThrow();
    }

    private static Map<String, String> agentVars(Path dir) throws Exception {
        Path token = Files.writeString(dir.resolve("token"), "x.y.z\n");
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_AGENT_URL", "wss://hub.example.com/tunnel");
        vars.put("NC_AGENT_ID", "premise-01");
        vars.put("NC_TOKEN_FILE", token.toString());
        vars.put("NC_CONNECTORS", "ldap");
        vars.put("NC_TARGET_ldap_HOST", "127.0.0.1");
        vars.put("NC_TARGET_ldap_PORT", "389");
        return vars;
    }
}
