package io.nowconnect.e2e;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A target that moves bytes both ways at once, independently: the client sends an 8-byte seed then {@code size} bytes
 * drawn from {@code Random(seed)}; the target answers with {@code size} bytes from {@code Random(seed + 1)} while it
 * reads, checks what it got, then closes. Unlike an echo, neither direction waits for the other.
 */
final class BulkTarget implements AutoCloseable {
    private final ServerSocket server;
    private final int size;
    private final AtomicInteger intact = new AtomicInteger();
    private final AtomicInteger corrupt = new AtomicInteger();

    BulkTarget(int size) throws IOException {
        this.size = size;
        this.server = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    int intact() {
        return intact.get();
    }

    int corrupt() {
        return corrupt.get();
    }

    static byte[] bytes(long seed, int size) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Override
    public void close() throws IOException {
        server.close();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread.ofVirtual().start(() -> serve(s));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            long seed = new DataInputStream(in).readLong();
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    out.write(bytes(seed + 1, size));
                    s.shutdownOutput();
                } catch (IOException ignored) {
                    // counted as corrupt by the client
                }
            });
            byte[] got = in.readAllBytes();
            writer.join();
            (Arrays.equals(got, bytes(seed, size)) ? intact : corrupt).incrementAndGet();
        } catch (IOException | InterruptedException e) {
            corrupt.incrementAndGet();
        }
    }
}
