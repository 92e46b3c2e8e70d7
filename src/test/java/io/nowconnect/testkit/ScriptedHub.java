package io.nowconnect.testkit;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.helidon.common.buffers.BufferData;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.http.RequestException;
import io.helidon.http.Status;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.websocket.WsConfig;
import io.helidon.webserver.websocket.WsRouting;
import io.helidon.websocket.WsListener;
import io.helidon.websocket.WsSession;

/**
 * The one fake hub of the tests, whose every frame the test controls: a Helidon WebServer on 127.0.0.1 with a
 * {@code /tunnel} endpoint that records what the agent sends (text frames as exact strings, in order, per connection
 * and per {@code cid}; binary messages; pings; pongs; close codes; the {@code Authorization} header of every upgrade
 * attempt) and does only what it is told: refuse the upgrade with a status, acknowledge HELLO with a given frame (or
 * not at all), answer pings (or not), send arbitrary text, binary, fragmented or oversized frames, close, or drop the
 * TCP connection.
 *
 * <p>Two ways to read the agent's text frames: the queues of a {@link Conn} (conformance tests that check frames one
 * by one), or a handler set with {@link #onText} that sees every frame but HELLO as it arrives, on the connection's
 * thread (fault and fuzz tests that answer thousands of frames; the queues then stay empty, so memory stays flat).
 *
 * <p>Sends of one connection are serialized with a lock (Helidon's server session is not thread-safe).
 */
public final class ScriptedHub implements AutoCloseable {
    /** HELLO_ACK without capabilities (plain v1). */
    public static final String HELLO_ACK = "{\"t\":\"HELLO_ACK\"}";
    /** HELLO_ACK granting {@code drain}. */
    public static final String HELLO_ACK_DRAIN = "{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}";
    private static final Pattern CID = Pattern.compile("\"cid\":\"((?:[^\"\\\\]|\\\\.)*)\"");

    /** Frame sent in answer to HELLO; {@code null} never acknowledges. */
    public volatile String ack = HELLO_ACK;
    /** Whether the agent's pings get a pong. */
    public volatile boolean answerPings = true;
    /** Non-zero: refuse every upgrade with this HTTP status. */
    public volatile int rejectStatus;

    /** The {@code Authorization} header of every upgrade attempt (accepted or refused), empty when absent. */
    public final BlockingQueue<Optional<String>> upgrades = new LinkedBlockingQueue<>();
    /** Accepted WebSocket connections, in order. */
    public final BlockingQueue<Conn> connections = new LinkedBlockingQueue<>();
    /** Connections whose HELLO was acknowledged, in order. */
    private final BlockingQueue<Conn> acknowledged = new LinkedBlockingQueue<>();
    /** Every accepted connection. */
    public final List<Conn> all = new CopyOnWriteArrayList<>();
    /** Upgrade attempts, accepted or refused. */
    public final AtomicInteger upgradeAttempts = new AtomicInteger();
    /** When set: every text frame but HELLO goes here instead of the connection's queues. */
    private volatile BiConsumer<Conn, String> onText;

    private volatile WebServer server;
    private volatile int port;

    private ScriptedHub() {
    }

    /**
     * Start on a free port of 127.0.0.1.
     *
     * @return running hub
     */
    public static ScriptedHub start() {
        ScriptedHub hub = new ScriptedHub();
        hub.startServer(0);
        return hub;
    }

    /**
     * Port on 127.0.0.1.
     *
     * @return port
     */
    public int port() {
        return port;
    }

    /**
     * Tunnel URL for {@code NC_AGENT_URL}.
     *
     * @return url
     */
    public String url() {
        return "ws://127.0.0.1:" + port + "/tunnel";
    }

    /** Stop the WebServer: the listening socket and every connection are closed (no WebSocket close frame). */
    public void stopServer() {
        WebServer s = server;
        if (s != null && s.isRunning()) {
            s.stop();
        }
    }

    /** Start the WebServer again on the same port. */
    public void restartServer() {
        startServer(port);
    }

