package io.nowconnect.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.is;

/** etc/nowconnect.env.example against the code, and every deployment file against the example. */
@Timeout(60)
class EnvExampleTest {
    /** Commented lines that show an example value, not the default. */
    private static final Set<String> EXAMPLE_VALUES = Set.of(
            "NC_TARGET_db_HOST", "NC_TARGET_db_PORT", "NC_CA_BUNDLE", "NC_CLIENT_CERT", "NC_CLIENT_KEY", "NC_HTTP_PORT",
            "NC_ENV_FILE", "NC_HUB_TLS_CERT", "NC_HUB_TLS_KEY", "NC_HUB_TLS_CLIENT_CA", "NC_HUB_JWT_SECRET_FILE",
            "NC_HUB_JWKS_FILE", "NC_HUB_LISTENERS", "NC_HUB_ALLOW_CIDRS", "NC_HUB_ISSUER", "NC_MEMORY_BUDGET_MB",
            "NC_HUB_MEMORY_BUDGET_MB", "NC_HUB_REPLICA_ID", "NC_HUB_REPLICAS", "NC_HUB_ADMIN_HOST", "NC_HUB_ADMIN_PORT",
            "NC_HUB_REVOKED_FILE", "NC_ACCESS_LOG_FILE", "NC_HUB_MAX_CONNECTIONS_PER_CONNECTOR",
            "NC_HUB_ADMIN_TOKEN_FILE", "NC_HUB_JWKS_URL", "NC_HUB_JWKS_CA_BUNDLE", "NC_HUB_PDP_URL", "NC_HUB_PDP_CA_BUNDLE");

    /** Files an operator copies; every NC_* variable they name must be documented in the example. */
    private static final List<String> DEPLOY_FILES = List.of(
            "Dockerfile", "docker-compose.yml", "docker-compose.demo.yml", "src/dist/bin/nowconnect",
            "src/dist/bin/nowconnect.cmd");

    @TempDir
    Path tmp;

    @Test
    void everyVariableInTheDeploymentFilesIsDocumented() {
        Set<String> documented = ProjectFiles.documentedVariables();
        Set<String> missing = new TreeSet<>();
        List<Path> files = new java.util.ArrayList<>();
        DEPLOY_FILES.forEach(f -> files.add(ProjectFiles.ROOT.resolve(f)));
        files.addAll(ProjectFiles.list("deploy", ""));
        for (Path f : files) {
            for (String v : ProjectFiles.ncVariables(ProjectFiles.read(f))) {
                if (!documented.contains(v)) {
                    missing.add(v + " (" + ProjectFiles.ROOT.relativize(f) + ")");
                }
            }
        }
        assertThat("variables used in deployment files but not in etc/nowconnect.env.example", missing, is(empty()));
    }

    @Test
    void everyVariableTheCodeReadsIsDocumented() {
        Set<String> missing = new TreeSet<>(ProjectFiles.variablesReadByCode());
        missing.removeAll(ProjectFiles.documentedVariables());
        assertThat("variables read by src/main/java but not in etc/nowconnect.env.example", missing, is(empty()));
    }

    @Test
    void everyDocumentedVariableIsReadByTheCode() {
        Set<String> code = ProjectFiles.variablesReadByCode();
        Set<String> unknown = new TreeSet<>();
        for (String v : ProjectFiles.documentedVariables()) {
            boolean read = v.startsWith("NC_TARGET_<name>_") ? code.contains("NC_TARGET") || codeBuildsTargetNames()
                    : code.contains(v);
            if (!read) {
                unknown.add(v);
            }
        }
        assertThat("variables documented in etc/nowconnect.env.example that no code reads", unknown, is(empty()));
    }

    @Test
    void exampleIsAValidAgentConfiguration() throws IOException {
        Map<String, String> example = ProjectFiles.envExample();
        AgentConfig config = AgentConfig.create(ConfigLoader.fromMaps(Map.of("NC_TOKEN_FILE", token()), example));
        assertThat(config.connectorNames(), equalTo(List.of("ldap")));
        assertThat("compose and the Dockerfile mount the token here", example.get("NC_TOKEN_FILE"), is("/secrets/token"));
    }

    @Test
    void commentedAgentValuesAreTheCodeDefaults() throws IOException {
        Map<String, String> example = ProjectFiles.envExample();
        Map<String, String> withDefaults = new HashMap<>(example);
        ProjectFiles.commentedVariables().forEach((name, value) -> {
            if (!EXAMPLE_VALUES.contains(name) && !name.startsWith("NC_HUB_")) {
                withDefaults.put(name, value);
            }
        });
        Map<String, String> token = Map.of("NC_TOKEN_FILE", token());
        AgentConfig implicit = AgentConfig.create(ConfigLoader.fromMaps(token, example));
        AgentConfig explicit = AgentConfig.create(ConfigLoader.fromMaps(token, withDefaults));
        assertThat("a '#NC_X=value' line in the env example differs from the agent's default", explicit, equalTo(implicit));
    }

    @Test
    void commentedHubValuesAreTheCodeDefaults() throws IOException {
        Map<String, String> base = Map.of("NC_HUB_JWT_SECRET_FILE", secret());
        Map<String, String> withDefaults = new HashMap<>(base);
        ProjectFiles.commentedVariables().forEach((name, value) -> {
            if (name.startsWith("NC_HUB_") && !EXAMPLE_VALUES.contains(name)) {
                withDefaults.put(name, value);
            }
        });
        HubConfig implicit = HubConfig.create(ConfigLoader.fromMaps(base, Map.of()));
        HubConfig explicit = HubConfig.create(ConfigLoader.fromMaps(withDefaults, Map.of()));
        assertThat("a '#NC_HUB_X=value' line in the env example differs from the hub's default", explicit, equalTo(implicit));
    }

    @Test
    void documentedExampleValuesParse() throws IOException {
        // the example listeners value as written in the example file must be accepted by the hub
        Map<String, String> hub = new HashMap<>(Map.of("NC_HUB_JWT_SECRET_FILE", secret()));
        hub.put("NC_HUB_LISTENERS", ProjectFiles.commentedVariables().get("NC_HUB_LISTENERS"));
        hub.put("NC_HUB_ALLOW_CIDRS", ProjectFiles.commentedVariables().get("NC_HUB_ALLOW_CIDRS"));
        assertThat(HubConfig.create(ConfigLoader.fromMaps(hub, Map.of())).listeners().keySet(),
                   equalTo(Set.of("ldap", "db")));
    }

    private static boolean codeBuildsTargetNames() {
        return ProjectFiles.read("src/main/java/io/nowconnect/config/AgentConfig.java").contains("\"NC_TARGET_\"");
    }

    /** An HS256 secret file the hub accepts (at least 32 bytes). */
    private String secret() throws IOException {
        Path file = tmp.resolve("hub.secret");
        if (!Files.exists(file)) {
            Files.writeString(file, "env-example-test-secret-0123456789abcdef\n");
        }
        return file.toString();
    }

    private String token() throws IOException {
        Path file = tmp.resolve("token");
        if (!Files.exists(file)) {
            Files.writeString(file, "header.payload.signature\n");
        }
        return file.toString();
    }
}
