package io.nowconnect.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The hub's authorization settings and key checks, validated with every other setting. */
@Timeout(60)
class HubConfigTest {
    private static final String SECRET = "hub-config-test-secret-0123456789abcdef";

    @TempDir
    Path dir;

    private HubConfig create(Map<String, String> vars) {
        return HubConfig.create(ConfigLoader.fromMaps(vars, Map.of()));
    }

    /** The problems a configuration that must fail names, one per line. */
    private String problems(Map<String, String> vars) {
        return String.join("\n", assertThrows(ConfigException.class, () -> create(vars)).problems());
    }

    private Map<String, String> base() throws Exception {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_HUB_JWT_SECRET_FILE", Files.writeString(dir.resolve("hub.secret"), SECRET + "\n").toString());
        return vars;
    }

    @Test
    void authorizationDefaults() throws Exception {
        HubConfig config = create(base());
        assertThat(config.issuer(), is(Optional.empty()));
        assertThat(config.requireConnectorsClaim(), is(true));
        assertThat(config.revokedFile(), is(Optional.empty()));
        assertThat(config.drainTimeout(), is(Duration.ofSeconds(30)));
    }

    @Test
    void authorizationSettingsAreRead() throws Exception {
        Map<String, String> vars = base();
        vars.put("NC_HUB_ISSUER", " https://issuer.example ");
        vars.put("NC_HUB_REQUIRE_CONNECTORS_CLAIM", "false");
        vars.put("NC_HUB_DRAIN_TIMEOUT_SEC", "5");
        Path revoked = Files.writeString(dir.resolve("revoked"), "# leaked\njti-1\npremise-07  # laptop stolen\n");
        vars.put("NC_HUB_REVOKED_FILE", revoked.toString());
        HubConfig config = create(vars);
        assertThat(config.issuer(), is(Optional.of("https://issuer.example")));
        assertThat(config.requireConnectorsClaim(), is(false));
        assertThat(config.revokedFile(), is(Optional.of(revoked)));
        assertThat(config.drainTimeout(), is(Duration.ofSeconds(5)));
    }

    @Test
    void lameDuckIsMillisecondsAndOffByDefault() throws Exception {
        assertThat(create(base()).lameDuck(), is(Duration.ZERO));
        Map<String, String> vars = base();
        vars.put("NC_HUB_LAMEDUCK_MS", "5000");
        assertThat(create(vars).lameDuck(), is(Duration.ofSeconds(5)));
        vars.put("NC_HUB_LAMEDUCK_MS", "-1");
        vars.put("NC_HUB_DRAIN_TIMEOUT_SEC", "soon");
        String problems = problems(vars);
        assertThat(problems, containsString("NC_HUB_LAMEDUCK_MS"));
        assertThat("named with every other problem", problems, containsString("NC_HUB_DRAIN_TIMEOUT_SEC"));
    }

    @Test
    void clientSocketSendBufferIsKibibytesOrTheKernelsOwn() throws Exception {
        assertThat("default: the kernel sizes it", create(base()).streamSendBuffer(), is(0));
        Map<String, String> vars = base();
        vars.put("NC_HUB_STREAM_SNDBUF_KB", "128");
        assertThat(create(vars).streamSendBuffer(), is(128 * 1024));
        vars.put("NC_HUB_STREAM_SNDBUF_KB", "3");
        vars.put("NC_HUB_QUEUE_DEPTH_PER_CID", "0");
        String problems = problems(vars);
        assertThat(problems, containsString("NC_HUB_STREAM_SNDBUF_KB"));
        assertThat("named with every other problem", problems, containsString("NC_HUB_QUEUE_DEPTH_PER_CID"));
    }

