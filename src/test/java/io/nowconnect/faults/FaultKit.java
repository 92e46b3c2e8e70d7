package io.nowconnect.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import io.nowconnect.testkit.ChildJvm;
import io.nowconnect.testkit.Gauges;
import io.nowconnect.testkit.ThreadCensus;

/** Shared pieces of the fault tests: the hub as a child process, targets that tell how their sockets ended, gauges. */
final class FaultKit {
    private FaultKit() {
    }

    /** Print a measured figure the way every fault case does. */
    static void report(String kase, String figure) {
        System.out.println("fault: " + kase + ": " + figure);
    }

    static String javaBinary() {
        return ChildJvm.javaBinary();
    }

    /** Open file descriptors of this JVM. */
    static int fdCount() {
        return Gauges.fdCount();
    }

    /** Open file descriptors of another process. */
    static int fdCount(long pid) {
        return Gauges.fdCount(pid);
    }

    /** The soft limit of open files of this JVM, from /proc/self/limits (-1 when unknown, MAX_VALUE when unlimited). */
    static long openFileLimit() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /** Live platform threads of this JVM. */
    static int platformThreads() {
        return Gauges.platformThreads();
    }

    /** Heap in use after a full collection. */
    static long heapUsedAfterGc() {
        return Gauges.heapUsedAfterGc();
    }

    /** Live threads of this JVM named with a prefix, virtual ones included ({@link ThreadCensus}). */
    static long namedThreads(String prefix) {
        return ThreadCensus.named(prefix);
    }

