package io.nowconnect.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.freePort;
import static io.nowconnect.faults.FaultKit.report;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Three hub replicas (child processes) behind haproxy (TCP mode, round robin, health checks) on 127.0.0.1, in front of
 * both their tunnel ports and their {@code echo} listeners; one agent given only the balancer's URL. A steady flow of
 * short client connections goes through the balancer throughout. The agent must hold tunnels to all 3 replicas within
 * 30 s; one replica stopped with SIGTERM (a lame duck of 1 s: {@code /readyz} 503 while its listeners still carry
 * clients, then its backlog drained as its listeners close) and started again costs no client connection; one killed with SIGKILL and
 * started again costs only connections in flight when it died; after each restart the agent is back on that replica
 * within 10 s. Skipped (with a message) only when haproxy is not installed; {@code ./nowconnect test} installs it (deploy/ci/test-packages.sh).
 */
@Tag("faults")
@Timeout(value = 300, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class HubReplicasTest {
    private static final int REPLICAS = 3;
    private static final int CLIENT_THREADS = 4;
    private static final Duration ALL_REPLICAS_WITHIN = Duration.ofSeconds(30);
    private static final Duration BACK_WITHIN = Duration.ofSeconds(10);

    @Test
    void agentKeepsATunnelToEveryReplicaThroughRestartsAndCrashes(Harness h) throws Exception {
        Optional<Path> haproxy = haproxy();
        assumeTrue(haproxy.isPresent(), "haproxy is not installed (apt-get install haproxy): replica test skipped");
        EchoServer echo = h.echo();
        int[] hubPorts = new int[REPLICAS];
        int[] listenPorts = new int[REPLICAS];
        List<FaultKit.HubProcess> hubs = new ArrayList<>();
        for (int i = 0; i < REPLICAS; i++) {
            hubPorts[i] = freePort();
            listenPorts[i] = freePort();
            hubs.add(h.closeLater(new FaultKit.HubProcess(
                    h.dir(), h.secret(), "127.0.0.1", hubPorts[i], Map.of("echo", "127.0.0.1:" + listenPorts[i]),
                    Map.of("NC_HUB_REPLICA_ID", "hub-" + i, "NC_HUB_REPLICAS", "hub-0,hub-1,hub-2",
                           "NC_HUB_DRAIN_TIMEOUT_SEC", "10", "NC_HUB_LAMEDUCK_MS", "1000"),
                    List.of())));
        }
        for (FaultKit.HubProcess hub : hubs) {
            hub.start(Duration.ofSeconds(60));
        }
        int tunnelPort = freePort();
        int echoPort = freePort();
        Path socket = h.dir().resolve("haproxy.sock");
        Path cfg = h.dir().resolve("haproxy.cfg");
        Files.writeString(cfg, haproxyConfig(tunnelPort, echoPort, hubPorts, listenPorts, socket));
        Process balancer = new ProcessBuilder(haproxy.get().toString(), "-db", "-f", cfg.toString())
                .redirectErrorStream(true).redirectOutput(h.dir().resolve("haproxy.log").toFile()).start();
        h.closeLater((AutoCloseable) balancer::destroyForcibly);
        Harness.await(Duration.ofSeconds(20), () -> FaultKit.accepts("127.0.0.1", echoPort, 200) && Files.exists(socket),
                      "haproxy listening");

        Map<String, String> vars = new HashMap<>(h.agentVars(0, Map.of("echo", echo.port())));
        vars.put("NC_AGENT_URL", "ws://127.0.0.1:" + tunnelPort + "/tunnel");
        long agentStart = System.nanoTime();
        Agent agent = h.startAgent(vars);
        String hub = "ws://127.0.0.1:" + tunnelPort + "/tunnel";
        Harness.await(ALL_REPLICAS_WITHIN, () -> heldReplicas(agent, hub) == REPLICAS, "tunnels to all 3 replicas");
        long reachMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - agentStart);
        report("replicas", "tunnels to all " + REPLICAS + " replicas " + reachMs + " ms after the agent started");
        for (int i = 0; i < REPLICAS; i++) {
            awaitServerUp(socket, "hubs_echo", "hub-" + i);
        }

        try (Load load = new Load(echoPort)) {
            load.awaitSuccesses(50);

            // SIGTERM: the replica stops accepting, finishes its streams, closes its tunnel, exits 0; no client fails
            int before = load.failures();
            assertEquals(0, hubs.get(1).terminate(Duration.ofSeconds(30)), "hub-1 exits 0 after SIGTERM");
            Harness.await(Duration.ofSeconds(10), () -> agent.status().replicaTunnels(hub, "hub-1") == 0,
                          "agent lost hub-1");
            long ok = load.successes();
            load.awaitSuccesses(ok + 50);
            long started = hubs.get(1).start(Duration.ofSeconds(60));
            Harness.await(BACK_WITHIN, () -> agent.status().replicaTunnels(hub, "hub-1") > 0, "agent back on hub-1");
            long backMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            awaitServerUp(socket, "hubs_echo", "hub-1");
            load.awaitSuccesses(load.successes() + 100);
            int termFailures = load.failures() - before;
            report("replicas", "SIGTERM: " + termFailures + " failed client connections of " + load.successes()
                    + " so far; agent back on hub-1 " + backMs + " ms after it accepted again");
            assertEquals(0, termFailures, "client connections failed around a SIGTERM: " + load.failureDetails());

            // SIGKILL: only the connections in flight on the dead replica may fail
            before = load.failures();
            hubs.get(2).kill();
            long killed = System.nanoTime();
            Harness.await(Duration.ofSeconds(10), () -> agent.status().replicaTunnels(hub, "hub-2") == 0,
                          "agent lost hub-2");
            ok = load.successes();
            load.awaitSuccesses(ok + 50);
            started = hubs.get(2).start(Duration.ofSeconds(60));
            Harness.await(BACK_WITHIN, () -> agent.status().replicaTunnels(hub, "hub-2") > 0, "agent back on hub-2");
            long backKillMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            awaitServerUp(socket, "hubs_echo", "hub-2");
            load.awaitSuccesses(load.successes() + 100);
            int killFailures = load.failures() - before;
            report("replicas", "SIGKILL: " + killFailures + " failed client connections (all in flight at the kill); "
                    + "agent back on hub-2 " + backKillMs + " ms after it accepted again; haproxy redispatches "
                    + redispatches(socket));
            long lateFailures = load.failedStarts().stream().filter(t -> t - killed > 0).count();
            assertEquals(0, lateFailures, "connections started after the kill failed: " + load.failureDetails());
            assertTrue(killFailures <= CLIENT_THREADS, "more failures than connections in flight: " + killFailures);
            assertEquals(REPLICAS, heldReplicas(agent, hub), "tunnels to all replicas at the end");
        }
    }

    /**
     * The balancer checks the listener ports with plain TCP connects only: a restarted replica gets clients as soon as
     * its listener accepts, before the agent is back on it. Those clients wait for the agent
     * ({@code NC_HUB_AGENT_WAIT_MS}, the default unless {@code -Dreplicas.agentWaitMs} says otherwise) instead of being
     * closed: a graceful restart fails no client connection.
     */
    @Test
    void gracefulRestartBehindPlainTcpChecksFailsNoClient(Harness h) throws Exception {
        Optional<Path> haproxy = haproxy();
        assumeTrue(haproxy.isPresent(), "haproxy is not installed (apt-get install haproxy): replica test skipped");
        EchoServer echo = h.echo();
        int[] hubPorts = new int[REPLICAS];
        int[] listenPorts = new int[REPLICAS];
        List<FaultKit.HubProcess> hubs = new ArrayList<>();
        Map<String, String> extra = new HashMap<>(Map.of("NC_HUB_REPLICAS", "hub-0,hub-1,hub-2",
                                                         "NC_HUB_DRAIN_TIMEOUT_SEC", "10"));
        String wait = System.getProperty("replicas.agentWaitMs");
        if (wait != null) {
            extra.put("NC_HUB_AGENT_WAIT_MS", wait);
        }
        for (int i = 0; i < REPLICAS; i++) {
            hubPorts[i] = freePort();
            listenPorts[i] = freePort();
            Map<String, String> vars = new HashMap<>(extra);
            vars.put("NC_HUB_REPLICA_ID", "hub-" + i);
            hubs.add(h.closeLater(new FaultKit.HubProcess(
                    h.dir(), h.secret(), "127.0.0.1", hubPorts[i], Map.of("echo", "127.0.0.1:" + listenPorts[i]),
                    vars, List.of())));
        }
        for (FaultKit.HubProcess hub : hubs) {
            hub.start(Duration.ofSeconds(60));
        }
        int tunnelPort = freePort();
        int echoPort = freePort();
        Path socket = h.dir().resolve("haproxy.sock");
        Path cfg = h.dir().resolve("haproxy.cfg");
        Files.writeString(cfg, haproxyConfig(tunnelPort, echoPort, hubPorts, listenPorts, socket, true));
        Process balancer = new ProcessBuilder(haproxy.get().toString(), "-db", "-f", cfg.toString())
                .redirectErrorStream(true).redirectOutput(h.dir().resolve("haproxy.log").toFile()).start();
        h.closeLater((AutoCloseable) balancer::destroyForcibly);
        Harness.await(Duration.ofSeconds(20), () -> FaultKit.accepts("127.0.0.1", echoPort, 200) && Files.exists(socket),
                      "haproxy listening");

        Map<String, String> vars = new HashMap<>(h.agentVars(0, Map.of("echo", echo.port())));
        vars.put("NC_AGENT_URL", "ws://127.0.0.1:" + tunnelPort + "/tunnel");
        Agent agent = h.startAgent(vars);
        String hub = "ws://127.0.0.1:" + tunnelPort + "/tunnel";
        Harness.await(ALL_REPLICAS_WITHIN, () -> heldReplicas(agent, hub) == REPLICAS, "tunnels to all 3 replicas");
        for (int i = 0; i < REPLICAS; i++) {
            awaitServerUp(socket, "hubs_echo", "hub-" + i);
        }
        try (Load load = new Load(echoPort)) {
            load.awaitSuccesses(50);
            int before = load.failures();
            long okBefore = load.successes();
            assertEquals(0, hubs.get(1).terminate(Duration.ofSeconds(30)), "hub-1 exits 0 after SIGTERM");
            Harness.await(Duration.ofSeconds(10), () -> agent.status().replicaTunnels(hub, "hub-1") == 0,
                          "agent lost hub-1");
            load.awaitSuccesses(load.successes() + 50);
            long started = hubs.get(1).start(Duration.ofSeconds(60));
            // the listener accepts at once: haproxy's plain check sends clients before the agent is back
            awaitServerUp(socket, "hubs_echo", "hub-1");
            long upMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            Harness.await(Duration.ofSeconds(20), () -> agent.status().replicaTunnels(hub, "hub-1") > 0,
                          "agent back on hub-1");
            long backMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            load.awaitSuccesses(load.successes() + 150);
            int failures = load.failures() - before;
            long connections = load.successes() - okBefore + failures;
            report("replicas", "plain TCP checks, NC_HUB_AGENT_WAIT_MS " + (wait == null ? "default" : wait)
                    + ": SIGTERM and restart of hub-1 failed " + failures + " of " + connections
                    + " client connections; hub-1 in haproxy's pool " + upMs + " ms and the agent back on it "
                    + backMs + " ms after it accepted again");
            assertEquals(0, failures, "client connections failed around a graceful restart: " + load.failureDetails());
        }
    }

    private static int heldReplicas(Agent agent, String hub) {
        return (int) agent.status().replicas().getOrDefault(hub, Map.of()).values().stream().filter(n -> n > 0).count();
    }

    static Optional<Path> haproxy() {
        List<String> dirs = new ArrayList<>(Arrays.asList(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/usr/local/sbin"));
        return dirs.stream().filter(d -> !d.isEmpty()).map(d -> Path.of(d, "haproxy")).filter(Files::isExecutable)
                .findFirst();
    }

    /**
     * The README's haproxy example (the {@code http-check send} form) in its variant without an admin listener, on
     * loopback ({@code HubHaproxyReadmeTest} runs the README's blocks as written): round robin without affinity, the
     * tunnel backend checked on {@code /readyz}, the listener backend on {@code /readyz?connector=echo} (a replica gets
     * clients only once an agent serves the connector there), refused connections retried on another replica.
     */
    static String haproxyConfig(int tunnelPort, int echoPort, int[] hubPorts, int[] listenPorts, Path socket) {
        return haproxyConfig(tunnelPort, echoPort, hubPorts, listenPorts, socket, false);
    }

    /**
     * As above; with {@code plainChecks} the listener backend is checked with plain TCP connects to the listener
     * ports (no {@code /readyz?connector=}): a replica gets clients as soon as its listener accepts.
     */
    static String haproxyConfig(int tunnelPort, int echoPort, int[] hubPorts, int[] listenPorts, Path socket,
                                boolean plainChecks) {
        StringBuilder sb = new StringBuilder();
        sb.append("global\n    maxconn 4096\n    stats socket ").append(socket).append(" mode 600 level admin\n");
        sb.append("defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n")
                .append("    timeout check 1s\n    retries 3\n    option redispatch 1\n");
        sb.append("frontend tunnel\n    bind 127.0.0.1:").append(tunnelPort).append("\n    default_backend hubs_tunnel\n");
        sb.append("backend hubs_tunnel\n    balance roundrobin\n    option httpchk\n")
                .append("    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost\n")
                .append("    default-server inter 300ms fall 1 rise 1\n");
        for (int i = 0; i < hubPorts.length; i++) {
            sb.append("    server hub-").append(i).append(" 127.0.0.1:").append(hubPorts[i]).append(" check\n");
        }
        sb.append("frontend echo\n    bind 127.0.0.1:").append(echoPort).append("\n    default_backend hubs_echo\n");
        if (plainChecks) {
            sb.append("backend hubs_echo\n    balance roundrobin\n    default-server inter 300ms fall 1 rise 2\n");
            for (int i = 0; i < listenPorts.length; i++) {
                sb.append("    server hub-").append(i).append(" 127.0.0.1:").append(listenPorts[i]).append(" check\n");
            }
            return sb.toString();
        }
        sb.append("backend hubs_echo\n    balance roundrobin\n    option httpchk\n")
                .append("    http-check send meth GET uri /readyz?connector=echo ver HTTP/1.1 hdr Host localhost\n")
                .append("    default-server inter 300ms fall 1 rise 2\n");
        for (int i = 0; i < listenPorts.length; i++) {
            sb.append("    server hub-").append(i).append(" 127.0.0.1:").append(listenPorts[i]).append(" check port ")
                    .append(hubPorts[i]).append('\n');
        }
        return sb.toString();
    }

    /** haproxy's {@code show stat} as rows of column name to value. */
    static List<Map<String, String>> stats(Path socket) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap("show stat\n".getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            StringBuilder text = new StringBuilder();
            while (ch.read(buf) >= 0) {
                buf.flip();
                text.append(StandardCharsets.US_ASCII.decode(buf));
                buf.clear();
            }
            String[] lines = text.toString().split("\n");
            String[] header = lines[0].replaceFirst("^# ", "").split(",", -1);
            List<Map<String, String>> rows = new ArrayList<>();
            for (int i = 1; i < lines.length; i++) {
                String[] cols = lines[i].split(",", -1);
                Map<String, String> row = new HashMap<>();
                for (int c = 0; c < Math.min(cols.length, header.length); c++) {
                    row.put(header[c], cols[c]);
                }
                rows.add(row);
            }
            return rows;
        } catch (IOException e) {
            return List.of();
        }
    }

    private static void awaitServerUp(Path socket, String backend, String server) {
        Harness.await(Duration.ofSeconds(20), () -> stats(socket).stream().anyMatch(
                r -> backend.equals(r.get("pxname")) && server.equals(r.get("svname"))
                        && String.valueOf(r.get("status")).startsWith("UP")), backend + "/" + server + " UP in haproxy");
    }

    private static String redispatches(Path socket) {
        return stats(socket).stream().filter(r -> "hubs_echo".equals(r.get("pxname")) && "BACKEND".equals(r.get("svname")))
                .map(r -> "wredis=" + r.get("wredis") + " wretr=" + r.get("wretr")).findFirst().orElse("?");
    }

    /** Short client connections through the balancer, back to back on a few threads: connect, echo 32 bytes, close. */
    private static final class Load implements AutoCloseable {
        private final int port;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicLong successes = new AtomicLong();
        private final AtomicInteger failures = new AtomicInteger();
        private final ConcurrentLinkedQueue<Long> failedStarts = new ConcurrentLinkedQueue<>();
        private final ConcurrentLinkedQueue<String> details = new ConcurrentLinkedQueue<>();
        private final List<Thread> threads = new ArrayList<>();

        Load(int port) {
            this.port = port;
            for (int i = 0; i < CLIENT_THREADS; i++) {
                int n = i;
                threads.add(Thread.ofVirtual().name("replica-load-" + i).start(() -> loop(n)));
            }
        }

        private void loop(int thread) {
            byte[] payload = new byte[32];
            long count = 0;
            while (running.get()) {
                Arrays.fill(payload, (byte) ('a' + (count++ % 26)));
                long start = System.nanoTime();
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                    s.setSoTimeout(10_000);
                    OutputStream out = s.getOutputStream();
                    InputStream in = s.getInputStream();
                    out.write(payload);
                    byte[] back = in.readNBytes(payload.length);
                    if (!Arrays.equals(payload, back)) {
                        throw new IOException("echo returned " + back.length + " of " + payload.length + " bytes");
                    }
                    successes.incrementAndGet();
                } catch (IOException e) {
                    if (running.get()) {
                        failures.incrementAndGet();
                        failedStarts.add(start);
                        if (details.size() < 20) {
                            details.add("thread " + thread + ": " + e);
                        }
                    }
                }
                FaultKit.sleep(5);
            }
        }

        long successes() {
            return successes.get();
        }

        int failures() {
            return failures.get();
        }

        List<Long> failedStarts() {
            return List.copyOf(failedStarts);
        }

        String failureDetails() {
            return String.join("; ", details);
        }

        void awaitSuccesses(long n) {
            Harness.await(Duration.ofSeconds(60), () -> successes.get() >= n, n + " successful client connections");
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            for (Thread t : threads) {
                t.join(15_000);
            }
        }
    }
}