    private void startServer(int p) {
        WebServer s = WebServer.builder()
                .host("127.0.0.1")
                .port(p)
                .shutdownGracePeriod(Duration.ofMillis(200))
                .featuresDiscoverServices(false)
                .addProtocol(WsConfig.builder().name("websocket").maxFrameLength(16 << 20).build())
                .addRouting(WsRouting.builder().endpoint("/tunnel", Conn::new))
                .build()
                .start();
        server = s;
        port = s.port();
    }

    /**
     * Wait for the next accepted WebSocket connection.
     *
     * @param timeout how long
     * @return the connection
     */
    public Conn awaitConnection(Duration timeout) throws InterruptedException {
        Conn c = connections.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (c == null) {
            throw new AssertionError("no WebSocket connection from the agent within " + timeout.toMillis() + " ms");
        }
        return c;
    }

    /**
     * Wait for the next connection whose HELLO was acknowledged (the agent may send and receive stream frames).
     *
     * @param timeout how long
     * @return the connection
     * @throws InterruptedException if interrupted
     */
    public Conn awaitAcknowledged(Duration timeout) throws InterruptedException {
        Conn c = acknowledged.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (c == null) {
            throw new AssertionError("no acknowledged tunnel from the agent within " + timeout.toMillis() + " ms");
        }
        return c;
    }

    /**
     * Hand every text frame from the agent except HELLO to a handler, on the connection's thread, instead of queueing
     * it (for tests that answer many frames).
     *
     * @param handler handler
     */
    public void onText(BiConsumer<Conn, String> handler) {
        this.onText = handler;
    }

    /**
     * Connections accepted so far.
     *
     * @return count
     */
    public int connectionCount() {
        return all.size();
    }

    /**
     * Wait for the next upgrade attempt.
     *
     * @param timeout how long
     * @return the Authorization header of that attempt, if any
     */
    public Optional<String> awaitUpgrade(Duration timeout) throws InterruptedException {
        Optional<String> a = upgrades.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (a == null) {
            throw new AssertionError("no upgrade attempt within " + timeout.toMillis() + " ms");
        }
        return a;
    }

    @Override
    public void close() {
        for (Conn c : all) {
            c.dropTcpNow();
        }
        stopServer();
    }

    /**
     * The {@code cid} field of a v1 frame.
     *
     * @param frame frame text
     * @return cid or null
     */
    public static String cidOf(String frame) {
        Matcher m = CID.matcher(frame);
        return m.find() ? m.group(1) : null;
    }

    /** One accepted (or refused) WebSocket connection: a listener instance per upgrade. */
    public final class Conn implements WsListener {
        /** Every text message from the agent, exactly as received, in order. */
        public final BlockingQueue<String> texts = new LinkedBlockingQueue<>();
        /** Every text message, in order (never consumed). */
        public final List<String> log = new CopyOnWriteArrayList<>();
        public final BlockingQueue<byte[]> pings = new LinkedBlockingQueue<>();
        public final BlockingQueue<byte[]> pongs = new LinkedBlockingQueue<>();
        public final AtomicInteger binaryFrames = new AtomicInteger();
        /** Every binary message from the agent (reassembled), in order. */
        public final BlockingQueue<byte[]> binaries = new LinkedBlockingQueue<>();
        private final java.io.ByteArrayOutputStream binaryParts = new java.io.ByteArrayOutputStream();
        /** Close frame from the agent: {status, reason}. */
        public final CompletableFuture<Map.Entry<Integer, String>> closeFrame = new CompletableFuture<>();
        public final CountDownLatch ended = new CountDownLatch(1);
        public final List<Throwable> errors = new CopyOnWriteArrayList<>();
        private final Map<String, BlockingQueue<String>> byCid = new ConcurrentHashMap<>();
        private final Map<String, BlockingQueue<byte[]>> binByCid = new ConcurrentHashMap<>();
        private final ReentrantLock lock = new ReentrantLock(true);
        private final StringBuilder fragments = new StringBuilder();
        private volatile WsSession session;
        private volatile Thread connectionThread;
        private volatile boolean dropRequested;
        private volatile boolean stalled;
        /** When the hub dropped the TCP connection (nanoTime), or 0. */
        public volatile long droppedAtNanos;

