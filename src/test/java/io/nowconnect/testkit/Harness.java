package io.nowconnect.testkit;

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
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import io.nowconnect.Agent;
import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.hub.auth.TokenMinter;
import io.nowconnect.stream.StreamObserver;

/**
 * Real parts on loopback for one test, started on demand: the project's hub with a fresh HS256 secret (see
 * {@link #hub()}), tokens minted for it, agents configured through the same variables operators use (see
 * {@link #agent(int)}), the {@link ScriptedHub}, an echo target and {@link TargetServer}s, all writing their files to
 * the test's own temporary directory. {@link #close()} stops everything it started, deletes the directory, and fails
 * the test when an exception escaped an agent or hub thread ({@code nc-*}) meanwhile.
 *
 * <p>Tests get one from the {@link TestKit} extension as a parameter; {@link #create(Path)} is for code outside JUnit.
 */
public final class Harness implements AutoCloseable {
    /** The agent id of {@link #agentVars} and of {@link RawAgent#hello}. */
    public static final String AGENT_ID = "premise-01";

    static {
        // tests log like the product does; NC_TEST_LOG_LEVEL=DEBUG shows per-stream events
        io.nowconnect.log.Logging.configure(io.nowconnect.config.LogSettings.create(
                ConfigLoader.fromMaps(Map.of("NC_LOG_LEVEL", System.getenv().getOrDefault("NC_TEST_LOG_LEVEL", "INFO")),
                                      Map.of())));
    }

    /**
     * Make sure the test logging is configured (this class's static block, run once per JVM). Its reset removes every
     * handler, so a test that adds a handler to a logger calls this first: otherwise the reset may come later, at the
     * test's first use of this class, and take the handler away (a test class run alone missed its events so).
     */
    public static void configureLogging() {
        // the static block has run by the time this body does
    }

    private final Path dir;
    private final boolean ownsDir;
    private final Path secret;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<Agent> agents = new ArrayList<>();
    /** Connectors of every hub this harness started, in order: what its tokens are scoped to by default. */
    private final java.util.Set<String> hubConnectors = new java.util.concurrent.CopyOnWriteArraySet<>();
    /** Exceptions that escaped an {@code nc-*} thread while this harness was open. */
    private final List<String> escaped = new CopyOnWriteArrayList<>();
    private final Thread.UncaughtExceptionHandler previousHandler;
    private ScriptedHub scriptedHub;
    private Duration agentStopDrain = Duration.ofSeconds(1);
    private int tokens;
    private boolean closed;