    @Test
    void replicasAreReadAndCheckedTogether() throws Exception {
        Map<String, String> vars = base();
        vars.put("NC_HUB_REPLICA_ID", "hub-1");
        vars.put("NC_HUB_REPLICAS", " hub-0, hub-1 ,hub-2,");
        HubConfig config = create(vars);
        assertThat(config.replicaId(), is("hub-1"));
        assertThat(config.replicas(), is(java.util.List.of("hub-0", "hub-1", "hub-2")));
        assertThat("default: the host name's first label, a valid id",
                   HubConfig.validReplicaId(create(base()).replicaId()), is(true));
        assertThat(create(base()).replicas(), is(java.util.List.of()));

        vars.put("NC_HUB_REPLICA_ID", "hub-9");
        vars.put("NC_HUB_REPLICAS", "hub-0,hub-0,bad id");
        ConfigException e = assertThrows(ConfigException.class, () -> create(vars));
        String problems = String.join("\n", e.problems());
        assertThat(problems, containsString("NC_HUB_REPLICAS: \"hub-0\" is listed twice"));
        assertThat(problems, containsString("NC_HUB_REPLICAS: \"bad id\""));
        assertThat(problems, containsString("must include this replica's NC_HUB_REPLICA_ID \"hub-9\""));
        assertThat(e.problems().size(), is(3));
    }

    @Test
    void weakKeysAreListedWithEveryOtherProblem() throws Exception {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_HUB_JWT_SECRET_FILE", Files.writeString(dir.resolve("weak.secret"), "changeme\n").toString());
        vars.put("NC_HUB_REQUIRE_CONNECTORS_CLAIM", "perhaps");
        vars.put("NC_HUB_DRAIN_TIMEOUT_SEC", "-1");
        ConfigException e = assertThrows(ConfigException.class, () -> create(vars));
        String problems = String.join("\n", e.problems());
        assertThat(problems, containsString("NC_HUB_JWT_SECRET_FILE"));
        assertThat(problems, containsString("8-byte secret; HS256 needs at least 32 bytes"));
        assertThat(problems, containsString("NC_HUB_REQUIRE_CONNECTORS_CLAIM"));
        assertThat(problems, containsString("NC_HUB_DRAIN_TIMEOUT_SEC"));
        assertThat("the secret is never printed", problems, not(containsString("changeme")));
        assertThat(e.problems().size(), is(3));
    }

    @Test
    void missingSecretFileIsReportedOnce() {
        ConfigException e = assertThrows(ConfigException.class,
                                         () -> create(Map.of("NC_HUB_JWT_SECRET_FILE", dir.resolve("none").toString())));
        assertThat(e.problems().toString(), e.problems().size(), is(1));
    }
    @Test
    void admissionLimitsHaveDefaultsAndAreValidated() throws Exception {
        HubConfig defaults = create(base());
        assertThat(defaults.maxTunnelsPerAgent(), is(4));
        assertThat(defaults.maxTcpConnections(), is(HubConfig.DEFAULT_MAX_TUNNELS + 1000));
        assertThat(defaults.requestTimeout().toSeconds(), is(5L));
        assertThat(defaults.tlsHandshakeTimeout().toSeconds(), is(5L));
        Map<String, String> raised = new HashMap<>(base());
        raised.put("NC_HUB_MAX_TUNNELS", "50000");
        assertThat("the connection cap follows the tunnel cap", create(raised).maxTcpConnections(), is(51_000));

        Map<String, String> vars = new HashMap<>(base());
        vars.put("NC_HUB_MAX_TUNNELS", "100");
        vars.put("NC_HUB_MAX_TCP_CONNECTIONS", "100");
        vars.put("NC_HUB_REQUEST_TIMEOUT_SEC", "0");
        vars.put("NC_HUB_MAX_TUNNELS_PER_AGENT", "zero");
        vars.put("NC_HUB_TLS_HANDSHAKE_TIMEOUT_SEC", "301");
        vars.put("NC_HUB_TLS_BIND_AGENT_ID", "true");
        ConfigException e = assertThrows(ConfigException.class, () -> create(vars));
        String problems = String.join("\n", e.problems());
        assertThat(problems, containsString("NC_HUB_MAX_TCP_CONNECTIONS (100) must be above NC_HUB_MAX_TUNNELS (100)"));
        assertThat(problems, containsString("NC_HUB_REQUEST_TIMEOUT_SEC"));
        assertThat(problems, containsString("NC_HUB_MAX_TUNNELS_PER_AGENT"));
        assertThat(problems, containsString("NC_HUB_TLS_HANDSHAKE_TIMEOUT_SEC"));
        assertThat(problems, containsString("NC_HUB_TLS_BIND_AGENT_ID needs client certificates"));
        assertThat(e.problems().toString(), e.problems().size(), is(5));
    }
}
