package io.nowconnect.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code nowconnect demo} as a separate process, used the way the README says: read the printed port, connect a
 * client, get the bytes echoed through hub, tunnel and agent; then SIGTERM stops it cleanly with exit code 0.
 */
@Timeout(300)
class DemoProcessTest {
    private static final Pattern CONNECTOR_LINE = Pattern.compile("connector echo: nc 127\\.0\\.0\\.1 (\\d+)");
    private static final String EOF = "\u0000eof";

    @TempDir
    Path dir;

    @Test
    @Timeout(60)
    void demoEchoesThroughTheTunnelAndStopsOnSigterm() throws Exception {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
                                                                                "java").toString());
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                                               "io.nowconnect.Main", "demo");
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("NC_"));
        env.put("NC_DEMO_BASE_PORT", Integer.toString(freeBase()));
        env.put("NC_HEALTH_PORT", "0");
        Path stderr = dir.resolve("demo.stderr");
        pb.redirectError(stderr.toFile());

        long start = System.nanoTime();
        Process process = pb.start();
        List<String> output = new ArrayList<>();
        try {
            LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread.ofVirtual().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                                                                                  StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // process gone
                } finally {
                    lines.add(EOF);
                }
            });

            int port = -1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (port < 0) {
                String line = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (line == null || line.equals(EOF)) {
                    fail("no \"connector echo: nc 127.0.0.1 <port>\" line within 30 s; stdout " + output
                                 + "; stderr " + tail(stderr));
                }
                output.add(line);
                Matcher m = CONNECTOR_LINE.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }

            byte[] hello = "hello through the tunnel\n".getBytes(StandardCharsets.UTF_8);
            long firstByteNanos;
            try (Socket client = new Socket()) {
                client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
                client.setSoTimeout(10_000);
                client.getOutputStream().write(hello);
                client.getOutputStream().flush();
                int first = client.getInputStream().read();
                firstByteNanos = System.nanoTime();
                assertEquals(hello[0], first, "first echoed byte");
                byte[] rest = client.getInputStream().readNBytes(hello.length - 1);
                byte[] echoed = new byte[hello.length];
                echoed[0] = (byte) first;
                System.arraycopy(rest, 0, echoed, 1, rest.length);
                assertArrayEquals(hello, echoed);
                client.shutdownOutput();
                assertEquals(-1, client.getInputStream().read(), "echo ends after the client's half-close");
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(firstByteNanos - start);
            System.out.println("nowconnect demo: time from process start to the first echoed byte: " + ms + " ms");
            System.out.println("nowconnect demo stdout: " + output);

            process.destroy(); // SIGTERM
            assertTrue(process.waitFor(15, TimeUnit.SECONDS), "demo still running 15 s after SIGTERM; stderr "
                    + tail(stderr));
            assertEquals(0, process.exitValue(), "exit code after SIGTERM; stderr " + tail(stderr));
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    /** A loopback port that is free a moment ago (the demo falls back to a free port if it was taken since). */
    private static int freeBase() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    private static String tail(Path file) {
        try {
            List<String> lines = Files.readAllLines(file);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }
}
