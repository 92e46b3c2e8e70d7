package io.nowconnect.health;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * The raw TCP health port: every accepted connection gets one line, {@code OK} before the hub's ack and
 * {@code READY} after it, then is closed. Kubernetes {@code tcpSocket} probes only need the accept.
 *
 * <p>Threads: one virtual thread accepts; each answer is written on its own virtual thread, so a client that does not
 * read cannot stall the port.
 */
public final class TcpHealthServer implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(TcpHealthServer.class.getName());
    private static final byte[] OK = "OK\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] READY = "READY\n".getBytes(StandardCharsets.US_ASCII);

    private final ServerSocket server;
    private final BooleanSupplier ready;
    private final Thread acceptor;
    private volatile boolean closed;

    private TcpHealthServer(ServerSocket server, BooleanSupplier ready) {
        this.server = server;
        this.ready = ready;
        this.acceptor = Thread.ofVirtual().name("nc-health-accept").start(this::acceptLoop);
    }

    /**
     * Bind and start answering.
     *
     * @param host bind address
     * @param port port, 0 for any free port
     * @param ready whether a tunnel is acknowledged (read from the state tracker)
     * @return running server
     * @throws IOException when the address cannot be bound
     */
    public static TcpHealthServer start(String host, int port, BooleanSupplier ready) throws IOException {
        ServerSocket server = new ServerSocket();
        try {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(InetAddress.getByName(host), port), 128);
        } catch (IOException e) {
            server.close();
            throw e;
        }
        return new TcpHealthServer(server, ready);
    }

    /**
     * Bound port.
     *
     * @return port
     */
    public int port() {
        return server.getLocalPort();
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        acceptor.interrupt();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (!closed) {
                    Event.of("health_accept_failed").log(LOGGER, Level.WARNING, "Health port accept failed", e);
                    pause();
                }
                continue;
            }
            Thread.ofVirtual().name("nc-health").start(() -> answer(s));
        }
    }

    private static void pause() {
        try {
            // out of file descriptors, say: do not spin
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void answer(Socket s) {
        try (s) {
            s.setSoTimeout(2000);
            OutputStream out = s.getOutputStream();
            out.write(ready.getAsBoolean() ? READY : OK);
            out.flush();
        } catch (IOException ignored) {
            // a probe that hung up early is not our problem
        }
    }
}