    private Harness(Path dir, boolean ownsDir) throws IOException {
        this.dir = dir;
        this.ownsDir = ownsDir;
        this.secret = dir.resolve("hub.secret");
        Files.writeString(secret, "test-secret-" + System.nanoTime() + "-0123456789abcdef\n");
        previousHandler = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            if (t.getName().startsWith("nc-")) {
                escaped.add(t.getName() + ": " + e);
            }
            if (previousHandler != null) {
                previousHandler.uncaughtException(t, e);
            } else {
                e.printStackTrace();
            }
        });
    }

    /**
     * Create a harness writing its files to a directory the caller owns (and deletes).
     *
     * @param dir existing directory
     * @return harness
     */
    public static Harness create(Path dir) {
        try {
            return new Harness(dir, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A harness in a new temporary directory that {@link #close()} deletes (what {@link TestKit} hands out). */
    static Harness createInTempDir() {
        try {
            return new Harness(Files.createTempDirectory("nc-test-"), true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The test's temporary directory (deleted after the test when the harness made it).
     *
     * @return directory
     */
    public Path dir() {
        return dir;
    }

    /**
     * The hub's HS256 secret file.
     *
     * @return file
     */
    public Path secret() {
        return secret;
    }

    /**
     * How long {@link #close()} lets each agent drain when it stops it (default 1 s).
     *
     * @param drain drain time
     * @return this harness
     */
    public Harness agentStopDrain(Duration drain) {
        this.agentStopDrain = drain;
        return this;
    }

    /**
     * A builder for a hub of the project: 127.0.0.1, a free port, this harness's secret, pings every second (3 s
     * timeout); stopped after the test.
     *
     * @return builder
     */
    public HubBuilder hub() {
        return new HubBuilder();
    }

    /** Start a hub on a free port with a loopback listener (free port) for each connector. */
    public Hub startHub(String... connectors) {
        return hub().connectors(connectors).start();
    }

    /** Start a hub on the given port (0 = free) with extra variables. */
    public Hub startHub(int port, Map<String, String> extra, String... connectors) {
        return hub().port(port).env(extra).connectors(connectors).start();
    }

    /**
     * The scripted fake hub of this test, started on first use and closed after the test.
     *
     * @return scripted hub
     */
    public synchronized ScriptedHub scriptedHub() {
        if (scriptedHub == null) {
            scriptedHub = ScriptedHub.start();
            closeables.add(scriptedHub);
        }
        return scriptedHub;
    }

    /**
     * Close something after the test (in reverse order of registration, after the agents stopped).
     *
     * @param closeable what to close
     * @param <T> its type
     * @return the closeable
     */
    public <T extends AutoCloseable> T closeLater(T closeable) {
        closeables.add(closeable);
        return closeable;
    }

    /**
     * A loopback target whose accepted sockets the test reads and writes; closed after the test.
     *
     * @param receiveBuffer receive buffer of accepted sockets (0 = default)
     * @return target
     */
    public TargetServer target(int receiveBuffer) {
        return closeLater(new TargetServer(receiveBuffer));
    }

    /** Builder of a hub; see {@link #hub()}. */
    public final class HubBuilder {
        private final Map<String, String> vars = new HashMap<>();
        private final List<String> connectors = new ArrayList<>();
        private int port;

        private HubBuilder() {
        }

        /**
         * Connectors, each with a listener on a free loopback port ({@link Hub#listenerPorts()}).
         *
         * @param names connector names
         * @return this builder
         */
        public HubBuilder connectors(String... names) {
            connectors.addAll(List.of(names));
            return this;
        }

        /**
         * The hub's port (default 0: a free one).
         *
         * @param port port
         * @return this builder
         */
        public HubBuilder port(int port) {
            this.port = port;
            return this;
        }

        /**
         * Extra {@code NC_HUB_*} variables (they win over the defaults).
         *
         * @param extra variables
         * @return this builder
         */
        public HubBuilder env(Map<String, String> extra) {
            vars.putAll(extra);
            return this;
        }

        /**
         * Start the hub.
         *
         * @return running hub, stopped after the test
         */
        public Hub start() {
            Map<String, String> all = new HashMap<>();
            all.put("NC_HUB_HOST", "127.0.0.1");
            all.put("NC_HUB_PORT", Integer.toString(port));
            all.put("NC_HUB_JWT_SECRET_FILE", secret.toString());
            all.put("NC_HUB_PING_INTERVAL_SEC", "1");
            all.put("NC_HUB_PING_TIMEOUT_SEC", "3");
            all.put("NC_HUB_LISTENERS", connectors.stream().map(c -> c + "=127.0.0.1:0").collect(Collectors.joining(",")));
            // every test client comes from 127.0.0.1: no per-address limit unless a test asks for one
            all.put("NC_HUB_MAX_CONNECTIONS_PER_CLIENT", "1000000");
            all.putAll(vars);
            Hub hub = Hub.start(HubConfig.create(ConfigLoader.fromMaps(all, Map.of())));
            closeables.add(hub);
            hubConnectors.addAll(connectors);
            return hub;
        }
    }

    /**
     * A builder for an agent of the project connected to a hub on this host: {@link #AGENT_ID}, a freshly minted
     * token, fast pings and back-off ({@link #agentVars}); stopped after the test.
     *
     * @param hubPort the hub's port
     * @return builder
     */
    public AgentBuilder agent(int hubPort) {
        return new AgentBuilder(hubPort);
    }

    /** Builder of an agent; see {@link #agent(int)}. */
    public final class AgentBuilder {
        private final int hubPort;
        private final Map<String, Integer> targets = new java.util.LinkedHashMap<>();
        private final Map<String, String> extra = new HashMap<>();
        private StreamObserver observer = StreamObserver.NONE;

        private AgentBuilder(int hubPort) {
            this.hubPort = hubPort;
        }

        /**
         * Export a connector to a loopback target.
         *
         * @param connector connector name
         * @param port target port on 127.0.0.1
         * @return this builder
         */
        public AgentBuilder target(String connector, int port) {
            targets.put(connector, port);
            return this;
        }

        /**
         * Extra {@code NC_*} variables (they win over the defaults).
         *
         * @param vars variables
         * @return this builder
         */
        public AgentBuilder env(Map<String, String> vars) {
            extra.putAll(vars);
            return this;
        }

        /**
         * A stream observer besides the agent's metrics.
         *
         * @param streamObserver observer
         * @return this builder
         */
        public AgentBuilder observer(StreamObserver streamObserver) {
            this.observer = streamObserver;
            return this;
        }

        /**
         * Start the agent (it connects in the background: see {@link Harness#awaitReady}).
         *
         * @return running agent
         */
        public Agent start() {
            Map<String, String> vars = agentVars(hubPort, targets);
            vars.putAll(extra);
            return startAgent(vars, observer);
        }
    }

    /**
     * The connectors of every hub this harness started so far: hubs require a {@code connectors} claim by default, and
     * the tokens of {@link #tokenFile(String, Duration)} are scoped to these.
     *
     * @return connector names
     */
    public List<String> hubConnectors() {
        if (hubConnectors.isEmpty()) {
            throw new IllegalStateException("no hub with connectors started yet: start it first or name the connectors");
        }
        return List.copyOf(hubConnectors);
    }

    /** Mint a token for the agent id, scoped to the connectors of the hubs started so far, and write it to a new file. */
    public Path tokenFile(String agentId, Duration ttl) {
        return tokenFile(agentId, ttl, hubConnectors());
    }

    /** Mint a token for the agent id scoped to the given connectors and write it to a new file. */
    public Path tokenFile(String agentId, Duration ttl, List<String> connectors) {
        String token = TokenMinter.mintHs256(TokenMinter.readSecret(secret), agentId, ttl, "nowconnect", connectors,
                                             java.util.Optional.empty());
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
        return agentVars("ws://127.0.0.1:" + hubPort + "/tunnel",
                         tokenFile(AGENT_ID, Duration.ofHours(1), List.copyOf(targets.keySet())), targets);
    }

    /**
     * Variables of an agent ({@link #AGENT_ID}) connected to a hub URL with a token file, exporting the given targets
     * on loopback (in the map's order); fast pings, back-off and connect timeout, health port on a free port.
     *
     * @param url hub URL
     * @param tokenFile token file
     * @param targets connector name to target port
     * @return variables (mutable)
     */
    public static Map<String, String> agentVars(String url, Path tokenFile, Map<String, Integer> targets) {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_AGENT_URL", url);
        vars.put("NC_AGENT_ID", AGENT_ID);
        vars.put("NC_TOKEN_FILE", tokenFile.toString());
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

    /** Start an agent from variables with a stream observer; it is stopped by {@link #close()}. */
    public Agent startAgent(Map<String, String> vars, StreamObserver observer) {
        Agent agent = Agent.start(AgentConfig.create(ConfigLoader.fromMaps(vars, Map.of())), observer);
        agents.add(agent);
        return agent;
    }

    /** Stop an agent within the test, so that {@link #close()} does not stop it again. */
    public void stopAgent(Agent agent, Duration drain) {
        agents.remove(agent);
        agent.stop(drain);
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

    /**
     * Close each of the resources that is not null, ignoring failures (a test's clean-up, best effort).
     *
     * @param resources sockets, servers and the like, nulls allowed
     */
    public static void closeQuietly(AutoCloseable... resources) {
        for (AutoCloseable c : resources) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    /** Poll a condition every 10 ms: the one wait of the tests (never a fixed sleep). */
    public static void await(Duration timeout, BooleanSupplier condition, String what) {
        await(timeout, condition, () -> what);
    }

    /** Poll a condition every 10 ms; the description is made only on failure (it may carry the state then). */
    public static void await(Duration timeout, BooleanSupplier condition, java.util.function.Supplier<String> what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for: " + what.get());
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for: " + what.get());
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

    /**
     * Wait until a byte counter has not moved for 500 ms (a sender is held up by a peer that stopped reading).
     *
     * @param counter bytes sent so far
     * @param what the senders, for the failure message
     * @return when the counter last moved, in {@link System#nanoTime()}
     * @throws InterruptedException if interrupted
     */
    public static long awaitStalled(java.util.concurrent.atomic.AtomicLong counter, String what) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        long last = -1;
        long sameSince = System.nanoTime();
        while (System.nanoTime() < deadline) {
            long now = counter.get();
            if (now != last) {
                last = now;
                sameSince = System.nanoTime();
            } else if (now > 0 && System.nanoTime() - sameSince > java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(500)) {
                return sameSince;
            }
            Thread.sleep(20);
        }
        throw new AssertionError(what + " were never held up: " + counter.get() + " bytes sent");
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

    /**
     * Stop every agent and server this harness started, delete the directory it made, and fail when an exception
     * escaped an {@code nc-*} thread during the test.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            for (Agent a : agents) {
                try {
                    a.stop(agentStopDrain);
                } catch (RuntimeException ignored) {
                    // best effort
                }
            }
            for (int i = closeables.size() - 1; i >= 0; i--) {
                try {
                    closeables.get(i).close();
                } catch (Exception ignored) {
                    // best effort
                }
            }
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(previousHandler);
            if (ownsDir) {
                deleteTree(dir);
            }
        }
        if (!escaped.isEmpty()) {
            throw new AssertionError("no exception may escape an agent or hub thread: " + escaped);
        }
    }

    /**
     * Delete a directory tree, best effort (a file still open elsewhere stays).
     *
     * @param root the tree
     */
    public static void deleteTree(Path root) {
        try (var files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a file still open on another platform
                }
            });
        } catch (IOException ignored) {
            // already gone
        }
    }
}
