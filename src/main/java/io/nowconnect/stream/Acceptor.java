package io.nowconnect.stream;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * A TCP listener that hands every accepted connection to a handler on its own virtual thread: the hub's connector
 * listeners, the agent's health port and the demo's echo service all accept this way.
 *
 * <p>Threads: one virtual thread accepts; a failing accept (out of file descriptors) is logged and retried after a
 * pause instead of spinning. {@link #close} may be called from any thread; no locks (a volatile flag tells the
 * accept loop to end).
 */
public final class Acceptor implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(Acceptor.class.getName());

    private final ServerSocket server;
    private final String name;
    private final Consumer<Socket> handler;
    private volatile boolean closed;

    private Acceptor(ServerSocket server, String name, Consumer<Socket> handler) {
        this.server = server;
        this.name = name;
        this.handler = handler;
        Thread.ofVirtual().name(name + "-accept").start(this::acceptLoop);
    }

    /**
     * Bind and start accepting.
     *
     * @param host bind address (an IP literal or a name resolved once)
     * @param port port, 0 for any free port
     * @param backlog listen backlog
     * @param name thread name prefix and log label
     * @param handler called with each accepted socket, on its own virtual thread; it owns the socket
     * @return running acceptor
     * @throws IOException when the address cannot be bound
     */
    public static Acceptor start(String host, int port, int backlog, String name, Consumer<Socket> handler)
            throws IOException {
        ServerSocket server = new ServerSocket();
        try {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(InetAddress.getByName(host), port), backlog);
        } catch (IOException e) {
            server.close();
            throw e;
        }
        return new Acceptor(server, name, handler);
    }

    /**
     * Bound port.
     *
     * @return port
     */
    public int port() {
        return server.getLocalPort();
    }

    /**
     * Whether the listener is bound and open.
     *
     * @return true while accepting
     */
    public boolean isBound() {
        return server.isBound() && !server.isClosed();
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                Event.of("accept_failed").with("listener", name).log(LOGGER, Level.WARNING, "Accept failed", e);
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
                continue;
            }
            Thread.ofVirtual().name(name).start(() -> handler.accept(s));
        }
    }
}
