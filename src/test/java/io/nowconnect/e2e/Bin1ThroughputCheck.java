package io.nowconnect.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import io.nowconnect.Agent;
import io.nowconnect.hub.Hub;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import static io.nowconnect.e2e.Harness.awaitReady;
import static io.nowconnect.e2e.Harness.client;

/**
 * Quick throughput check, not part of the normal test run and asserting nothing: one stream of bulk bytes agent -> hub
 * (a target that sends) and hub -> agent (a target that only reads), with v1 JSON DATA and with {@code bin1}, on
 * loopback with the project's hub and agent in this JVM. Run with
 * {@code mvn test -Dtest=Bin1ThroughputCheck -Dnowconnect.perf=true} (optionally {@code -Dnowconnect.perf.mib=256}).
 */
@EnabledIfSystemProperty(named = "nowconnect.perf", matches = "true")
class Bin1ThroughputCheck {
    @TempDir
    Path dir;

    @Test
    void bulkThroughputV1VersusBin1() throws Exception {
        long bytes = Long.getLong("nowconnect.perf.mib", 256) << 20;
        StringBuilder report = new StringBuilder("\nthroughput, 1 stream, " + (bytes >> 20) + " MiB, MiB/s:\n");
        for (int round = 0; round < 2; round++) {
            for (boolean bin1 : new boolean[] {false, true}) {
                double[] r = measure(bin1, bytes);
                if (round == 1) {
                    report.append(String.format("  %-9s agent->hub %7.1f   hub->agent %7.1f%n",
                                                bin1 ? "bin1" : "v1 JSON", r[0], r[1]));
                }
            }
        }
        System.out.println(report);
    }

    private double[] measure(boolean bin1, long bytes) throws Exception {
        try (Harness harness = Harness.create(dir);
             ServerSocket source = serve(bytes, true);
             ServerSocket sink = serve(bytes, false)) {
            Hub hub = harness.startHub("source", "sink");
            Map<String, String> vars = harness.agentVars(hub.port(), Map.of("source", source.getLocalPort(),
                                                                            "sink", sink.getLocalPort()));
            Agent agent;
            System.setProperty("nowconnect.bin1", Boolean.toString(bin1));
            try {
                agent = harness.startAgent(vars);
                awaitReady(agent, Duration.ofSeconds(10));
            } finally {
                System.clearProperty("nowconnect.bin1");
            }
            double a2c;
            try (Socket s = client(hub.listenerPorts().get("source"))) {
                s.setSoTimeout(120_000);
                long t = System.nanoTime();
                long got = drain(s.getInputStream());
                a2c = (got >> 20) / ((System.nanoTime() - t) / 1e9);
                if (got != bytes) {
                    throw new AssertionError("agent->hub moved " + got + " of " + bytes);
                }
            }
            double c2a;
            try (Socket s = client(hub.listenerPorts().get("sink"))) {
                s.setSoTimeout(120_000);
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
        }
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
                                drain(s.getInputStream());
                            } else {
                                drain(s.getInputStream());
                            }
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
