package io.nowconnect.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.is;

/** Dockerfile, .dockerignore and the compose files against the env example and the configuration parsers. */
@Timeout(60)
class ContainerFilesTest {
    @TempDir
    Path tmp;

    @Test
    void dockerfile() throws IOException {
        String d = ProjectFiles.read("Dockerfile");
        assertThat(d, containsString("FROM maven:3-eclipse-temurin-21 AS build"));
        assertThat(d, containsString("mvn -B -DskipTests package"));
        assertThat(d, containsString("FROM eclipse-temurin:21-jre"));
        assertThat(d, containsString("\nUSER 10001:10001"));
        assertThat(d, containsString("ENTRYPOINT [\"/opt/nowconnect/bin/nowconnect\"]"));
        assertThat(d, containsString("CMD [\"agent\"]"));
        assertThat(d, containsString("STOPSIGNAL SIGTERM"));
        int healthPort = agentDefaults().healthPort();
        assertThat(d, containsString("\nEXPOSE " + healthPort));
        assertThat(d, containsString("/dev/tcp/127.0.0.1/${NC_HEALTH_PORT:-" + healthPort + "}"));
        String ignore = ProjectFiles.read(".dockerignore");
        assertThat(ignore, containsString("\ntarget\n"));
        assertThat(ignore, containsString(".git\n"));
    }

    @Test
    void composeAgentAsInTheSeedReadme() {
        Map<String, Object> agent = ProjectFiles.at(ProjectFiles.yaml("docker-compose.yml"), "services", "nowconnect-agent");
        assertThat(agent.get("network_mode"), is("host"));
        assertThat(agent.get("restart"), is("always"));
        assertThat(ProjectFiles.at(agent, "env_file"), equalTo(List.of("nowconnect.env")));
        String tokenInContainer = ProjectFiles.envExample().get("NC_TOKEN_FILE");
        List<String> volumes = ProjectFiles.at(agent, "volumes");
        assertThat(volumes, hasItem("./secrets/agent.token:" + tokenInContainer + ":ro"));
        assertThat(agent.get("image"), is("nowconnect-premise:" + ProjectFiles.projectVersion()));
        assertThat(graceSeconds(agent) > 30, is(true));
    }

    @Test
    void demoComposeIsConsistent() throws IOException {
        Map<String, Object> services = ProjectFiles.at(ProjectFiles.yaml("docker-compose.demo.yml"), "services");
        Map<String, String> hubEnv = env(ProjectFiles.at(services, "hub", "environment"));
        Map<String, String> agentEnv = env(ProjectFiles.at(services, "agent", "environment"));
        Path secret = Files.writeString(tmp.resolve("secret"), "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t");

        Map<String, String> hubVars = new HashMap<>(hubEnv);
        hubVars.put("NC_HUB_JWT_SECRET_FILE", secret.toString());
        HubConfig hub = HubConfig.create(ConfigLoader.fromMaps(hubVars, Map.of()));
        Map<String, String> agentVars = new HashMap<>(agentEnv);
        agentVars.put("NC_TOKEN_FILE", secret.toString());
        AgentConfig agent = AgentConfig.create(ConfigLoader.fromMaps(agentVars, Map.of()));

        assertThat(agent.url().getHost(), is("hub"));
        assertThat(agent.url().getPort(), is(hub.port()));
        assertThat(agent.connectorNames(), equalTo(List.copyOf(hub.listeners().keySet())));
        for (String connector : agent.connectorNames()) {
            assertThat("target service exists", services.containsKey(agent.connectors().get(connector).host()), is(true));
        }
        String token = String.join("\n", ProjectFiles.<List<String>>at(services, "token", "command"));
        assertThat(token, containsString("--agent-id " + agent.agentId()));
        assertThat(token, containsString("--secret-file " + hubEnv.get("NC_HUB_JWT_SECRET_FILE")));
        assertThat(token, containsString("> " + agentEnv.get("NC_TOKEN_FILE")));
    }

    private AgentConfig agentDefaults() throws IOException {
        Path token = Files.writeString(tmp.resolve("token"), "a.b.c");
        return AgentConfig.create(ConfigLoader.fromMaps(Map.of("NC_TOKEN_FILE", token.toString()), ProjectFiles.envExample()));
    }

    private static Map<String, String> env(Map<String, Object> yaml) {
        Map<String, String> result = new HashMap<>();
        yaml.forEach((k, v) -> result.put(k, String.valueOf(v)));
        return result;
    }

    private static int graceSeconds(Map<String, Object> service) {
        String g = String.valueOf(service.get("stop_grace_period"));
        return Integer.parseInt(g.replace("s", ""));
    }
}
