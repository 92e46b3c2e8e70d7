package io.nowconnect.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Large deterministic byte streams without large arrays: stream {@code id} is a 1 MiB random block read cyclically
 * from an offset that depends on the id, so bytes of different streams differ and a swap or loss is noticed. Plus
 * a target that stalls, then reads (and checks) a pattern stream at a given pace.
 */
final class PatternStreams {
    private static final byte[] BLOCK = new byte[1 << 20];

    static {
        new Random(20240601).nextBytes(BLOCK);
    }

    private PatternStreams() {
    }

    private static int offset(int id) {
        return (int) ((id * 104_729L) % BLOCK.length);
    }

    /**
     * Write {@code total} bytes of stream {@code id}.
     *
     * @param out where
     * @param id stream id
     * @param total bytes
     */
    static void write(OutputStream out, int id, long total) throws IOException {
        int pos = offset(id);
        long left = total;
        while (left > 0) {
            int n = (int) Math.min(Math.min(left, 64 * 1024), BLOCK.length - pos);
            out.write(BLOCK, pos, n);
            left -= n;
            pos = (pos + n) % BLOCK.length;
        }
        out.flush();
    }

    /**
     * Read {@code total} bytes and check they are stream {@code id}; then expect EOF.
     *
     * @param in source
     * @param id stream id
     * @param total expected bytes
     * @param pace bytes per read step (0 = as fast as possible)
     * @param stepMillis pause after each paced step
     * @return null when intact, else what was wrong
     */
    static String verify(InputStream in, int id, long total, int pace, long stepMillis) throws IOException {
        byte[] buf = new byte[pace > 0 ? pace : 64 * 1024];
        int pos = offset(id);
        long got = 0;
        while (got < total) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, total - got));
            if (n < 0) {
                return "EOF after " + got + " of " + total + " bytes";
            }
            for (int i = 0; i < n; i++) {
                if (buf[i] != BLOCK[pos]) {
                    return "byte " + (got + i) + " differs";
                }
                pos = pos + 1 == BLOCK.length ? 0 : pos + 1;
            }
            got += n;
            if (pace > 0 && stepMillis > 0) {
                try {
                    Thread.sleep(stepMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return "interrupted";
                }
            }
        }
        return in.read() == -1 ? null : "more bytes than " + total;
    }

    /**
     * A target for one connection: reads nothing for {@code stallMillis}, then reads and checks {@code total} bytes of
     * pattern stream {@code id} (optionally paced), then closes. Small receive buffer, so a stall backs up at once.
     */
    static final class SlowTarget implements AutoCloseable {
        final CountDownLatch accepted = new CountDownLatch(1);
        final CountDownLatch done = new CountDownLatch(1);
        final AtomicLong readingSinceNanos = new AtomicLong();
        final AtomicLong doneAtNanos = new AtomicLong();
        volatile String result = "not finished";
        private final ServerSocket server;

        SlowTarget(int id, long total, long stallMillis, int pace, long stepMillis) throws IOException {
            server = new ServerSocket();
            server.setReceiveBufferSize(32 * 1024);
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4);
            Thread.ofVirtual().name("test-slow-target").start(() -> {
                try (Socket s = server.accept()) {
                    accepted.countDown();
                    Thread.sleep(stallMillis);
                    readingSinceNanos.set(System.nanoTime());
                    result = verify(s.getInputStream(), id, total, pace, stepMillis);
                } catch (IOException | InterruptedException e) {
                    result = e.toString();
                } finally {
                    doneAtNanos.set(System.nanoTime());
                    done.countDown();
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        boolean awaitDone(long seconds) throws InterruptedException {
            return done.await(seconds, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
