package io.nowconnect.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Validation of the agent's variables: defaults, every problem at once, env file merging. */
@Timeout(60)
class AgentConfigTest {
    @TempDir
    Path dir;

    private static Map<String, String> minimal() {
        Map<String, String> env = new HashMap<>();
        env.put("NC_AGENT_URL", "wss://hub.example.com/tunnel");
        env.put("NC_AGENT_ID", "premise-01");
        env.put("NC_CONNECTORS", "ldap, db");
        env.put("NC_TARGET_ldap_HOST", "127.0.0.1");
        env.put("NC_TARGET_ldap_PORT", "389");
        env.put("NC_TARGET_DB_HOST", "db.local");
        env.put("NC_TARGET_DB_PORT", "5432");
        return env;
    }

    private static AgentConfig create(Map<String, String> env) {
        return AgentConfig.create(ConfigLoader.fromMaps(env, Map.of()));
    }

    @Test
    void defaultsMatchTheDocumentation() {
        AgentConfig c = create(minimal());
        assertEquals(List.of("ldap", "db"), c.connectorNames());
        assertEquals(new Target("127.0.0.1", 389), c.connectors().get("ldap"));
        assertEquals(new Target("db.local", 5432), c.connectors().get("db"), "the upper-cased name is accepted");
        assertEquals("0.0.0.0", c.healthHost());
        assertEquals(8090, c.healthPort());
        assertEquals(Optional.empty(), c.httpPort());
        assertEquals(8192, c.maxWsPayload());
        assertEquals(Duration.ofSeconds(20), c.pingInterval());
        assertEquals(Duration.ofSeconds(20), c.pingTimeout());
        assertEquals(Duration.ofMillis(3000), c.connectTimeout());
        assertEquals(Duration.ofMillis(60000), c.idleTimeout());
        assertEquals(100, c.queueDepth());
        assertEquals(2000, c.maxInflight());
        assertEquals(Duration.ofMillis(500), c.reconnectMin());
        assertEquals(Duration.ofMillis(30000), c.reconnectMax());
        assertEquals(Duration.ofSeconds(30), c.drainTimeout());
        assertEquals(0, c.streamSendBuffer(), "the kernel sizes the target sockets' send buffers");
        assertFalse(c.trustEnv());
        assertFalse(c.allowInsecure());
        assertFalse(c.log().json());
        assertEquals(java.util.logging.Level.INFO, c.log().level());
    }

    @Test
    void everyProblemIsReportedTogetherEachNamingItsVariable() {
        Map<String, String> env = new HashMap<>();
        env.put("NC_CONNECTORS", "ldap,bad name");
        env.put("NC_TARGET_ldap_PORT", "99999");
        env.put("NC_HEALTH_PORT", "http");
        env.put("NC_LOG_LEVEL", "LOUD");
        env.put("NC_LOG_FORMAT", "xml");
        env.put("NC_TOKEN_FILE", dir.resolve("missing.token").toString());
        env.put("NC_TRUST_ENV", "maybe");
        ConfigException e = assertThrows(ConfigException.class, () -> create(env));
        String all = String.join("\n", e.problems());
        for (String name : List.of("NC_AGENT_URL", "NC_AGENT_ID", "NC_TARGET_ldap_HOST", "NC_TARGET_ldap_PORT",
                                   "NC_HEALTH_PORT", "NC_LOG_LEVEL", "NC_LOG_FORMAT", "NC_TOKEN_FILE", "NC_TRUST_ENV",
                                   "NC_CONNECTORS")) {
            assertTrue(all.contains(name), name + " not named in:\n" + all);
        }
        assertTrue(e.problems().size() >= 10, all);
    }

    @Test
    void plainWebSocketOnlyToLoopbackUnlessAllowed() {
        Map<String, String> env = minimal();
        env.put("NC_AGENT_URL", "ws://hub.example.com/tunnel");
        ConfigException e = assertThrows(ConfigException.class, () -> create(env));
        assertTrue(e.problems().getFirst().contains("NC_AGENT_URL"), e.getMessage());
        env.put("NC_ALLOW_INSECURE", "true");
        assertEquals("ws", create(env).url().getScheme());
        env.remove("NC_ALLOW_INSECURE");
        for (String loopback : List.of("ws://127.0.0.1:8765/tunnel", "ws://localhost/tunnel", "ws://[::1]:1/tunnel")) {
            env.put("NC_AGENT_URL", loopback);
            assertEquals(loopback, create(env).url().toString());
        }
        env.put("NC_AGENT_URL", "https://hub.example.com/tunnel");
        assertThrows(ConfigException.class, () -> create(env));
    }

