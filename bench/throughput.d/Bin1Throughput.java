import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.nowconnect.Agent;
import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;
import io.nowconnect.hub.Hub;
import io.nowconnect.hub.auth.TokenMinter;

/**
 * Quick throughput check (a benchmark: it prints figures and asserts nothing but that every byte moved): one stream
 * of bulk bytes agent -> hub (a target that sends) and hub -> agent (a target that only reads), with v1 JSON DATA and
 * with {@code bin1}, on loopback with the project's hub and agent in this JVM. Two rounds; the second is reported.
 * Single-file program on the project's jar, run by {@code bench/throughput [MiB]} (default 256):
 * {@code java -cp target/nowconnect.jar bench/throughput.d/Bin1Throughput.java [MiB]}.
 */
public final class Bin1Throughput {
    private Bin1Throughput() {
    }

    public static void main(String[] args) throws Exception {
        long bytes = (args.length > 0 ? Long.parseLong(args[0]) : 256) << 20;
        Path dir = Files.createTempDirectory("nc-throughput");
        try {
            StringBuilder report = new StringBuilder("throughput, 1 stream, " + (bytes >> 20) + " MiB, MiB/s:\n");
            for (int round = 0; round < 2; round++) {
                for (boolean bin1 : new boolean[] {false, true}) {
                    double[] r = measure(dir, bin1, bytes);
                    if (round == 1) {
                        report.append(String.format("  %-9s agent->hub %7.1f   hub->agent %7.1f%n",
                                                    bin1 ? "bin1" : "v1 JSON", r[0], r[1]));
                    }
                }
            }
            System.out.print(report);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        System.exit(0);
    }

    private static double[] measure(Path dir, boolean bin1, long bytes) throws Exception {
        Path secret = dir.resolve("hub.secret");
        Files.writeString(secret, "bench-secret-" + System.nanoTime() + "-0123456789abcdef\n");
        Path token = dir.resolve("agent.token");
        Files.writeString(token, TokenMinter.mintHs256(TokenMinter.readSecret(secret), "bench", Duration.ofHours(1),
                                                       "nowconnect", List.of("source", "sink"), Optional.empty()) + "\n");
        Map<String, String> hubVars = new HashMap<>();
        hubVars.put("NC_HUB_HOST", "127.0.0.1");
        hubVars.put("NC_HUB_PORT", "0");
        hubVars.put("NC_HUB_JWT_SECRET_FILE", secret.toString());
        hubVars.put("NC_HUB_LISTENERS", "source=127.0.0.1:0,sink=127.0.0.1:0");
        try (ServerSocket source = serve(bytes, true);
             ServerSocket sink = serve(bytes, false);
             Hub hub = Hub.start(HubConfig.create(ConfigLoader.fromMaps(hubVars, Map.of())))) {
            Map<String, String> vars = new HashMap<>();
            vars.put("NC_AGENT_URL", "ws://127.0.0.1:" + hub.port() + "/tunnel");
            vars.put("NC_AGENT_ID", "bench");
            vars.put("NC_TOKEN_FILE", token.toString());
            vars.put("NC_CONNECTORS", "source,sink");
            vars.put("NC_TARGET_source_HOST", "127.0.0.1");
            vars.put("NC_TARGET_source_PORT", Integer.toString(source.getLocalPort()));
            vars.put("NC_TARGET_sink_HOST", "127.0.0.1");
            vars.put("NC_TARGET_sink_PORT", Integer.toString(sink.getLocalPort()));
            vars.put("NC_HEALTH_HOST", "127.0.0.1");
            vars.put("NC_HEALTH_PORT", "0");
            Agent agent;
            // the agent offers bin1 unless this property says false (read when its tunnel connects)
            System.setProperty("nowconnect.bin1", Boolean.toString(bin1));
            try {
                agent = Agent.start(AgentConfig.create(ConfigLoader.fromMaps(vars, Map.of())));
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (!agent.status().snapshot().ready()) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("agent tunnel not ready within 10 s");
                    }
                    Thread.sleep(10);
                }
            } finally {
                System.clearProperty("nowconnect.bin1");
            }
            try {
                double a2c;
                try (Socket s = client(hub.listenerPorts().get("source"))) {
                    long t = System.nanoTime();
                    long got = drain(s.getInputStream());
                    a2c = (got >> 20) / ((System.nanoTime() - t) / 1e9);
                    if (got != bytes) {
                        throw new IllegalStateException("agent->hub moved " + got + " of " + bytes);
                    }
                }
                double c2a;
                try (Socket s = client(hub.listenerPorts().get("sink"))) {
                    long t = System.nanoTime();
                    OutputStream out = s.getOutputStream();
                    byte[] buf = new byte[64 * 1024];
                    for (long left = bytes; left > 0; left -= buf.length) {
                        out.write(buf, 0, (int) Math.min(buf.length, left));
                    }
                    s.shutdownOutput();
                    // the sink closes once it has read everything: its EOF comes back as our EOF
                    drain(s.getInputStream());
                    c2a = (bytes >> 20) / ((System.nanoTime() - t) / 1e9);
                }
                return new double[] {a2c, c2a};
            } finally {
                agent.stop(Duration.ofSeconds(1));
            }
        }
    }

    private static Socket client(int port) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2000);
        s.setSoTimeout(120_000);
        return s;
    }

    private static long drain(InputStream in) throws IOException {
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = in.read(buf)) >= 0) {
            total += n;
        }
        return total;
    }

    /** A target that sends {@code bytes} then closes (source), or reads to EOF then closes (sink). */
    private static ServerSocket serve(long bytes, boolean send) throws IOException {
        ServerSocket server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    Thread.ofVirtual().start(() -> {
                        try (s) {
                            if (send) {
                                byte[] buf = new byte[64 * 1024];
                                OutputStream out = s.getOutputStream();
                                for (long left = bytes; left > 0; left -= buf.length) {
                                    out.write(buf, 0, (int) Math.min(buf.length, left));
                                }
                                s.shutdownOutput();
                            }
                            drain(s.getInputStream());
                        } catch (IOException ignored) {
                            // the check reports short transfers
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
        return server;
    }
}
