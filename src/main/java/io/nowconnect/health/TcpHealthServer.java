package io.nowconnect.health;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;

import io.nowconnect.stream.Acceptor;

/**
 * The raw TCP health port: every accepted connection gets one line, {@code OK} before the hub's ack and
 * {@code READY} after it, then is closed. Kubernetes {@code tcpSocket} probes only need the accept.
 *
 * <p>Threads: an {@link Acceptor}; each answer is written on its own virtual thread, so a client that does not read
 * cannot stall the port.
 */
public final class TcpHealthServer implements AutoCloseable {
    private static final byte[] OK = "OK\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] READY = "READY\n".getBytes(StandardCharsets.US_ASCII);

    private final Acceptor acceptor;

    private TcpHealthServer(Acceptor acceptor) {
        this.acceptor = acceptor;
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
        return new TcpHealthServer(Acceptor.start(host, port, 128, "nc-health", s -> answer(s, ready)));
    }

    /**
     * Bound port.
     *
     * @return port
     */
    public int port() {
        return acceptor.port();
    }

    @Override
    public void close() {
        acceptor.close();
    }

    private static void answer(Socket s, BooleanSupplier ready) {
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
