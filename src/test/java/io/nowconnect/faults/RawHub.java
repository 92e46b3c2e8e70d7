package io.nowconnect.faults;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;

import io.helidon.common.buffers.BufferData;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.websocket.WsConfig;
import io.helidon.webserver.websocket.WsRouting;
import io.helidon.websocket.WsListener;
import io.helidon.websocket.WsSession;

/**
 * A minimal hostile hub for fault and fuzz tests: a Helidon WebServer on 127.0.0.1 with {@code /tunnel} that accepts
 * any upgrade, acknowledges HELLO, answers pings, hands every other text frame to a callback and sends whatever the
 * test says. Public so the fuzz tests can drive it too.
 */
public final class RawHub implements AutoCloseable {
    private final WebServer server;
    private final BlockingQueue<Conn> connections = new LinkedBlockingQueue<>();
    private final List<Conn> all = new CopyOnWriteArrayList<>();
    private volatile BiConsumer<Conn, String> onText = (c, t) -> { };

    private RawHub() {
        server = WebServer.builder()
                .host("127.0.0.1")
                .port(0)
                .shutdownGracePeriod(Duration.ofMillis(100))
                .featuresDiscoverServices(false)
                .addProtocol(WsConfig.builder().name("websocket").maxFrameLength(16 << 20).build())
                .addRouting(WsRouting.builder().endpoint("/tunnel", Conn::new))
                .build()
                .start();
    }

    /**
     * Start on a free loopback port.
     *
     * @return hub
     */
    public static RawHub start() {
        return new RawHub();
    }

    /**
     * Tunnel URL for {@code NC_AGENT_URL}.
     *
     * @return url
     */
    public String url() {
        return "ws://127.0.0.1:" + server.port() + "/tunnel";
    }

    /**
     * Called (on the connection's thread) with every text frame from the agent except HELLO.
     *
     * @param handler handler
     */
    public void onText(BiConsumer<Conn, String> handler) {
        this.onText = handler;
    }

    /**
     * The next accepted (and acknowledged) connection.
     *
     * @param timeout how long
     * @return connection
     * @throws InterruptedException if interrupted
     */
    public Conn awaitConnection(Duration timeout) throws InterruptedException {
        Conn c = connections.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (c == null) {
            throw new AssertionError("no tunnel from the agent within " + timeout.toMillis() + " ms");
        }
        return c;
    }

    /**
     * Connections accepted so far.
     *
     * @return count
     */
    public int connectionCount() {
        return all.size();
    }

    @Override
    public void close() {
        for (Conn c : all) {
            c.drop();
        }
        server.stop();
    }

    /** One tunnel from the agent. */
    public final class Conn implements WsListener {
        private final ReentrantLock lock = new ReentrantLock();
        private final StringBuilder fragments = new StringBuilder();
        /** Text frames received (HELLO included). */
        public final AtomicLong received = new AtomicLong();
        private volatile WsSession session;
        private volatile Thread thread;
        private volatile boolean dropped;
        private volatile boolean acked;

        @Override
        public Optional<Headers> onHttpUpgrade(HttpPrologue prologue, Headers headers) {
            return Optional.empty();
        }

        @Override
        public void onOpen(WsSession session) {
            this.session = session;
            this.thread = Thread.currentThread();
            all.add(this);
        }

        @Override
        public void onMessage(WsSession session, String text, boolean last) {
            check();
            fragments.append(text);
            if (!last) {
                return;
            }
            String message = fragments.toString();
            fragments.setLength(0);
            received.incrementAndGet();
            if (!acked && message.startsWith("{\"t\":\"HELLO\"")) {
                acked = true;
                send("{\"t\":\"HELLO_ACK\"}");
                connections.add(this);
                return;
            }
            onText.accept(this, message);
        }

        @Override
        public void onMessage(WsSession session, BufferData buffer, boolean last) {
            check();
        }

        @Override
        public void onPing(WsSession session, BufferData buffer) {
            check();
            byte[] payload = buffer.readBytes();
            lock.lock();
            try {
                session.pong(BufferData.create(payload));
            } finally {
                lock.unlock();
            }
        }

        /**
         * Send a text frame.
         *
         * @param text frame
         */
        public void send(String text) {
            lock.lock();
            try {
                session.send(text, true);
            } finally {
                lock.unlock();
            }
        }

        /**
         * Whether this connection was dropped by the test.
         *
         * @return true once dropped
         */
        public boolean isDropped() {
            return dropped;
        }

        /** Drop the TCP connection without a close frame (at the next frame from the agent, or now by interrupt). */
        public void drop() {
            dropped = true;
            Thread t = thread;
            if (t != null) {
                t.interrupt();
            }
        }

        /** Close with a WebSocket close frame (normal close). */
        public void closeNormally() {
            dropped = true;
            lock.lock();
            try {
                session.close(1001, "going away");
            } catch (RuntimeException ignored) {
                // already gone
            } finally {
                lock.unlock();
            }
        }

        private void check() {
            if (dropped) {
                throw new CloseConnectionException("raw hub drops the connection");
            }
        }
    }
}