        @Override
        public Optional<Headers> onHttpUpgrade(HttpPrologue prologue, Headers headers) {
            upgradeAttempts.incrementAndGet();
            upgrades.add(headers.first(HeaderNames.AUTHORIZATION));
            int reject = rejectStatus;
            if (reject != 0) {
                throw RequestException.builder()
                        .type(DirectHandler.EventType.OTHER)
                        .status(Status.create(reject))
                        .header(HeaderValues.create(HeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"test\""))
                        .message("Refused by the scripted hub")
                        .safeMessage(true)
                        .build();
            }
            return Optional.empty();
        }

        @Override
        public void onOpen(WsSession session) {
            this.session = session;
            Thread t = Thread.currentThread();
            connectionThread = t;
            Thread.ofVirtual().name("scripted-hub-watch").start(() -> {
                try {
                    t.join();
                } catch (InterruptedException ignored) {
                    // test ending
                }
                ended.countDown();
            });
            all.add(this);
            connections.add(this);
        }

        @Override
        public void onMessage(WsSession session, String text, boolean last) {
            checkDrop();
            fragments.append(text);
            if (!last) {
                return;
            }
            String message = fragments.toString();
            fragments.setLength(0);
            boolean hello = message.startsWith("{\"t\":\"HELLO\"");
            BiConsumer<Conn, String> handler = onText;
            if (handler == null) {
                log.add(message);
                texts.add(message);
                String cid = cidOf(message);
                if (cid != null) {
                    byCid.computeIfAbsent(cid, k -> new LinkedBlockingQueue<>()).add(message);
                }
            }
            String a = ack;
            if (a != null && hello) {
                send(a);
                acknowledged.add(this);
            } else if (handler != null && !hello) {
                handler.accept(this, message);
            }
        }

        @Override
        public void onMessage(WsSession session, BufferData buffer, boolean last) {
            checkDrop();
            binaryFrames.incrementAndGet();
            binaryParts.writeBytes(buffer.readBytes());
            if (last) {
                byte[] message = binaryParts.toByteArray();
                binaryParts.reset();
                binaries.add(message);
                // bin1 layout: type, cid length, cid
                if (message.length >= 2 && message.length >= 2 + (message[1] & 0xFF)) {
                    String cid = new String(message, 2, message[1] & 0xFF, StandardCharsets.UTF_8);
                    binaryQueue(cid).add(message);
                }
            }
        }

        @Override
        public void onPing(WsSession session, BufferData buffer) {
            checkDrop();
            byte[] payload = buffer.readBytes();
            pings.add(payload);
            if (answerPings) {
                lock.lock();
                try {
                    session.pong(BufferData.create(payload));
                } finally {
                    lock.unlock();
                }
            }
        }

        @Override
        public void onPong(WsSession session, BufferData buffer) {
            checkDrop();
            pongs.add(buffer.readBytes());
        }

        @Override
        public void onClose(WsSession session, int status, String reason) {
            closeFrame.complete(Map.entry(status, reason));
        }

        @Override
        public void onError(WsSession session, Throwable t) {
            errors.add(t);
        }

        /** Send a text frame. */
        public void send(String text) {
            lock.lock();
            try {
                session.send(text, true);
            } finally {
                lock.unlock();
            }
        }

        /** Send one text message split into frames of the given parts. */
        public void sendFragmented(List<String> parts) {
            lock.lock();
            try {
                for (int i = 0; i < parts.size(); i++) {
                    session.send(parts.get(i), i == parts.size() - 1);
                }
            } finally {
                lock.unlock();
            }
        }

        public void sendBinary(byte[] data) {
            lock.lock();
            try {
                session.send(BufferData.create(data), true);
            } finally {
                lock.unlock();
            }
        }

        public void ping(byte[] payload) {
            lock.lock();
            try {
                session.ping(BufferData.create(payload));
            } finally {
                lock.unlock();
            }
        }

        public void close(int code, String reason) {
            lock.lock();
            try {
                session.close(code, reason);
            } finally {
                lock.unlock();
            }
        }

        /**
         * Drop the TCP connection without a close frame on the next frame the agent sends (its pings come every
         * second); {@link #droppedAtNanos} tells when it happened.
         */
        public void dropTcpOnNextFrame() {
            dropRequested = true;
        }

