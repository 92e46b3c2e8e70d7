package io.nowconnect.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A loopback TCP target whose accepted sockets the test reads and writes. */
public final class TargetServer implements AutoCloseable {
    /** How long {@link #awaitAccept()} waits, and the read timeout of accepted sockets. */
    public static final Duration WAIT = Duration.ofSeconds(10);
    /** The listening socket. */
    public final ServerSocket server;
    /** Connections accepted so far. */
    public final AtomicInteger accepts = new AtomicInteger();
    /** Accepted sockets not taken yet by {@link #awaitAccept()}. */
    public final BlockingQueue<Socket> accepted = new LinkedBlockingQueue<>();
    private final List<Socket> sockets = new ArrayList<>();
    private volatile boolean closed;

    /**
     * Listen on a free loopback port.
     *
     * @param receiveBuffer receive buffer of accepted sockets (0 = default)
     */
    public TargetServer(int receiveBuffer) {
        try {
            server = new ServerSocket();
            if (receiveBuffer > 0) {
                server.setReceiveBufferSize(receiveBuffer);
            }
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread.ofVirtual().name("test-target-accept").start(this::acceptLoop);
    }

    /**
     * Listening port.
     *
     * @return port
     */
    public int port() {
        return server.getLocalPort();
    }

    /**
     * The next accepted socket.
     *
     * @return socket (closed with the target)
     * @throws InterruptedException if interrupted
     */
    public Socket awaitAccept() throws InterruptedException {
        Socket s = accepted.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        if (s == null) {
            throw new AssertionError("the target saw no connection within " + WAIT.toMillis() + " ms");
        }
        return s;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                s.setSoTimeout((int) WAIT.toMillis());
                synchronized (sockets) {
                    sockets.add(s);
                }
                accepts.incrementAndGet();
                accepted.add(s);
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        synchronized (sockets) {
            for (Socket s : sockets) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }
    }
}
