package io.nowconnect.stream;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * A TCP listener that hands every accepted connection to a handler on its own virtual thread: the hub's connector
 * listeners, the agent's health port and the demo's echo service all accept this way.
 *
 * <p>A paced acceptor ({@link #startPaced}) sets up at most a fixed number of connections at once: it accepts the next
 * one only when a set-up ended, so the rest of a burst waits in the kernel's listen backlog rather than as runnable
 * virtual threads. The virtual-thread scheduler is first come, first served: without pacing, a burst of thousands of
 * connections on one listener queues ahead of every other listener's (and every stream's) work for as long as the
 * burst takes to set up.
 *
 * <p>Threads: one virtual thread accepts; a failing accept (out of file descriptors) is logged and retried after a
 * pause instead of spinning. {@link #close} may be called from any thread; no locks (a volatile flag tells the
 * accept loop to end).
 */
public final class Acceptor implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(Acceptor.class.getName());

    private final ServerSocket server;
    private final String name;
    private final BiConsumer<Socket, Runnable> handler;
    /** Set-ups in progress allowed; null when not paced. */
    private final Semaphore setups;
    private volatile boolean closed;

    private Acceptor(ServerSocket server, String name, int inFlight, BiConsumer<Socket, Runnable> handler) {
        this.server = server;
        this.name = name;
        this.handler = handler;
        this.setups = inFlight > 0 ? new Semaphore(inFlight) : null;
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
        return new Acceptor(bind(host, port, backlog), name, 0, (s, setUp) -> handler.accept(s));
    }

    /**
     * Bind and start accepting, at most {@code inFlight} connections being set up at once.
     *
     * @param host bind address (an IP literal or a name resolved once)
     * @param port port, 0 for any free port
     * @param backlog listen backlog: where the rest of a burst waits
     * @param name thread name prefix and log label
     * @param inFlight most connections being set up at once (at least 1)
     * @param handler called with each accepted socket and a callback that ends its set-up (idempotent; called at the
     *                latest when the handler returns), on its own virtual thread; it owns the socket. A handler that
     *                waits for something else than the CPU (an agent, an authorization server) ends its set-up first.
     * @return running acceptor
     * @throws IOException when the address cannot be bound
     */
    public static Acceptor startPaced(String host, int port, int backlog, String name, int inFlight,
                                      BiConsumer<Socket, Runnable> handler) throws IOException {
        if (inFlight < 1) {
            throw new IllegalArgumentException("inFlight must be at least 1: " + inFlight);
        }
        return new Acceptor(bind(host, port, backlog), name, inFlight, handler);
    }

    private static ServerSocket bind(String host, int port, int backlog) throws IOException {
        ServerSocket server = new ServerSocket();
        try {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(InetAddress.getByName(host), port), backlog);
        } catch (IOException e) {
            server.close();
            throw e;
        }
        return server;
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
            try {
                if (setups != null && !setups.tryAcquire(200, TimeUnit.MILLISECONDS)) {
                    continue;
                }
            } catch (InterruptedException e) {
                return;
            }
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                endSetUp();
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
            Thread.ofVirtual().name(name).start(() -> {
                AtomicBoolean ended = new AtomicBoolean();
                Runnable setUp = () -> {
                    if (ended.compareAndSet(false, true)) {
                        endSetUp();
                    }
                };
                try {
                    handler.accept(s, setUp);
                } finally {
                    setUp.run();
                }
            });
        }
    }

    private void endSetUp() {
        if (setups != null) {
            setups.release();
        }
    }
}