    /**
     * Why this process may not create network namespaces and firewall rules, or null when it may: it needs
     * {@code CAP_NET_ADMIN} in its effective set (root outside an unprivileged container).
     */
    static String netAdminMissing() {
        try {
            String uid = "?";
            long effective = 0;
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    uid = line.substring(4).trim().split("\\s+")[1];
                } else if (line.startsWith("CapEff:")) {
                    effective = Long.parseUnsignedLong(line.substring(7).trim(), 16);
                }
            }
            boolean netAdmin = (effective & (1L << 12)) != 0;
            return netAdmin ? null : "needs root with CAP_NET_ADMIN to create network namespaces and iptables rules "
                    + "(effective uid " + uid + ", CAP_NET_ADMIN " + (netAdmin ? "present" : "absent") + ")";
        } catch (IOException | RuntimeException e) {
            return "needs Linux with /proc/self/status to check CAP_NET_ADMIN: " + e;
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether a TCP connect to host:port succeeds now. */
    static boolean accepts(String host, int port, int timeoutMs) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), timeoutMs);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted");
        }
    }

    /** Run a command, return its exit code; output goes into the returned holder. */
    static Cmd run(List<String> command, int timeoutSec) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeoutSec, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Cmd(-1, "timeout");
            }
            return new Cmd(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            return new Cmd(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Cmd(-1, "interrupted");
        }
    }

    static Cmd run(String... command) {
        return run(List.of(command), 20);
    }

    record Cmd(int code, String output) {
        boolean ok() {
            return code == 0;
        }
    }

    /** Send a signal to a process (STOP, CONT, KILL). */
    static void signal(long pid, String sig) {
        Cmd c = run("kill", "-" + sig, Long.toString(pid));
        if (!c.ok() && !sig.equals("CONT") && !sig.equals("KILL")) {
            throw new AssertionError("kill -" + sig + " " + pid + " failed: " + c.output());
        }
    }

    /**
     * The project's hub ({@code io.nowconnect.Main hub}) as a child process, optionally inside a network namespace
     * ({@code ip netns exec NAME} prefix). Restartable on the same ports.
     */
    static final class HubProcess implements AutoCloseable {
        private final Path dir;
        private final Map<String, String> env;
        private final List<String> prefix;
        private final String host;
        private final int port;
        private volatile Process process;
        private int starts;

        HubProcess(Path dir, Path secret, String host, int port, Map<String, String> listeners, Map<String, String> extra,
                   List<String> prefix) {
            this.dir = dir;
            this.host = host;
            this.port = port;
            this.prefix = prefix;
            Map<String, String> e = new java.util.HashMap<>();
            e.put("NC_HUB_HOST", host);
            e.put("NC_HUB_PORT", Integer.toString(port));
            e.put("NC_HUB_JWT_SECRET_FILE", secret.toString());
            e.put("NC_HUB_PING_INTERVAL_SEC", "1");
            e.put("NC_HUB_PING_TIMEOUT_SEC", "3");
            e.put("NC_HUB_LISTENERS", listeners.entrySet().stream().map(x -> x.getKey() + "=" + x.getValue())
                    .collect(Collectors.joining(",")));
            // every test client comes from 127.0.0.1: no per-address limit unless a test asks for one
            e.put("NC_HUB_MAX_CONNECTIONS_PER_CLIENT", "1000000");
            e.putAll(extra);
            this.env = e;
        }

        /** Start the hub process and wait until its port accepts; returns the nanoTime when it first accepted. */
        long start(Duration timeout) {
            Path log = dir.resolve("hub-" + port + "-" + (++starts) + ".log");
            process = ChildJvm.main("io.nowconnect.Main").prefix(prefix)
                    .options("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1").args("hub").env(env).log(log).start();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new AssertionError("hub process exited with " + process.exitValue() + ": " + tail(log));
                }
                if (accepts(host, port, 200)) {
                    return System.nanoTime();
                }
                sleep(5);
            }
            throw new AssertionError("hub did not accept on " + host + ":" + port + " within " + timeout + ": " + tail(log));
        }

        long pid() {
            return process.pid();
        }

        Process process() {
            return process;
        }

        int port() {
            return port;
        }

        /** GET a path of the hub's HTTP endpoint, status code or -1. */
        int get(String path) {
            try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build()) {
                return c.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + path))
                                      .timeout(Duration.ofSeconds(2)).build(),
                              HttpResponse.BodyHandlers.discarding()).statusCode();
            } catch (IOException e) {
                return -1;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -1;
            }
        }

        /** SIGTERM (graceful stop) and wait up to the timeout for the process to exit; its exit code, -1 if it did not. */
        int terminate(Duration timeout) {
            Process p = process;
            signal(p.pid(), "TERM");
            try {
                return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? p.exitValue() : -1;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -1;
            }
        }

        /** SIGKILL and wait for the process to be gone. */
        void kill() {
            Process p = process;
            if (p != null) {
                signal(p.pid(), "CONT");
                p.destroyForcibly();
                try {
                    p.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public void close() {
            kill();
        }

        static String tail(Path log) {
            try {
                List<String> lines = Files.readAllLines(log);
                return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
            } catch (IOException e) {
                return "(no log)";
            }
        }
    }

    /**
     * A target that echoes and records how each of its connections ended: EOF (the agent closed or half-closed), an
     * error (reset), or still open.
     */
    static final class TrackingTarget implements AutoCloseable {
        private final ServerSocket server;
        final AtomicInteger accepted = new AtomicInteger();
        final AtomicInteger ended = new AtomicInteger();
        final Set<Socket> open = ConcurrentHashMap.newKeySet();
        final List<Long> endNanos = new CopyOnWriteArrayList<>();

        TrackingTarget() throws IOException {
            server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096);
            Thread.ofVirtual().start(this::acceptLoop);
        }

        int port() {
            return server.getLocalPort();
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    accepted.incrementAndGet();
                    open.add(s);
                    Thread.ofVirtual().start(() -> serve(s));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                byte[] buf = new byte[16384];
                int n;
                while ((n = in.read(buf)) >= 0) {
                    out.write(buf, 0, n);
                }
            } catch (IOException ignored) {
                // reset: counts as ended
            } finally {
                open.remove(s);
                endNanos.add(System.nanoTime());
                ended.incrementAndGet();
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : open) {
                s.close();
            }
        }
    }
}
