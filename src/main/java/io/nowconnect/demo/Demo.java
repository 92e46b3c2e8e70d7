package io.nowconnect.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import io.helidon.config.Config;

import io.nowconnect.Agent;
import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigException;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;
import io.nowconnect.hub.Hub;
import io.nowconnect.hub.auth.TokenMinter;

/**
 * Hub, agent and (by default) an echo service in one process on loopback, the agent holding a token scoped to its
 * connectors and the hub requiring such tokens. Connectors come from
 * {@code NC_CONNECTORS}/{@code NC_TARGET_*} when set; each gets a hub listener on {@code NC_DEMO_BASE_PORT} (15001)
 * and up, or a free port when that one is taken.
 */
public final class Demo implements AutoCloseable {
    private static final String AGENT_ID = "demo-agent";

    private final Hub hub;
    private final Agent agent;
    private final EchoServer echo;
    private final Path workDir;

    private Demo(Hub hub, Agent agent, EchoServer echo, Path workDir) {
        this.hub = hub;
        this.agent = agent;
        this.echo = echo;
        this.workDir = workDir;
    }

    /**
     * Start the demo and wait until the agent's tunnel is ready.
     *
     * @param env environment (and env file) variables
     * @param out where the connection instructions go
     * @return the running demo
     * @throws io.nowconnect.config.ConfigException on invalid connector settings
     */
    public static Demo start(Map<String, String> env, PrintStream out) {
        long start = System.nanoTime();
        int base = basePort(env.getOrDefault("NC_DEMO_BASE_PORT", "15001"));
        Path dir;
        EchoServer echo = null;
        try {
            dir = Files.createTempDirectory("nowconnect-demo");
            byte[] raw = new byte[32];
            new SecureRandom().nextBytes(raw);
            Path secret = writePrivate(dir.resolve("hub.secret"), Base64.getEncoder().encodeToString(raw));
            Map<String, String> agentVars = new HashMap<>();
            String connectors = env.getOrDefault("NC_CONNECTORS", "").strip();
            if (connectors.isEmpty()) {
                echo = EchoServer.start();
                connectors = "echo";
                agentVars.put("NC_TARGET_echo_HOST", "127.0.0.1");
                agentVars.put("NC_TARGET_echo_PORT", Integer.toString(echo.port()));
            }
            List<String> names = List.of(connectors.split(",")).stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
            // a scoped token, as the hub requires by default: it routes only these connectors to the agent
            String token = TokenMinter.mintHs256(TokenMinter.readSecret(secret), AGENT_ID, Duration.ofDays(1), "nowconnect",
                                                 names, Optional.empty());
            Path tokenFile = writePrivate(dir.resolve("agent.token"), token);

            Map<String, String> hubVars = new HashMap<>();
            hubVars.put("NC_HUB_HOST", "127.0.0.1");
            hubVars.put("NC_HUB_PORT", "0");
            hubVars.put("NC_HUB_JWT_SECRET_FILE", secret.toString());
            hubVars.put("NC_HUB_LISTENERS", listeners(names, base));
            Hub hub = startHub(hubVars, env, names);

            agentVars.put("NC_AGENT_URL", "ws://127.0.0.1:" + hub.port() + "/tunnel");
            agentVars.put("NC_AGENT_ID", AGENT_ID);
            agentVars.put("NC_TOKEN_FILE", tokenFile.toString());
            agentVars.put("NC_CONNECTORS", connectors);
            agentVars.putIfAbsent("NC_HEALTH_HOST", "127.0.0.1");
            agentVars.put("NC_HEALTH_PORT", env.getOrDefault("NC_HEALTH_PORT", "0"));
            Config agentConfig = ConfigLoader.fromMaps(agentVars, env);
            Agent agent = Agent.start(AgentConfig.create(agentConfig));
            Demo demo = new Demo(hub, agent, echo, dir);
            if (!demo.awaitReady(Duration.ofSeconds(15))) {
                out.println("nowconnect demo: the agent did not connect within 15 s (see the log above)");
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            out.println("NowConnect demo ready in " + ms + " ms: hub ws://127.0.0.1:" + hub.port()
                                + "/tunnel, agent health port " + agent.healthPort());
            for (Map.Entry<String, Integer> e : hub.listenerPorts().entrySet()) {
                out.println("  connector " + e.getKey() + ": nc 127.0.0.1 " + e.getValue());
            }
            out.println("Press Ctrl-C to stop.");
            out.flush();
            return demo;
        } catch (IOException e) {
            if (echo != null) {
                echo.close();
            }
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Wait for the agent's tunnel.
     *
     * @param timeout how long
     * @return whether it is ready
     */
    public boolean awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!agent.status().snapshot().ready()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /**
     * Hub listener port of each connector.
     *
     * @return connector to port
     */
    public Map<String, Integer> ports() {
        return new LinkedHashMap<>(hub.listenerPorts());
    }

    @Override
    public void close() {
        agent.stop(Duration.ofSeconds(5));
        hub.close();
        if (echo != null) {
            echo.close();
        }
        try (var files = Files.list(workDir)) {
            for (Path p : files.toList()) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(workDir);
        } catch (IOException ignored) {
            // temp files
        }
    }

    private static Hub startHub(Map<String, String> hubVars, Map<String, String> env, List<String> names) {
        try {
            return Hub.start(HubConfig.create(ConfigLoader.fromMaps(hubVars, env)));
        } catch (io.nowconnect.config.ConfigException e) {
            // a demo port is taken: fall back to free ports
            hubVars.put("NC_HUB_LISTENERS", listeners(names, 0));
            return Hub.start(HubConfig.create(ConfigLoader.fromMaps(hubVars, env)));
        }
    }

    /**
     * Check the demo's own variables before anything starts.
     *
     * @param env the environment
     * @throws ConfigException naming {@code NC_DEMO_BASE_PORT} when it is not a port number
     */
    public static void validate(Map<String, String> env) {
        basePort(env.getOrDefault("NC_DEMO_BASE_PORT", "15001"));
    }

    /** {@code NC_DEMO_BASE_PORT}: 0 (free ports) or 1-65535. */
    private static int basePort(String text) {
        try {
            int port = Integer.parseInt(text.strip());
            if (port >= 0 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigException(List.of("NC_DEMO_BASE_PORT: must be a port number 0-65535 (0 = free ports), got \""
                                                  + text + "\""));
    }

    private static String listeners(List<String> names, int base) {
        return names.stream()
                .map(n -> n + "=127.0.0.1:" + (base == 0 ? 0 : base + names.indexOf(n)))
                .collect(Collectors.joining(","));
    }

    private static Path writePrivate(Path file, String content) throws IOException {
        Files.writeString(file, content + "\n", StandardCharsets.UTF_8);
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system (Windows): the temp directory is private to the user
        }
        return file;
    }
}
