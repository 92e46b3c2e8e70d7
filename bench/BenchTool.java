// Load generators, the echo target and the report writer of bench/run, in one file with no dependencies.
// bench/run compiles it once (javac --release 21) and runs its subcommands:
//   echo PORT                                  echo server (one virtual thread per connection) on 127.0.0.1:PORT
//   setup HOST PORT THREADS SECONDS            connect, one echoed byte, close, in a loop from THREADS threads
//   ldap HOST PORT CLIENTS PER_CLIENT USERS [RATE]  CLIENTS JNDI connections, PER_CLIENT uid searches each, at once;
//                                               with RATE (searches/s in all) the searches are paced: an open-loop
//                                               schedule, latency counted from each search's scheduled time
//   hold HOST PORT COUNT THREADS RELEASE_FILE  open COUNT connections, echo one byte on each, keep them open until
//                                              RELEASE_FILE exists, then close them
//   tls HOST PORT CA_PEM                       one TLS handshake as the agent makes it (the JDK's default suites,
//                                              TLS 1.3 and 1.2, the CA as trust): the version and suite agreed
//   report RESULTS_TSV JSON_OUT key=value...   print the table and write the JSON
// Measuring commands print "key=value" lines on standard output; a broken run exits non-zero.

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.naming.Context;
import javax.naming.NamingEnumeration;
import javax.naming.directory.InitialDirContext;
import javax.naming.directory.SearchControls;
import javax.naming.directory.SearchResult;