        /** Close at once (interrupts the connection thread, which closes the socket). */
        public void dropTcpNow() {
            Thread t = connectionThread;
            dropRequested = true;
            if (t != null) {
                t.interrupt();
            }
        }

        /**
         * Whether the test dropped this connection ({@link #dropTcpNow}, {@link #dropTcpOnNextFrame},
         * {@link #closeNormally}).
         *
         * @return true once dropped
         */
        public boolean isDropped() {
            return dropRequested;
        }

        /** Close with a WebSocket close frame (1001 going away); the connection counts as dropped from then on. */
        public void closeNormally() {
            dropRequested = true;
            lock.lock();
            try {
                session.close(1001, "going away");
            } catch (RuntimeException ignored) {
                // already gone
            } finally {
                lock.unlock();
            }
        }

        /** Stop reading from the agent (the connection thread blocks at its next callback) until closed. */
        public void stallReads() {
            stalled = true;
        }

        private void checkDrop() {
            while (stalled && !dropRequested) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    dropRequested = true;
                }
            }
            if (dropRequested) {
                droppedAtNanos = System.nanoTime();
                throw new CloseConnectionException("scripted hub drops the connection");
            }
        }

        /**
         * Next text message from the agent.
         *
         * @param timeout how long
         * @return the message
         */
        public String next(Duration timeout) throws InterruptedException {
            String s = texts.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (s == null) {
                throw new AssertionError("no frame from the agent within " + timeout.toMillis() + " ms; so far: "
                                                 + clip(log));
            }
            return s;
        }

        /**
         * Next text message from the agent, if one arrives in time.
         *
         * @param timeout how long
         * @return the message, or null
         */
        public String poll(Duration timeout) throws InterruptedException {
            return texts.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        /**
         * Next text message of one stream (by its {@code cid} field).
         *
         * @param cid stream id
         * @param timeout how long
         * @return the message
         */
        public String nextFor(String cid, Duration timeout) throws InterruptedException {
            String s = queue(cid).poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (s == null) {
                throw new AssertionError("no frame for cid " + clipCid(cid) + " within " + timeout.toMillis() + " ms");
            }
            return s;
        }

        /**
         * A frame of one stream, if one arrives in time (for "nothing more" checks).
         *
         * @param cid stream id
         * @param timeout how long
         * @return the frame or null
         */
        public String pollFor(String cid, Duration timeout) throws InterruptedException {
            return queue(cid).poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        /** Wait for the first message (from now on) that matches, skipping others. */
        public String awaitText(Predicate<String> p, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                long left = deadline - System.nanoTime();
                String s = left <= 0 ? null : texts.poll(left, TimeUnit.NANOSECONDS);
                if (s == null) {
                    throw new AssertionError("no matching frame within " + timeout.toMillis() + " ms; so far: "
                                                     + clip(log));
                }
                if (p.test(s)) {
                    return s;
                }
            }
        }

        /**
         * Next binary message of one stream (bin1 DATA or WINDOW, by the cid in its header).
         *
         * @param cid stream id
         * @param timeout how long
         * @return the message, or null when none came in time
         */
        public byte[] pollBinaryFor(String cid, Duration timeout) throws InterruptedException {
            return binaryQueue(cid).poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        public BlockingQueue<byte[]> binaryQueue(String cid) {
            return binByCid.computeIfAbsent(cid, k -> new LinkedBlockingQueue<>());
        }

        public BlockingQueue<String> queue(String cid) {
            return byCid.computeIfAbsent(cid, k -> new LinkedBlockingQueue<>());
        }

        public boolean awaitEnded(Duration timeout) throws InterruptedException {
            return ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        private String clipCid(String cid) {
            return cid.length() > 40 ? cid.substring(0, 40) + "…" : cid;
        }
    }

    private static String clip(List<String> log) {
        List<String> out = new ArrayList<>();
        for (String s : log) {
            out.add(s.length() > 200 ? s.substring(0, 200) + "…(" + s.getBytes(StandardCharsets.UTF_8).length + " bytes)" : s);
        }
        return out.toString();
    }
}
