package io.nowconnect.faults;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;

/**
 * A child process for the many-streams case, so that no process holds more than about 10,000 sockets (the open-file
 * limit here is 20,000 per process and cannot be raised without CAP_SYS_RESOURCE).
 *
 * <ul>
 * <li>{@code echo}: listen on a free loopback port, print {@code PORT n}, echo every connection; on a stdin line
 * {@code ?} print {@code OPEN n} (connections open now).</li>
 * <li>{@code clients PORT N}: open N connections to PORT, send one byte on each and read it back, print
 * {@code READY n ms} (n = connections that echoed); on a stdin line {@code close} close them all and print
 * {@code CLOSED}.</li>
 * <li>{@code probe PORT PERIOD_MS TIMEOUT_MS}: print {@code T0 epochMs}, then start one echo request every PERIOD_MS
 * on schedule (a slow one does not hold back the next: each runs on its own thread), each on a new connection: connect,
 * send 32 bytes, read them back, half-close, read the end. Per request print {@code R seq startEpochMs latencyMicros OK}
 * (latency from the connect to the last echoed byte) or {@code R seq startEpochMs micros FAIL reason} (no connection, a
 * reset, a wrong or missing echo, no end, nothing within TIMEOUT_MS). Runs until stdin ends.</li>
 * </ul>
 */
public final class LoadPeer {
    private LoadPeer() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
        case "echo" -> echo();
        case "clients" -> clients(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
        case "probe" -> probe(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
        default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void echo() throws IOException {
        ServerSocket server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8192);
        Set<Socket> open = ConcurrentHashMap.newKeySet();
        Thread.ofVirtual().start(() -> {
            while (true) {
                try {
                    Socket s = server.accept();
                    open.add(s);
                    Thread.ofVirtual().start(() -> {
                        try (s) {
                            InputStream in = s.getInputStream();
                            OutputStream out = s.getOutputStream();
                            byte[] buf = new byte[512];
                            int n;
                            while ((n = in.read(buf)) >= 0) {
                                out.write(buf, 0, n);
                            }
                        } catch (IOException ignored) {
                            // reset
                        } finally {
                            open.remove(s);
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
        System.out.println("PORT " + server.getLocalPort());
        System.out.flush();
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = stdin.readLine()) != null) {
            if (line.equals("?")) {
                System.out.println("OPEN " + open.size());
                System.out.flush();
            }
        }
        System.exit(0);
    }

    private static void clients(int port, int count) throws Exception {
        long start = System.nanoTime();
        List<Socket> sockets = java.util.Collections.synchronizedList(new ArrayList<>());
        Semaphore parallel = new Semaphore(400);
        List<Future<Boolean>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < count; i++) {
                parallel.acquire();
                results.add(pool.submit(() -> {
                    try {
                        Socket s = new Socket();
                        sockets.add(s);
                        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
                        s.setSoTimeout(30_000);
                        s.getOutputStream().write('x');
                        return s.getInputStream().read() == 'x';
                    } catch (IOException e) {
                        return false;
                    } finally {
                        parallel.release();
                    }
                }));
            }
            int ok = 0;
            for (Future<Boolean> f : results) {
                ok += f.get() ? 1 : 0;
            }
            System.out.println("READY " + ok + " " + (System.nanoTime() - start) / 1_000_000);
            System.out.flush();
        }
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = stdin.readLine()) != null) {
            if (line.equals("close")) {
                for (Socket s : sockets) {
                    try {
                        s.close();
                    } catch (IOException ignored) {
                        // closing
                    }
                }
                System.out.println("CLOSED");
                System.out.flush();
            }
        }
        System.exit(0);
    }

    private static void probe(int port, int periodMs, int timeoutMs) throws IOException {
        long t0 = System.currentTimeMillis();
        System.out.println("T0 " + t0);
        System.out.flush();
        Thread.ofPlatform().daemon().name("probe-schedule").start(() -> {
            for (int seq = 0; ; seq++) {
                long wait = t0 + (long) seq * periodMs - System.currentTimeMillis();
                if (wait > 0) {
                    try {
                        Thread.sleep(wait);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                int n = seq;
                Thread.ofVirtual().start(() -> System.out.println(probeOnce(n, port, timeoutMs)));
            }
        });
        // stdin ends when the test stops this process (or dies)
        while (System.in.read() >= 0) {
            // nothing to read but the end
        }
        System.exit(0);
    }

    private static String probeOnce(int seq, int port, int timeoutMs) {
        long start = System.currentTimeMillis();
        long t0 = System.nanoTime();
        String stage = "connect";
        long latency = -1;
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), timeoutMs);
            s.setSoTimeout(timeoutMs);
            byte[] msg = String.format("probe %010d %15d", seq, start).getBytes(StandardCharsets.US_ASCII);
            stage = "echo";
            s.getOutputStream().write(msg);
            byte[] back = s.getInputStream().readNBytes(msg.length);
            latency = (System.nanoTime() - t0) / 1000;
            if (!java.util.Arrays.equals(msg, back)) {
                return result(seq, start, latency, "FAIL echo: " + back.length + " of " + msg.length + " bytes"
                        + (back.length == msg.length ? ", wrong" : ", then the end"));
            }
            stage = "end";
            s.shutdownOutput();
            int b = s.getInputStream().read();
            return result(seq, start, latency, b < 0 ? "OK" : "FAIL end: more data after the echo");
        } catch (IOException e) {
            return result(seq, start, latency >= 0 ? latency : (System.nanoTime() - t0) / 1000, "FAIL " + stage + ": " + e);
        }
    }

    private static String result(int seq, long start, long micros, String outcome) {
        return "R " + seq + " " + start + " " + micros + " " + outcome;
    }
}