public class BenchTool {

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        if (args.length == 0) {
            usage();
        }
        switch (args[0]) {
            case "echo" -> echo(Integer.parseInt(args[1]));
            case "setup" -> setup(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]),
                    Double.parseDouble(args[4]));
            case "ldap" -> ldap(args.length > 6 ? Double.parseDouble(args[6]) : 0, args[1], Integer.parseInt(args[2]),
                    Integer.parseInt(args[3]), Integer.parseInt(args[4]), Integer.parseInt(args[5]));
            case "hold" -> hold(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]), Path.of(args[5]));
            case "tls" -> tls(args[1], Integer.parseInt(args[2]), Path.of(args[3]));
            case "report" -> report(Path.of(args[1]), Path.of(args[2]), Arrays.copyOfRange(args, 3, args.length));
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: BenchTool echo|setup|ldap|hold|tls|report ... (see the head of BenchTool.java)");
        System.exit(2);
    }

    // ---------------------------------------------------------------- echo target

    static void echo(int port) throws IOException {
        ServerSocket server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 4096);
        System.out.println("echo listening on 127.0.0.1:" + port);
        System.out.flush();
        while (true) {
            Socket s = server.accept();
            Thread.ofVirtual().start(() -> {
                try (s) {
                    s.setTcpNoDelay(true);
                    InputStream in = s.getInputStream();
                    OutputStream out = s.getOutputStream();
                    byte[] buf = new byte[16384];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        out.write(buf, 0, n);
                    }
                } catch (IOException ignored) {
                    // the peer went away
                }
            });
        }
    }

    // ---------------------------------------------------------------- stream set-up

    static void setup(String host, int port, int threads, double seconds) throws Exception {
        InetSocketAddress addr = new InetSocketAddress(host, port);
        AtomicLong errors = new AtomicLong();
        AtomicInteger firstErrorSet = new AtomicInteger();
        String[] firstError = new String[1];
        LongList[] lat = new LongList[threads];
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        long[] deadline = new long[1];
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            LongList mine = lat[i] = new LongList();
            Thread t = Thread.ofPlatform().name("setup-" + i).start(() -> {
                try {
                    start.await();
                } catch (Exception e) {
                    return;
                }
                while (System.nanoTime() < deadline[0]) {
                    long t0 = System.nanoTime();
                    try (Socket s = new Socket()) {
                        s.setTcpNoDelay(true);
                        s.setSoTimeout(5000);
                        s.connect(addr, 5000);
                        s.getOutputStream().write(42);
                        int b = s.getInputStream().read();
                        if (b != 42) {
                            throw new IOException("echo returned " + b);
                        }
                    } catch (IOException e) {
                        errors.incrementAndGet();
                        if (firstErrorSet.compareAndSet(0, 1)) {
                            firstError[0] = e.toString();
                        }
                        sleepQuietly(10);
                        continue;
                    }
                    mine.add(System.nanoTime() - t0);
                }
            });
            ts.add(t);
        }
        deadline[0] = System.nanoTime() + (long) (seconds * 1e9);
        long t0 = System.nanoTime();
        start.await();
        for (Thread t : ts) {
            t.join();
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        long[] all = LongList.merge(lat);
        Arrays.sort(all);
        kv("streams", all.length);
        kv("errors", errors.get());
        kv("seconds", wall);
        kv("streams_per_s", all.length / wall);
        kv("p50_ms", pct(all, 50) / 1e6);
        kv("p99_ms", pct(all, 99) / 1e6);
        if (firstError[0] != null) {
            kv("first_error", firstError[0].replace('\n', ' '));
        }
        System.exit(all.length == 0 || errors.get() > 0 ? 1 : 0);
    }

    // ---------------------------------------------------------------- LDAP searches

    static void ldap(double rate, String host, int port, int clients, int perClient, int users) throws Exception {
        Hashtable<String, Object> env = new Hashtable<>();
        env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.ldap.LdapCtxFactory");
        env.put(Context.PROVIDER_URL, "ldap://" + host + ":" + port + "/dc=bench,dc=local");
        env.put(Context.SECURITY_AUTHENTICATION, "none");
        env.put("com.sun.jndi.ldap.connect.pool", "false");
        env.put("com.sun.jndi.ldap.connect.timeout", "5000");
        env.put("com.sun.jndi.ldap.read.timeout", "10000");
        SearchControls controls = new SearchControls();
        controls.setSearchScope(SearchControls.SUBTREE_SCOPE);
        controls.setReturningAttributes(new String[] {"cn", "uid", "mail"});
        AtomicLong errors = new AtomicLong();
        String[] firstError = new String[1];
        LongList[] lat = new LongList[clients];
        CyclicBarrier start = new CyclicBarrier(clients + 1);
        long[] startNanos = new long[1];
        CountDownLatch done = new CountDownLatch(clients);
        for (int c = 0; c < clients; c++) {
            int client = c;
            LongList mine = lat[c] = new LongList();
            Thread.ofPlatform().name("ldap-" + c).start(() -> {
                InitialDirContext ctx = null;
                try {
                    ctx = new InitialDirContext(env);
                    for (int w = 0; w < 2; w++) { // warm-up: connection established, classes loaded
                        search(ctx, controls, (client * 7 + w) % users);
                    }
                } catch (Exception e) {
                    errors.incrementAndGet();
                    synchronized (firstError) {
                        if (firstError[0] == null) firstError[0] = e.toString();
                    }
                }
                try {
                    start.await();
                } catch (Exception e) {
                    done.countDown();
                    return;
                }
                try {
                    if (ctx != null) {
                        for (int i = 0; i < perClient; i++) {
                            long t0 = System.nanoTime();
                            if (rate > 0) {
                                // search i of client c is due at (i * clients + c) / rate after the start; waiting
                                // until then, and counting from then, keeps a slow answer from hiding the queue
                                // behind it (no coordinated omission)
                                long due = startNanos[0] + (long) ((i * (double) clients + client) / rate * 1e9);
                                long wait = due - System.nanoTime();
                                if (wait > 0) {
                                    java.util.concurrent.locks.LockSupport.parkNanos(wait);
                                }
                                t0 = due;
                            }
                            try {
                                if (search(ctx, controls, (client * 131 + i * 17) % users) != 1) {
                                    throw new IllegalStateException("search did not return exactly one entry");
                                }
                                mine.add(System.nanoTime() - t0);
                            } catch (Exception e) {
                                errors.incrementAndGet();
                                synchronized (firstError) {
                                    if (firstError[0] == null) firstError[0] = e.toString();
                                }
                            }
                        }
                    }
                } finally {
                    try {
                        if (ctx != null) ctx.close();
                    } catch (Exception ignored) {
                        // closing
                    }
                    done.countDown();
                }
            });
        }
        startNanos[0] = System.nanoTime() + 20_000_000L;
        start.await();
        long t0 = rate > 0 ? startNanos[0] : System.nanoTime();
        done.await();
        double wall = (System.nanoTime() - t0) / 1e9;
        long[] all = LongList.merge(lat);
        Arrays.sort(all);
        kv("searches", all.length);
        kv("errors", errors.get());
        kv("seconds", wall);
        kv("searches_per_s", all.length / wall);
        kv("p50_ms", pct(all, 50) / 1e6);
        kv("p99_ms", pct(all, 99) / 1e6);
        if (firstError[0] != null) {
            kv("first_error", firstError[0].replace('\n', ' '));
        }
        System.exit(all.length == 0 || errors.get() > 0 ? 1 : 0);
    }

    private static int search(InitialDirContext ctx, SearchControls controls, int user) throws Exception {
        NamingEnumeration<SearchResult> results = ctx.search("ou=people", "(uid=user" + user + ")", controls);
        int n = 0;
        try {
            while (results.hasMore()) {
                results.next().getAttributes();
                n++;
            }
        } finally {
            results.close();
        }
        return n;
    }

    // ---------------------------------------------------------------- many open streams

    static void hold(String host, int port, int count, int threads, Path release) throws Exception {
        InetSocketAddress addr = new InetSocketAddress(host, port);
        ConcurrentLinkedQueue<Socket> open = new ConcurrentLinkedQueue<>();
        AtomicInteger next = new AtomicInteger();
        AtomicLong errors = new AtomicLong();
        String[] firstError = new String[1];
        long t0 = System.nanoTime();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            ts.add(Thread.ofPlatform().name("hold-" + i).start(() -> {
                while (next.getAndIncrement() < count) {
                    Socket s = new Socket();
                    try {
                        s.setSoTimeout(30_000);
                        s.connect(addr, 10_000);
                        s.getOutputStream().write(7);
                        int b = s.getInputStream().read();
                        if (b != 7) {
                            throw new IOException("echo returned " + b);
                        }
                        open.add(s);
                    } catch (IOException e) {
                        errors.incrementAndGet();
                        synchronized (firstError) {
                            if (firstError[0] == null) firstError[0] = e.toString();
                        }
                        try {
                            s.close();
                        } catch (IOException ignored) {
                            // already broken
                        }
                    }
                }
            }));
        }
        for (Thread t : ts) {
            t.join();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        kv("held", open.size());
        kv("errors", errors.get());
        kv("open_seconds", secs);
        if (firstError[0] != null) {
            kv("first_error", firstError[0].replace('\n', ' '));
        }
        kv("state", "HELD");
        long waitUntil = System.nanoTime() + 600_000_000_000L;
        while (!Files.exists(release) && System.nanoTime() < waitUntil) {
            sleepQuietly(20);
        }
        // still open? a stream the tunnel dropped reads EOF or fails here
        int alive = 0;
        for (Socket s : open) {
            try {
                s.setSoTimeout(1);
                s.getInputStream().read();
            } catch (java.net.SocketTimeoutException e) {
                alive++;
            } catch (IOException e) {
                // dropped
            }
        }
        kv("alive_at_release", alive);
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        System.exit(open.size() == count && errors.get() == 0 && alive == count ? 0 : 1);
    }

    // ---------------------------------------------------------------- tls

    static void tls(String host, int port, Path caPem) throws Exception {
        java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(caPem)) {
            int i = 0;
            for (java.security.cert.Certificate c
                    : java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca-" + i++, c);
            }
        }
        javax.net.ssl.TrustManagerFactory tmf =
                javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) context.getSocketFactory().createSocket()) {
            socket.connect(new InetSocketAddress(host, port), 5000);
            socket.setSoTimeout(5000);
            socket.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
            socket.startHandshake();
            javax.net.ssl.SSLSession session = socket.getSession();
            kv("protocol", session.getProtocol());
            kv("cipher_suite", session.getCipherSuite());
            kv("packet_buffer", session.getPacketBufferSize());
            kv("application_buffer", session.getApplicationBufferSize());
        }
    }

    // ---------------------------------------------------------------- report

    /** One row of the table: a metric measured in up to four columns. */
    static final class Row {
        final String figure;
        final String metric;
        final String unit;
        Double direct;
        Double tunnel;
        Double peer;
        Double wss;
        Double yamux;
        final List<Goal> goals = new ArrayList<>();

        Row(String figure, String metric, String unit) {
            this.figure = figure;
            this.metric = metric;
            this.unit = unit;
        }

        /** Adds a goal; met is null when a column it needs is missing (or in smoke mode). */
        void goal(String text, Boolean met) {
            goals.add(new Goal(text, met));
        }

        String goalText() {
            List<String> parts = new ArrayList<>();
            for (Goal g : goals) {
                parts.add(g.text + (g.met == null ? "" : g.met ? "  met" : "  MISSED"));
            }
            return String.join("; ", parts);
        }

        /** All goals met: true; any missed: false; else (none judged) null. */
        Boolean goalsMet() {
            Boolean all = null;
            for (Goal g : goals) {
                if (g.met != null) {
                    all = (all == null || all) && g.met;
                }
            }
            return all;
        }
    }

    /** One goal of a row and whether this run met it. */
    record Goal(String text, Boolean met) {
    }

    static void report(Path tsv, Path jsonOut, String[] meta) throws IOException {
        Map<String, Row> rows = new LinkedHashMap<>();
        List<String[]> errors = new ArrayList<>();
        for (String line : Files.readAllLines(tsv, StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            String[] f = line.split("\t", -1);
            if (f[0].equals("ERROR")) {
                errors.add(new String[] {f[1], f[2], f.length > 3 ? f[3] : ""});
                continue;
            }
            // figure, metric, column, value, unit
            String key = f[0] + "\u0000" + f[1];
            Row r = rows.computeIfAbsent(key, k -> new Row(f[0], f[1], f[4]));
            double v = Double.parseDouble(f[3]);
            switch (f[2]) {
                case "direct" -> r.direct = v;
                case "tunnel" -> r.tunnel = v;
                case "peer" -> r.peer = v;
                case "wss" -> r.wss = v;
                case "yamux" -> r.yamux = v;
                default -> throw new IllegalArgumentException("column " + f[2]);
            }
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (String kv : meta) {
            int eq = kv.indexOf('=');
            m.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        boolean smoke = "smoke".equals(m.get("mode"));
        for (Row r : rows.values()) {
            applyGoals(r);
            if (smoke) {
                // smoke durations and counts are too small to hold against a goal
                r.goals.replaceAll(g -> new Goal(g.text, null));
            }
        }
        boolean anyPeer = rows.values().stream().anyMatch(r -> r.peer != null);
        boolean anyWss = rows.values().stream().anyMatch(r -> r.wss != null);
        boolean anyYamux = rows.values().stream().anyMatch(r -> r.yamux != null);

        // table
        List<String[]> table = new ArrayList<>();
        List<String> head = new ArrayList<>(List.of("figure", "metric", "unit", "direct", "tunnel", "tunnel/direct"));
        if (anyPeer) {
            head.addAll(List.of("peer", "peer/direct"));
        }
        if (anyWss) {
            head.addAll(List.of("wss", "wss/ws"));
        }
        if (anyYamux) {
            head.addAll(List.of("yamux", "tunnel/yamux"));
        }
        head.add("goals");
        table.add(head.toArray(String[]::new));
        for (Row r : rows.values()) {
            List<String> c = new ArrayList<>(List.of(r.figure, r.metric, r.unit, num(r.direct), num(r.tunnel),
                    ratio(r.tunnel, r.direct)));
            if (anyPeer) {
                c.add(num(r.peer));
                c.add(ratio(r.peer, r.direct));
            }
            if (anyWss) {
                c.add(num(r.wss));
                c.add(ratio(r.wss, r.tunnel));
            }
            if (anyYamux) {
                c.add(num(r.yamux));
                c.add(ratio(r.tunnel, r.yamux));
            }
            c.add(r.goalText());
            table.add(c.toArray(String[]::new));
        }
        int[] w = new int[table.get(0).length];
        for (String[] row : table) {
            for (int i = 0; i < row.length; i++) w[i] = Math.max(w[i], row[i].length());
        }
        PrintStream out = System.out;
        out.println();
        out.println("NowConnect benchmark, " + m.getOrDefault("mode", "?") + " mode, protocol "
                + m.getOrDefault("protocol", "v1-json") + ", " + m.getOrDefault("timestamp", ""));
        for (int ri = 0; ri < table.size(); ri++) {
            String[] row = table.get(ri);
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                boolean left = i < 3 || i == row.length - 1;
                String cell = row[i];
                String pad = " ".repeat(w[i] - cell.length());
                sb.append(left ? cell + pad : pad + cell).append(i == row.length - 1 ? "" : "  ");
            }
            out.println(sb.toString().stripTrailing());
            if (ri == 0) {
                StringBuilder dash = new StringBuilder();
                for (int i = 0; i < w.length; i++) dash.append("-".repeat(w[i])).append(i == w.length - 1 ? "" : "  ");
                out.println(dash);
            }
        }
        for (String[] e : errors) {
            out.println("ERROR " + e[0] + " [" + e[1] + "]: " + e[2]);
        }

        // JSON
        StringBuilder j = new StringBuilder("{\n");
        for (Map.Entry<String, String> e : m.entrySet()) {
            String v = e.getValue();
            boolean numeric = v.matches("-?[0-9]+(\\.[0-9]+)?") && !e.getKey().equals("timestamp");
            j.append("  ").append(q(e.getKey())).append(": ").append(numeric ? v : q(v)).append(",\n");
        }
        j.append("  \"figures\": [\n");
        int i = 0;
        for (Row r : rows.values()) {
            StringBuilder goals = new StringBuilder("[");
            for (Goal g : r.goals) {
                goals.append(goals.length() > 1 ? ", " : "").append("{\"goal\": ").append(q(g.text))
                        .append(", \"met\": ").append(g.met == null ? "null" : g.met.toString()).append("}");
            }
            goals.append("]");
            Boolean met = r.goalsMet();
            j.append("    {\"figure\": ").append(q(r.figure)).append(", \"metric\": ").append(q(r.metric))
                    .append(", \"unit\": ").append(q(r.unit))
                    .append(", \"direct\": ").append(jnum(r.direct))
                    .append(", \"tunnel\": ").append(jnum(r.tunnel))
                    .append(", \"peer\": ").append(jnum(r.peer))
                    .append(", \"wss\": ").append(jnum(r.wss))
                    .append(", \"yamux\": ").append(jnum(r.yamux))
                    .append(", \"tunnel_over_direct\": ").append(jnum(div(r.tunnel, r.direct)))
                    .append(", \"peer_over_direct\": ").append(jnum(div(r.peer, r.direct)))
                    .append(", \"wss_over_tunnel\": ").append(jnum(div(r.wss, r.tunnel)))
                    .append(", \"tunnel_over_yamux\": ").append(jnum(div(r.tunnel, r.yamux)))
                    .append(", \"goal\": ").append(r.goals.isEmpty() ? "null" : q(r.goalText()))
                    .append(", \"goal_met\": ").append(met == null ? "null" : met.toString())
                    .append(", \"goals\": ").append(goals)
                    .append("}").append(++i < rows.size() ? ",\n" : "\n");
        }
        j.append("  ],\n  \"errors\": [");
        for (int k = 0; k < errors.size(); k++) {
            String[] e = errors.get(k);
            j.append(k == 0 ? "\n" : ",\n").append("    {\"figure\": ").append(q(e[0])).append(", \"column\": ")
                    .append(q(e[1])).append(", \"message\": ").append(q(e[2])).append("}");
        }
        j.append(errors.isEmpty() ? "]\n}\n" : "\n  ]\n}\n");
        Files.writeString(jsonOut, j.toString());
    }

    /**
     * The goals of issues 17 and 27 (tunnel = ws://, hub and agent with the launcher's defaults), the kept ones of issue
     * 8 and the hub scale ones of issue 19. A goal whose columns are missing in this run is shown but not judged.
     */
    static void applyGoals(Row r) {
        String k = r.figure + "|" + r.metric;
        Double ratio = div(r.tunnel, r.direct);
        boolean bulk = r.figure.startsWith("bulk iperf3") && r.unit.equals("Mbit/s");
        if (bulk) {
            double goal = r.metric.equals("1 stream") ? 0.30 : 0.25;
            r.goal(">= " + goal + "x direct", ratio == null ? null : ratio >= goal);
        }
        if (bulk || k.equals("redis GET|ops/s") || k.equals("redis PING|ops/s")) {
            Double overPeer = div(r.tunnel, r.peer);
            if (r.peer != null) {
                r.goal(">= 1.25x peer", overPeer == null ? null : overPeer >= 1.25);
            }
        }
        if (bulk || k.equals("redis GET|ops/s") || k.equals("redis PING|ops/s") || k.equals("stream set-up x50|streams/s")) {
            // issue 27: at least frp's engine (stretch 1.25x)
            if (r.yamux != null) {
                Double overYamux = div(r.tunnel, r.yamux);
                r.goal(">= 1.0x yamux", overYamux == null ? null : overYamux >= 1.0);
            }
        }
        if (bulk && r.wss != null) {
            Double overWs = div(r.wss, r.tunnel);
            r.goal("wss >= 0.9x ws", overWs == null ? null : overWs >= 0.9);
        }
        switch (k) {
            case "redis GET|ops/s" -> {
                r.goals.add(0, new Goal(">= 0.40x direct", ratio == null ? null : ratio >= 0.40));
                if (r.wss != null) {
                    Double overWs = div(r.wss, r.tunnel);
                    r.goal("wss >= 0.9x ws", overWs == null ? null : overWs >= 0.9);
                }
            }
            case "redis GET|p50" -> r.goal("<= 0.5 ms added",
                    r.tunnel == null || r.direct == null ? null : r.tunnel - r.direct <= 0.5);
            case "ldap search x50|searches/s" -> r.goal(">= 0.4x direct", ratio == null ? null : ratio >= 0.4);
            case "ldap paced x50|p99" -> {
                r.goal("<= 10 ms", r.tunnel == null ? null : r.tunnel <= 10.0);
                r.goal("<= direct + 2 ms", r.tunnel == null || r.direct == null ? null : r.tunnel - r.direct <= 2.0);
            }
            case "stream set-up x50|streams/s" -> {
                r.goal(">= 5000/s", r.tunnel == null ? null : r.tunnel >= 5000);
                r.goal(">= 0.8x direct", ratio == null ? null : ratio >= 0.8);
            }
            case "scale|agent heap after GC" -> r.goal("<= 256 MiB at 10k streams",
                    r.tunnel == null ? null : r.tunnel <= 256);
            case "scale|heap per stream" -> r.goal("<= 16 KiB", r.tunnel == null ? null : r.tunnel <= 16);
            case "hub scale|heap per tunnel" -> r.goal("<= 16 KiB", r.tunnel == null ? null : r.tunnel <= 16);
            case "hub scale|time to accept all" -> r.goal("<= 10 s at 10k tunnels",
                    r.tunnel == null ? null : r.tunnel <= 10);
            case "hub scale|agents held" -> r.goal("10k on the launcher's hub defaults",
                    r.tunnel == null ? null : r.tunnel >= 10_000);
            case "agent at rest|RSS" -> {
                r.goal("<= 100 MB", r.tunnel == null ? null : r.tunnel <= 100);
                if (r.wss != null) {
                    r.goal("wss <= 100 MB", r.wss <= 100);
                }
            }
            case "agent at rest|start to READY" -> r.goal("<= 1.5 s", r.tunnel == null ? null : r.tunnel <= 1500);
            default -> {
                // no goal for this row
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    static final class LongList {
        long[] a = new long[1024];
        int n;

        void add(long v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        static long[] merge(LongList[] lists) {
            int total = 0;
            for (LongList l : lists) total += l.n;
            long[] all = new long[total];
            int p = 0;
            for (LongList l : lists) {
                System.arraycopy(l.a, 0, all, p, l.n);
                p += l.n;
            }
            return all;
        }
    }

    static double pct(long[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int idx = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, idx))];
    }

    static void kv(String k, Object v) {
        if (v instanceof Double d) {
            System.out.println(k + "=" + String.format("%.3f", d));
        } else {
            System.out.println(k + "=" + v);
        }
        System.out.flush();
    }

    static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static Double div(Double a, Double b) {
        return a == null || b == null || b == 0 ? null : a / b;
    }

    static String num(Double v) {
        if (v == null) return "-";
        double a = Math.abs(v);
        if (a >= 1000) return String.format("%,.0f", v);
        if (a >= 100) return String.format("%.0f", v);
        if (a >= 10) return String.format("%.1f", v);
        return String.format("%.2f", v);
    }

    static String ratio(Double a, Double b) {
        Double r = div(a, b);
        return r == null ? "-" : String.format("%.2f", r);
    }

    static String jnum(Double v) {
        return v == null || v.isNaN() || v.isInfinite() ? "null" : String.format("%.4f", v).replaceAll("\\.?0+$", "");
    }

    static String q(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }
}
