package io.nowconnect.stream;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
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
 * <p>Closing a listening socket resets every connection still in its backlog, which its client saw established (a
 * balancer in front cannot retry it elsewhere). {@link #drainAndClose} ends without that: the accept loop takes what
 * the backlog holds, hands each to the handler, and only then closes the socket; a connection that arrives after it is
 * refused at connect, which a client or a balancer can retry.
 *
 * <p>Threads: one virtual thread accepts, waking at least every {@value #POLL_MS} ms to see a stop; a failing accept
 * (out of file descriptors) is logged and retried after a pause instead of spinning. {@link #close} and
 * {@link #drainAndClose} may be called from any thread; no locks (volatile flags tell the accept loop to end).
 */
public final class Acceptor implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(Acceptor.class.getName());
    /** Longest an idle accept waits before the loop looks at its flags again. */
    static final int POLL_MS = 200;

    private final ServerSocket server;
    private final String name;
    private final BiConsumer<Socket, Runnable> handler;
    /** Set-ups in progress allowed; null when not paced. */
    private final Semaphore setups;
    private volatile boolean closed;
    private volatile boolean draining;
    /** Counted down when the accept loop has ended (the socket is closed). */
    private final CountDownLatch ended = new CountDownLatch(1);

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
            server.setSoTimeout(POLL_MS);
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

    /**
     * Stop at once: the socket closes, and the kernel resets the connections still in its backlog.
     */
    @Override
    public void close() {
        closed = true;
        closeSocket();
    }

    /**
     * Stop without dropping a connection the kernel took: the connections in the backlog are accepted and handed to
     * the handler (without pacing), then the socket closes. Returns once the socket is closed, or after {@code timeout}
     * (then it is closed as {@link #close} does).
     *
     * @param timeout longest wait for the accept loop
     * @throws InterruptedException when interrupted while waiting (the socket is then closed)
     */
    public void drainAndClose(Duration timeout) throws InterruptedException {
        draining = true;
        try {
            if (!ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                close();
            }
        } catch (InterruptedException e) {
            close();
            throw e;
        }
    }

    private void closeSocket() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    private void acceptLoop() {
        try {
            accepting();
            if (draining && !closed) {
                drainBacklog();
            }
        } finally {
            closed = true;
            closeSocket();
            ended.countDown();
        }
    }

    /** Take what the backlog holds (an accept that finds it empty returns after a millisecond), then return. */
    private void drainBacklog() {
        try {
            server.setSoTimeout(1);
            while (!closed) {
                hand(server.accept(), () -> { });
            }
        } catch (IOException e) {
            // empty (timed out) or closed
        }
    }

    private void accepting() {
        while (!closed && !draining) {
            try {
                if (setups != null && !setups.tryAcquire(POLL_MS, TimeUnit.MILLISECONDS)) {
                    continue;
                }
            } catch (InterruptedException e) {
                return;
            }
            Socket s;
            try {
                s = server.accept();
            } catch (SocketTimeoutException e) {
                endSetUp();
                continue;
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
            AtomicBoolean done = new AtomicBoolean();
            hand(s, () -> {
                if (done.compareAndSet(false, true)) {
                    endSetUp();
                }
            });
        }
    }

    /** The handler gets the socket on a virtual thread of its own; {@code setUp} runs at the latest when it returns. */
    private void hand(Socket s, Runnable setUp) {
        Thread.ofVirtual().name(name).start(() -> {
            try {
                handler.accept(s, setUp);
            } finally {
                setUp.run();
            }
        });
    }

    private void endSetUp() {
        if (setups != null) {
            setups.release();
        }
    }
}