    @Test
    void connectorWithoutTargetAndBadBundleAreConfigErrors() throws Exception {
        Map<String, String> env = minimal();
        env.put("NC_CONNECTORS", "ldap,db,ssh");
        Path bundle = Files.writeString(dir.resolve("ca.pem"), "not a certificate");
        env.put("NC_CA_BUNDLE", bundle.toString());
        env.put("NC_CLIENT_CERT", bundle.toString());
        ConfigException e = assertThrows(ConfigException.class, () -> create(env));
        String all = String.join("\n", e.problems());
        assertTrue(all.contains("NC_TARGET_ssh_HOST") && all.contains("NC_TARGET_ssh_PORT"), all);
        assertTrue(all.contains("NC_CA_BUNDLE"), all);
        assertTrue(all.contains("NC_CLIENT_CERT and NC_CLIENT_KEY must be set together"), all);
    }

    @Test
    void theEnvironmentWinsOverTheEnvFile() throws Exception {
        Path file = Files.writeString(dir.resolve("agent.env"), """
                # comment
                export NC_AGENT_URL="wss://from-file.example.com/tunnel"
                NC_AGENT_ID='file-agent'
                NC_CONNECTORS=ldap
                NC_TARGET_ldap_HOST=10.0.0.5  # inline comment
                NC_TARGET_ldap_PORT=636
                NC_LOG_FORMAT=json
                """);
        Map<String, String> env = Map.of("NC_AGENT_ID", "env-agent");
        AgentConfig c = AgentConfig.create(ConfigLoader.load(env, Optional.of(file)));
        assertEquals("env-agent", c.agentId());
        assertEquals("wss://from-file.example.com/tunnel", c.url().toString());
        assertEquals(new Target("10.0.0.5", 636), c.connectors().get("ldap"));
        assertTrue(c.log().json());
    }

    @Test
    void envFileSyntaxErrorsNameTheirLines() {
        ConfigException e = assertThrows(ConfigException.class,
                                         () -> EnvFile.parse("OK=1\njust text\nBAD KEY=2\nQ=\"open\n", "agent.env"));
        assertEquals(List.of("agent.env:2: expected KEY=VALUE", "agent.env:3: invalid variable name",
                             "agent.env:4: Q: unterminated quote"), e.problems());
        assertEquals(Map.of("A", "x=y", "B", "", "C", "line\nbreak", "D", "#notacomment"),
                     EnvFile.parse("A=x=y\nB=\nC=\"line\\nbreak\"\nD=#notacomment\n", "t"));
    }

    @Test
    void streamSendBufferIsKibibytesOrTheKernelsOwn() {
        Map<String, String> env = minimal();
        env.put("NC_STREAM_SNDBUF_KB", "64");
        assertEquals(64 * 1024, create(env).streamSendBuffer());
        env.put("NC_STREAM_SNDBUF_KB", "0");
        assertEquals(0, create(env).streamSendBuffer());
        for (String bad : List.of("2", "16385", "-1", "big")) {
            env.put("NC_STREAM_SNDBUF_KB", bad);
            ConfigException e = assertThrows(ConfigException.class, () -> create(env), bad);
            assertTrue(e.problems().stream().anyMatch(p -> p.contains("NC_STREAM_SNDBUF_KB")), e.getMessage());
        }
        // a new value applies to the streams of the next tunnel, without a restart
        Map<String, String> changed = minimal();
        changed.put("NC_STREAM_SNDBUF_KB", "32");
        AgentConfig a = create(minimal());
        AgentConfig b = create(changed);
        assertTrue(a.liveSettingsDiffer(b));
        assertEquals(List.of(), a.restartNeeded(b));
        assertEquals(32 * 1024, a.withLiveSettingsOf(b).streamSendBuffer());
    }

    @Test
    void liveSettingsAndRestartNeededVariables() {
        AgentConfig a = create(minimal());
        Map<String, String> changed = minimal();
        changed.put("NC_CONNECTORS", "ldap");
        changed.put("NC_HEALTH_PORT", "9000");
        AgentConfig b = create(changed);
        assertTrue(a.liveSettingsDiffer(b));
        assertEquals(List.of("NC_HEALTH_PORT"), a.restartNeeded(b));
        AgentConfig moved = a.withLiveSettingsOf(b);
        assertEquals(List.of("ldap"), moved.connectorNames());
        assertEquals(8090, moved.healthPort(), "restart-only settings stay as they are");
    }

    @Test
    void envFileWithAByteOrderMarkReadsItsFirstVariable() {
        assertEquals(Map.of("NC_AGENT_ID", "premise-01", "NC_LOG_LEVEL", "DEBUG"),
                     EnvFile.parse("\uFEFFNC_AGENT_ID=premise-01\r\nNC_LOG_LEVEL=DEBUG\r\n", "bom.env"));
    }
}
