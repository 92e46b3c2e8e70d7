import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Soak workload with checksums (single-file program: java SoakBulk.java ...).
 *   echo PORT                           an echo target on 127.0.0.1:PORT
 *   client PORT SECONDS SIZE PARALLEL STATS
 *       PARALLEL loops, each: connect, send SIZE random bytes, half-close, read the echo to EOF, compare SHA-256.
 *       A transfer that ends with EOF but different bytes is LOST (silent corruption or loss); one that ends with a
 *       reset or timeout (a hub restart cut it) is BROKEN and retried. Writes "ok lost broken bytes" to STATS every
 *       second (atomically; "ok lost broken bytes truncated") and prints a summary at the end.
 */
public final class SoakBulk {
    public static void main(String[] args) throws Exception {
        if (args[0].equals("echo")) {
            echo(Integer.parseInt(args[1]));
        } else {
            client(Integer.parseInt(args[1]), Long.parseLong(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                   Path.of(args[5]));
        }
    }

    static void echo(int port) throws IOException {
        ServerSocket server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1024);
        while (true) {
            Socket s = server.accept();
            Thread.ofVirtual().start(() -> {
                try (s) {
                    s.getInputStream().transferTo(s.getOutputStream());
                    s.shutdownOutput();
                } catch (IOException ignored) {
                    // reset by a restart
                }
            });
        }
    }

    static final AtomicLong OK = new AtomicLong();
    static final AtomicLong LOST = new AtomicLong();
    static final AtomicLong BROKEN = new AtomicLong();
    static final AtomicLong BYTES = new AtomicLong();
    static final AtomicLong TRUNCATED = new AtomicLong();
    static final long T0 = System.nanoTime();

    static String t() {
        return "t=" + (System.nanoTime() - T0) / 1_000_000_000L + "s ";
    }

    static void client(int port, long seconds, int size, int parallel, Path stats) throws Exception {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        Thread[] workers = new Thread[parallel];
        for (int i = 0; i < parallel; i++) {
            long seed = i * 1_000_003L;
            workers[i] = Thread.ofVirtual().start(() -> loop(port, end, size, seed));
        }
        while (System.nanoTime() < end) {
            write(stats);
            Thread.sleep(1000);
        }
        for (Thread t : workers) {
            t.join(60_000);
        }
        write(stats);
        System.out.println("bulk: ok " + OK + " lost " + LOST + " broken " + BROKEN + " truncated " + TRUNCATED
                           + " bytes " + BYTES);
    }

    static void write(Path stats) throws IOException {
        Path tmp = stats.resolveSibling(stats.getFileName() + ".tmp");
        Files.writeString(tmp, OK + " " + LOST + " " + BROKEN + " " + BYTES + " " + TRUNCATED + "\n");
        Files.move(tmp, stats, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static void loop(int port, long end, int size, long seed) {
        Random rnd = new Random(seed);
        byte[] data = new byte[size];
        while (System.nanoTime() < end) {
            rnd.nextBytes(data);
            int len = 1 + rnd.nextInt(size);
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
                s.setSoTimeout(30_000);
                byte[] want = MessageDigest.getInstance("SHA-256").digest(Arrays.copyOf(data, len));
                Thread writer = Thread.ofVirtual().start(() -> {
                    try {
                        OutputStream out = s.getOutputStream();
                        out.write(data, 0, len);
                        s.shutdownOutput();
                    } catch (IOException ignored) {
                        // seen by the reader
                    }
                });
                byte[] back = s.getInputStream().readAllBytes();
                writer.join();
                int n = back.length;
                if (n == 0) {
                    // the stream was refused or cut before any byte (no agent during a restart): not a loss
                    BROKEN.incrementAndGet();
                    Thread.sleep(200);
                } else if (n == len && Arrays.equals(want, MessageDigest.getInstance("SHA-256").digest(back))) {
                    OK.incrementAndGet();
                    BYTES.addAndGet(2L * len);
                } else if (n < len && Arrays.equals(back, Arrays.copyOf(data, n))) {
                    // cut short but intact so far, ended by a FIN instead of a reset: a restart cut it; counted apart
                    TRUNCATED.incrementAndGet();
                    System.err.println("bulk: " + t() + "TRUNCATED: sent " + len + " bytes, got back an intact prefix of " + n
                                       + " then EOF");
                } else {
                    LOST.incrementAndGet();
                    System.err.println("bulk: " + t() + "LOST: sent " + len + " bytes, got back " + n + " with "
                                       + (n == len ? "a different checksum" : "different bytes"));
                }
            } catch (IOException e) {
                BROKEN.incrementAndGet();
                sleep(200);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
