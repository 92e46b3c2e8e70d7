package io.nowconnect.faults;

import java.io.IOException;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.testkit.ChildJvm;
import io.nowconnect.testkit.Harness;

/**
 * Pieces of the overload tests: the hub and the agent as child JVMs with the launcher's default options (read from
 * {@code src/dist/bin/nowconnect}, plus a GC log from which the peak heap is read), {@code /metrics} scraping, a
 * target that accepts and never reads (or never stops sending), and an echo prober that times every round trip.
 */
final class OverloadKit {
    private static final Path LAUNCHER = Path.of("src", "dist", "bin", "nowconnect");
    /** "... 25M->4M(30M) ..." in a unified GC log line: heap before, after, committed. */
    private static final Pattern GC_LINE = Pattern.compile("(\\d+)([KMG])->(\\d+)([KMG])\\((\\d+)([KMG])\\)");
    private static final Pattern METRIC = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})?\\s+(\\S+)",
                                                          Pattern.MULTILINE);

    private OverloadKit() {
    }

    /**
     * The launcher's default JVM options ({@code DEFAULT_JAVA_OPTS} or {@code DEFAULT_HUB_JAVA_OPTS}), as shipped:
     * with its {@code TRIM_JAVA_OPTS}, which it adds where the JVM has them as product options (Java 23 and later;
     * the child JVMs here run on this one's Java).
     *
     * @param hub the hub's options
     * @return options, in order
     */
    static List<String> launcherOptions(boolean hub) {
        List<String> options = new ArrayList<>(launcherLine(hub ? "DEFAULT_HUB_JAVA_OPTS" : "DEFAULT_JAVA_OPTS"));
        if (Runtime.version().feature() >= 23) {
            options.addAll(launcherLine("TRIM_JAVA_OPTS"));
        }
        return List.copyOf(options);
    }

    private static List<String> launcherLine(String name) {
        try {
            Matcher m = Pattern.compile("^" + name + "=\"([^\"]+)\"", Pattern.MULTILINE).matcher(Files.readString(LAUNCHER));
            if (!m.find()) {
                throw new AssertionError(name + " not found in " + LAUNCHER);
            }
            return List.of(m.group(1).trim().split("\\s+"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The variables of an agent run as shipped: {@link io.nowconnect.testkit.Harness#agentVars} without its faster
     * test pings, reconnects and connect timeout (the defaults apply), with an HTTP endpoint for {@code /readyz} and
     * {@code /metrics}, a stream limit and warnings only.
     *
     * @param url hub URL
     * @param tokenFile token file
     * @param targets connector name to target port on 127.0.0.1, in order
     * @param httpPort the agent's HTTP port
     * @param maxStreams {@code NC_MAX_INFLIGHT_CIDS}
     * @return variables (modifiable)
     */
    static Map<String, String> agentEnv(String url, Path tokenFile, Map<String, Integer> targets, int httpPort,
                                        int maxStreams) {
        Map<String, String> env = io.nowconnect.testkit.Harness.agentVars(url, tokenFile, targets);
        env.keySet().removeAll(Set.of("NC_PING_INTERVAL_SEC", "NC_PING_TIMEOUT_SEC", "NC_RECONNECT_MIN_MS",
                                      "NC_RECONNECT_MAX_MS", "NC_CONNECT_TIMEOUT_MS"));
        env.put("NC_HTTP_HOST", "127.0.0.1");
        env.put("NC_HTTP_PORT", Integer.toString(httpPort));
        env.put("NC_MAX_INFLIGHT_CIDS", Integer.toString(maxStreams));
        env.put("NC_LOG_LEVEL", "WARNING");
        return env;
    }

    /**
     * {@code io.nowconnect.Main hub|agent} as a child JVM with the launcher's options for that mode and a GC log, its
     * {@code NC_*} variables only those given.
     *
     * <p>For diagnosis, two variables of the test run: {@code NC_TEST_GC_DIR} keeps the GC and safepoint logs (with
     * wall-clock times) in that directory, and {@code NC_TEST_JAVA_OPTS_HUB} / {@code NC_TEST_JAVA_OPTS_AGENT} add
     * JVM options after the launcher's (e.g. a flight recording, or another collector to compare); such a node is
     * stopped with SIGTERM (up to 20 s) before it is killed, so that its recording is written.
     */
    static final class Node implements AutoCloseable {
        final String mode;
        /** The name of its log files (the mode unless several of a mode run). */
        final String name;
        final Path log;
        final Path gcLog;
        final Process process;
        /** Run with diagnostic JVM options: stopped with SIGTERM first, so that a flight recording gets written. */
        private final boolean diagnosed;

        Node(Path dir, String mode, Map<String, String> env) {
            this(dir, mode, mode, env, List.of());
        }

        /**
         * A node named apart from its mode (two agents of one test), with JVM options after the launcher's (what an
         * operator adds to them, e.g. {@code -Dnowconnect.bin1=false}).
         */
        Node(Path dir, String mode, String name, Map<String, String> env, List<String> moreOptions) {
            this.mode = mode;
            this.name = name;
            this.log = dir.resolve(name + ".log");
            String keep = System.getenv("NC_TEST_GC_DIR");
            this.gcLog = keep == null ? dir.resolve(name + "-gc.log") : Path.of(keep, name + "-gc.log");
            String extra = System.getenv("NC_TEST_JAVA_OPTS_" + mode.toUpperCase(java.util.Locale.ROOT));
            this.diagnosed = extra != null && !extra.isBlank();
            process = ChildJvm.main("io.nowconnect.Main").options(launcherOptions(mode.equals("hub"))).options(moreOptions)
                    .options(extra == null || extra.isBlank() ? List.of() : List.of(extra.trim().split("\\s+")))
                    .options("-Xlog:gc,safepoint:file=" + gcLog + ":time,uptime").args(mode).env(Map.of("MALLOC_ARENA_MAX", "2")).env(env).log(log)
                    .start();
        }

        /** Wait until a GET of the path on the port answers 200 (the process is up). */
        void awaitHttp(int port, String path, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                assertAlive("starting");
                if (status(port, path) == 200) {
                    return;
                }
                FaultKit.sleep(50);
            }
            throw new AssertionError(mode + " did not answer " + path + " on " + port + " within " + timeout + ": "
                                             + FaultKit.HubProcess.tail(log));
        }

        void assertAlive(String when) {
            if (!process.isAlive()) {
                throw new AssertionError(mode + " process died (" + when + "), exit " + process.exitValue() + ": "
                                                 + FaultKit.HubProcess.tail(log));
            }
        }

        /**
         * The largest heap in use the GC log saw (before a collection) and the largest after one, in MiB.
         *
         * @return {peak used, peak live}
         */
        double[] heapPeaksMib() {
            double peak = 0;
            double live = 0;
            try {
                for (String line : Files.readAllLines(gcLog)) {
                    Matcher m = GC_LINE.matcher(line);
                    if (m.find()) {
                        peak = Math.max(peak, mib(m.group(1), m.group(2)));
                        live = Math.max(live, mib(m.group(3), m.group(4)));
                    }
                }
            } catch (IOException e) {
                return new double[] {-1, -1};
            }
            return new double[] {peak, live};
        }

        /**
         * The live heap now, in MiB: {@code jcmd PID GC.class_histogram} collects fully first, so its total is what
         * is reachable (the GC log's sizes after a young collection include old garbage not yet collected).
         *
         * @return MiB, or -1 when jcmd failed
         */
        double liveHeapMib() {
            Path jcmd = Path.of(FaultKit.javaBinary()).resolveSibling("jcmd");
            FaultKit.Cmd c = FaultKit.run(List.of(jcmd.toString(), Long.toString(process.pid()), "GC.class_histogram"),
                                          60);
            Matcher m = Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)").matcher(c.output());
            return m.find() ? Long.parseLong(m.group(1)) / 1048576.0 : -1;
        }

        /** {@code jcmd PID GC.heap_info}, first lines. */
        String heapInfo() {
            Path jcmd = Path.of(FaultKit.javaBinary()).resolveSibling("jcmd");
            FaultKit.Cmd c = FaultKit.run(List.of(jcmd.toString(), Long.toString(process.pid()), "GC.heap_info"), 20);
            return c.output().lines().skip(1).limit(3).map(String::strip).reduce((a, b) -> a + " | " + b).orElse("");
        }

        private static double mib(String n, String unit) {
            double v = Double.parseDouble(n);
            return switch (unit) {
            case "K" -> v / 1024;
            case "G" -> v * 1024;
            default -> v;
            };
        }

        @Override
        public void close() {
            if (diagnosed) {
                // a flight recording is written at a normal exit only
                process.destroy();
                try {
                    process.waitFor(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            process.destroyForcibly();
            try {
                // kept for diagnosis: the test's directory is deleted after it
                Path keep = Files.createDirectories(Path.of("target", "overload-logs"));
                Files.copy(log, keep.resolve(name + "-" + process.pid() + ".log"),
                           java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException ignored) {
                // best effort
            }
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static int status(int port, String path) {
        try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build()) {
            return c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                  .timeout(Duration.ofSeconds(2)).build(),
                          HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /**
     * {@code /metrics} of a hub or agent: every sample as {@code name{labels}} to its value (empty when unreachable).
     *
     * @param port HTTP port
     * @return samples
     */
    static Map<String, Double> metrics(int port) {
        try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            String body = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                                         .timeout(Duration.ofSeconds(10)).build(),
                                 HttpResponse.BodyHandlers.ofString()).body();
            Map<String, Double> out = new HashMap<>();
            Matcher m = METRIC.matcher(body);
            while (m.find()) {
                String key = m.group(1) + (m.group(2) == null ? "" : m.group(2));
                try {
                    out.put(key, Double.parseDouble(m.group(3)));
                } catch (NumberFormatException ignored) {
                    // not a sample
                }
            }
            return out;
        } catch (IOException e) {
            return Map.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Map.of();
        }
    }

    /** Sum of the samples of a metric whose labels contain every given fragment (e.g. {@code result="ok"}). */
    static double sum(Map<String, Double> samples, String name, String... labelParts) {
        double total = 0;
        for (Map.Entry<String, Double> e : samples.entrySet()) {
            String k = e.getKey();
            if (!(k.equals(name) || k.startsWith(name + "{"))) {
                continue;
            }
            if (Arrays.stream(labelParts).allMatch(k::contains)) {
                total += e.getValue();
            }
        }
        return total;
    }

    /**
     * A memory gauge pair watched while a case runs: every sample of used must stay within the limit.
     */
    static final class GaugeWatch {
        final String used;
        final String limitName;
        final int port;
        volatile double peak;
        volatile double limit;
        volatile int samples;
        final List<String> violations = new CopyOnWriteArrayList<>();

        GaugeWatch(int port, String prefix) {
            this.port = port;
            this.used = prefix + "_memory_used_bytes";
            this.limitName = prefix + "_memory_limit_bytes";
        }

        /** Scrape once; returns the samples. */
        Map<String, Double> sample() {
            Map<String, Double> m = metrics(port);
            if (m.keySet().stream().anyMatch(k -> k.startsWith(limitName))) {
                double u = sum(m, used);
                limit = sum(m, limitName);
                peak = Math.max(peak, u);
                samples++;
                if (u > limit) {
                    violations.add(u + " > " + limit);
                }
            }
            return m;
        }

        String figure() {
            return String.format("%s peak %.1f MiB of %.0f MiB (%.0f %%, %d samples)", used, peak / (1 << 20),
                                 limit / (1 << 20), limit == 0 ? 0 : 100 * peak / limit, samples);
        }
    }

    /**
     * A loopback target that accepts every connection and never reads from it (a small receive buffer, so the agent
     * holds what it is sent); optionally it writes to each connection without end (a never-ending answer nobody
     * reads).
     */
    static final class StalledTarget implements AutoCloseable {
        private final ServerSocket server;
        private final boolean sends;
        final AtomicInteger accepted = new AtomicInteger();
        final AtomicLong sent = new AtomicLong();
        final Set<Socket> open = ConcurrentHashMap.newKeySet();

        StalledTarget(boolean sends) throws IOException {
            this.sends = sends;
            server = new ServerSocket();
            server.setReceiveBufferSize(4096);
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096);
            Thread.ofVirtual().name("stalled-target").start(this::acceptLoop);
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
                    if (sends) {
                        s.setSendBufferSize(8192);
                        Thread.ofVirtual().start(() -> sendForever(s));
                    }
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void sendForever(Socket s) {
            byte[] chunk = new byte[8192];
            try {
                OutputStream out = s.getOutputStream();
                while (true) {
                    out.write(chunk);
                    sent.addAndGet(chunk.length);
                }
            } catch (IOException ignored) {
                // closed or reset
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

    /**
     * Clients of a hub listener that each write until TCP blocks them (at most {@code cap} bytes), or never read.
     */
    static final class LoadClients implements AutoCloseable {
        final List<Socket> sockets = new CopyOnWriteArrayList<>();
        final AtomicLong written = new AtomicLong();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicInteger finished = new AtomicInteger();

        /**
         * Connect {@code count} clients to the port.
         *
         * @param port hub listener
         * @param count clients
         * @param upload whether each writes (until blocked or {@code cap} bytes); else each only never reads
         * @param cap most bytes per uploading client
         */
        LoadClients(int port, int count, boolean upload, long cap) throws IOException {
            byte[] chunk = new byte[8192];
            for (int i = 0; i < count; i++) {
                Socket s = new Socket();
                if (upload) {
                    s.setSendBufferSize(16384);
                } else {
                    s.setReceiveBufferSize(4096);
                }
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
                sockets.add(s);
                if (upload) {
                    Thread.ofVirtual().start(() -> {
                        try {
                            OutputStream out = s.getOutputStream();
                            for (long n = 0; n < cap; n += chunk.length) {
                                out.write(chunk);
                                written.addAndGet(chunk.length);
                            }
                            finished.incrementAndGet();
                        } catch (IOException e) {
                            if (!s.isClosed()) {
                                failed.incrementAndGet();
                            }
                        }
                    });
                }
            }
        }

        @Override
        public void close() {
            for (Socket s : sockets) {
                try {
                    s.setSoLinger(true, 0);
                    s.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }
    }

    /**
     * Times round trips of a small message on one echo connection, one every {@code periodMs}, until stopped. A probe
     * that gets no answer within 15 s, or a wrong one, is a failure.
     */
    static final class Prober implements AutoCloseable {
        private final List<Long> nanos = new CopyOnWriteArrayList<>();
        final List<String> failures = new CopyOnWriteArrayList<>();
        private final Thread thread;
        private volatile boolean stop;

        /**
         * Probe through a round-trip function (send one message, wait for its echo; throw on a wrong or no answer).
         *
         * @param roundTrip one probe; returns normally when the answer came
         * @param periodMs pause between probes
         */
        Prober(ProbeCall roundTrip, long periodMs) {
            thread = Thread.ofPlatform().name("overload-prober").daemon().start(() -> {
                int i = 0;
                while (!stop) {
                    long t0 = System.nanoTime();
                    try {
                        roundTrip.probe(i++);
                        nanos.add(System.nanoTime() - t0);
                    } catch (Exception | AssertionError e) {
                        failures.add("probe " + i + ": " + e);
                        return;
                    }
                    FaultKit.sleep(periodMs);
                }
            });
        }

        /** One echo probe over a socket. */
        static ProbeCall socket(Socket s) throws IOException {
            s.setSoTimeout(15_000);
            s.setTcpNoDelay(true);
            return i -> {
                byte[] msg = String.format("probe %010d", i).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                s.getOutputStream().write(msg);
                byte[] back = s.getInputStream().readNBytes(msg.length);
                if (!Arrays.equals(msg, back)) {
                    throw new IOException("wrong echo: " + new String(back, java.nio.charset.StandardCharsets.US_ASCII));
                }
            };
        }

        int count() {
            return nanos.size();
        }

        /** Latency at a quantile (0..1), in ms. */
        double quantileMs(double q) {
            return quantileMs(q, 0);
        }

        /** Latency at a quantile (0..1) of the probes from a {@link #count()} taken before, in ms. */
        double quantileMs(double q, int from) {
            List<Long> all = List.copyOf(nanos);
            List<Long> sorted = new ArrayList<>(all.subList(Math.min(from, all.size()), all.size()));
            if (sorted.isEmpty()) {
                return Double.NaN;
            }
            sorted.sort(null);
            int idx = (int) Math.ceil(q * sorted.size()) - 1;
            return sorted.get(Math.max(0, Math.min(sorted.size() - 1, idx))) / 1e6;
        }

        String figure() {
            return figure(0);
        }

        /** p50, p99 and max of the probes from a {@link #count()} taken before. */
        String figure(int from) {
            return String.format("probes %d: p50 %.1f ms, p99 %.1f ms, max %.1f ms", count() - from,
                                 quantileMs(0.5, from), quantileMs(0.99, from), quantileMs(1.0, from));
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.join(20_000);
        }
    }

    /** One probe: send and wait for the answer. */
    @FunctionalInterface
    interface ProbeCall {
        void probe(int i) throws Exception;
    }

    /**
     * Wait until a byte counter stops growing (less than 1 MiB in a second): the socket buffers on the way are full
     * and every stream is stalled.
     *
     * @return milliseconds waited
     */
    static long awaitStalled(AtomicLong counter, Duration timeout) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        long last = counter.get();
        while (System.nanoTime() < deadline) {
            FaultKit.sleep(1000);
            long now = counter.get();
            if (now - last < (1 << 20)) {
                break;
            }
            last = now;
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    /**
     * Wait until a byte counter of a process's metrics grows by less than 1 MiB a second, twice in a row: the data in
     * flight has settled into the socket buffers on the way (the kernel takes hundreds of MiB before a stalled peer
     * holds everything up).
     *
     * @param port HTTP port with {@code /metrics}
     * @param counter metric name (summed over its labels)
     * @param timeout longest wait
     * @return milliseconds waited
     */
    static long awaitQuiet(int port, String counter, Duration timeout) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        double last = sum(metrics(port), counter);
        int quiet = 0;
        while (System.nanoTime() < deadline && quiet < 2) {
            FaultKit.sleep(1000);
            double now = sum(metrics(port), counter);
            quiet = now - last < (1 << 20) ? quiet + 1 : 0;
            last = now;
        }
        return (System.nanoTime() - start) / 1_000_000;
    }
}
