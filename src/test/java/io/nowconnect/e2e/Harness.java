package io.nowconnect.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import io.nowconnect.Agent;
import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.hub.auth.TokenMinter;

/**
 * Real parts on loopback for end-to-end tests: the project's hub with a fresh HS256 secret, tokens minted for it,
 * agents configured through the same variables operators use, and an echo target. Closes everything it started.
 */
public final class Harness implements AutoCloseable {
    public static final String AGENT_ID = "premise-01";

    static {
        // tests log like the product does; NC_TEST_LOG_LEVEL=DEBUG shows per-stream events
        io.nowconnect.log.Logging.configure(io.nowconnect.config.LogSettings.create(
                ConfigLoader.fromMaps(Map.of("NC_LOG_LEVEL", System.getenv().getOrDefault("NC_TEST_LOG_LEVEL", "INFO")),
                                      Map.of())));
    }

    private final Path dir;
    private final Path secret;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<Agent> agents = new ArrayList<>();
    private int tokens;

    private Harness(Path dir) throws IOException {
        this.dir = dir;
        this.secret = dir.resolve("hub.secret");
        Files.writeString(secret, "test-secret-" + System.nanoTime() + "-0123456789abcdef\n");
    }

    /**
     * Create a harness writing its files to a test's temporary directory.
     *
     * @param dir temp dir
     * @return harness
     */
    public static Harness create(Path dir) {
        try {
            return new Harness(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path dir() {
        return dir;
    }

    public Path secret() {
        return secret;
    }

    /** Start a hub on a free port with a loopback listener (free port) for each connector. */
    public Hub startHub(String... connectors) {
        return startHub(0, Map.of(), connectors);
    }

    /** Start a hub on the given port (0 = free) with extra variables. */
    public Hub startHub(int port, Map<String, String> extra, String... connectors) {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_HUB_HOST", "127.0.0.1");
        vars.put("NC_HUB_PORT", Integer.toString(port));
        vars.put("NC_HUB_JWT_SECRET_FILE", secret.toString());
        vars.put("NC_HUB_PING_INTERVAL_SEC", "1");
        vars.put("NC_HUB_PING_TIMEOUT_SEC", "3");
        vars.put("NC_HUB_LISTENERS", List.of(connectors).stream().map(c -> c + "=127.0.0.1:0")
                .collect(Collectors.joining(",")));
        vars.putAll(extra);
        Hub hub = Hub.start(HubConfig.create(ConfigLoader.fromMaps(vars, Map.of())));
        closeables.add(hub);
        return hub;
    }

    /** Mint a token for the agent id and write it to a new file. */
    public Path tokenFile(String agentId, Duration ttl) {
        String token = TokenMinter.mintHs256(TokenMinter.readSecret(secret), agentId, ttl, "nowconnect");
        Path file = dir.resolve("agent-" + (++tokens) + ".token");
        try {
            Files.writeString(file, token + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** Variables of an agent connected to the hub, exporting the given connector targets; fast pings and back-off. */
    public Map<String, String> agentVars(int hubPort, Map<String, Integer> targets) {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_AGENT_URL", "ws://127.0.0.1:" + hubPort + "/tunnel");
        vars.put("NC_AGENT_ID", AGENT_ID);
        vars.put("NC_TOKEN_FILE", tokenFile(AGENT_ID, Duration.ofHours(1)).toString());
        vars.put("NC_CONNECTORS", String.join(",", targets.keySet()));
        targets.forEach((name, port) -> {
            vars.put("NC_TARGET_" + name + "_HOST", "127.0.0.1");
            vars.put("NC_TARGET_" + name + "_PORT", Integer.toString(port));
        });
        vars.put("NC_HEALTH_HOST", "127.0.0.1");
        vars.put("NC_HEALTH_PORT", "0");
        vars.put("NC_PING_INTERVAL_SEC", "1");
        vars.put("NC_PING_TIMEOUT_SEC", "3");
        vars.put("NC_RECONNECT_MIN_MS", "100");
        vars.put("NC_RECONNECT_MAX_MS", "1000");
        vars.put("NC_CONNECT_TIMEOUT_MS", "2000");
        return vars;
    }

    /** Start an agent from variables; it is stopped (1 s drain) by {@link #close()}. */
    public Agent startAgent(Map<String, String> vars) {
        Agent agent = Agent.start(AgentConfig.create(ConfigLoader.fromMaps(vars, Map.of())));
        agents.add(agent);
        return agent;
    }

    /** Start an agent configured by an env file only (watched, as {@code --env-file} does). */
    public Agent startAgent(Map<String, String> ignoredEnv, Path envFile) {
        Agent agent = Agent.start(AgentConfig.create(ConfigLoader.load(Map.of(), java.util.Optional.of(envFile))));
        agent.watchEnvFile(envFile, Map.of());
        agents.add(agent);
        return agent;
    }

    /** Stream results counted so far by agents and hubs of this JVM ({@code name{result}} to count), for diagnostics. */
    public static Map<String, Double> streamResults() {
        Map<String, Double> out = new java.util.TreeMap<>();
        for (io.helidon.metrics.api.Meter m : io.helidon.metrics.api.Metrics.globalRegistry().meters()) {
            String name = m.id().name();
            if ((name.equals("nowconnect_streams_total") || name.equals("nowconnect_hub_streams_total"))
                    && m instanceof io.helidon.metrics.api.Counter c) {
                String result = m.id().tags().iterator().hasNext() ? m.id().tagsMap().getOrDefault("result", "?") : "?";
                out.merge(name + "{" + result + "}", (double) c.count(), Double::sum);
            }
        }
        return out;
    }

    /** Start an echo target. */
    public EchoServer echo() {
        try {
            EchoServer echo = EchoServer.start();
            closeables.add(echo);
            return echo;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Wait until the agent's tunnel is ready. */
    public static void awaitReady(Agent agent, Duration timeout) {
        await(timeout, () -> agent.status().snapshot().ready(), "agent tunnel ready");
    }

    /** Poll a condition every 10 ms. */
    public static void await(Duration timeout, BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for: " + what);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for: " + what);
            }
        }
    }

    /** One line from the agent's TCP health port. */
    public static String health(int port) {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(2000);
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A port that was free a moment ago. */
    public static int freePort() {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Connect a client to a hub listener. */
    public static Socket client(int port) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2000);
        // generous: a loaded 2-core machine moves many parallel streams slowly; a hang still fails the test
        s.setSoTimeout(60_000);
        return s;
    }

    /** Write everything and half-close. */
    public static void sendAndFinish(Socket s, byte[] data) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(data);
        out.flush();
        s.shutdownOutput();
    }

    /** Read until EOF. */
    public static byte[] readAll(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        return in.readAllBytes();
    }

    /** Stop every agent and server this harness started. */
    @Override
    public void close() {
        for (Agent a : agents) {
            a.stop(Duration.ofSeconds(1));
        }
        for (int i = closeables.size() - 1; i >= 0; i--) {
            try {
                closeables.get(i).close();
            } catch (Exception ignored) {
                // best effort
            }
        }
    }
}
