package io.nowconnect.network;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import io.nowconnect.testkit.Harness;

/**
 * A real tinyproxy (Debian package {@code tinyproxy-bin}) in the foreground on a free loopback port, with its own
 * config, log and pid file in a test directory. {@link #close()} kills it.
 */
final class TinyProxy implements AutoCloseable {
    static final Path BINARY = findBinary();

    private final Path config;
    private final Path log;
    private final int port;
    private Process process;

    private TinyProxy(Path dir, String name, int port, List<Integer> connectPorts, Optional<String> basicAuth)
            throws IOException {
        this.port = port;
        this.config = dir.resolve(name + ".conf");
        this.log = dir.resolve(name + ".log");
        StringBuilder conf = new StringBuilder();
        conf.append("Port ").append(port).append('\n')
                .append("Listen 127.0.0.1\n")
                .append("Allow 127.0.0.1\n")
                .append("Timeout 60\n")
                .append("MaxClients 20\n")
                .append("LogLevel Connect\n")
                .append("LogFile \"").append(log).append("\"\n")
                .append("PidFile \"").append(dir.resolve(name + ".pid")).append("\"\n");
        for (int p : connectPorts) {
            conf.append("ConnectPort ").append(p).append('\n');
        }
        basicAuth.ifPresent(a -> conf.append("BasicAuth ").append(a).append('\n'));
        Files.writeString(config, conf.toString());
    }

    static boolean installed() {
        return BINARY != null;
    }

    /**
     * Start a proxy allowing CONNECT to the given ports only.
     *
     * @param dir directory for config, log and pid file
     * @param name file name prefix
     * @param connectPorts ports CONNECT may reach
     * @param basicAuth {@code "user password"} to require Basic proxy authentication
     * @return running proxy
     */
    static TinyProxy start(Path dir, String name, List<Integer> connectPorts, Optional<String> basicAuth)
            throws IOException {
        TinyProxy proxy = new TinyProxy(dir, name, Harness.freePort(), connectPorts, basicAuth);
        proxy.restart();
        return proxy;
    }

    int port() {
        return port;
    }

    String url() {
        return "http://127.0.0.1:" + port;
    }

    /** (Re)start the process on the same port and config; returns once it accepts connections. */
    void restart() throws IOException {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("already running");
        }
        process = new ProcessBuilder(BINARY.toString(), "-d", "-c", config.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.resolveSibling(log.getFileName() + ".out").toFile()))
                .start();
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("tinyproxy exited with " + process.exitValue() + ": " + output());
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
                return;
            } catch (IOException e) {
                sleep(20);
            }
        }
        kill();
        throw new IOException("tinyproxy did not listen on " + port + " within 5 s: " + output());
    }

    /** Kill the process (SIGKILL): its connections drop at once. */
    void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The proxy's log so far. */
    String log() {
        try {
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** How many CONNECT requests to host:port the log shows. */
    long connects(String hostPort) {
        return log().lines().filter(l -> l.contains("Request (file descriptor") && l.contains("CONNECT " + hostPort + " "))
                .count();
    }

    /** Whether the log shows any request (CONNECT or other) at all. */
    boolean sawAnyRequest() {
        // "Connect (file descriptor ...)" alone is also logged for the start-up probe's bare connection
        return log().lines().anyMatch(l -> l.contains("Request (file descriptor"));
    }

    private String output() {
        try {
            Path out = log.resolveSibling(log.getFileName() + ".out");
            return (Files.exists(out) ? Files.readString(out) : "") + log();
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() {
        kill();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Path findBinary() {
        for (String dir : List.of("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")) {
            Path p = Path.of(dir, "tinyproxy");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(java.io.File.pathSeparator)) {
                Path p = Path.of(dir, "tinyproxy");
                if (Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }
}
