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
 * </ul>
 */
public final class LoadPeer {
    private LoadPeer() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
        case "echo" -> echo();
        case "clients" -> clients(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
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
}
