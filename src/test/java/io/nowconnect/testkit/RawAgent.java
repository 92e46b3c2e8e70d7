package io.nowconnect.testkit;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A scripted agent for the hub's tests: the JDK's WebSocket client on {@code /tunnel}, independent of the project's
 * agent. Collects every text message (reassembled) and how the WebSocket ended. The JDK client answers the hub's
 * pings by itself.
 */
public final class RawAgent implements AutoCloseable {
    /** How long each send, connect and {@link #next()} waits. */
    public static final Duration WAIT = Duration.ofSeconds(5);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Close "code" when the connection ended without a close frame. */
    public static final int ABNORMAL = 1006;

    private final LinkedBlockingQueue<String> messages = new LinkedBlockingQueue<>();
    /** Binary messages from the hub (reassembled); each is also noted in the text queue as "<binary N bytes>". */
    public final LinkedBlockingQueue<byte[]> binaries = new LinkedBlockingQueue<>();
    private final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final HttpClient http;
    private WebSocket ws;

    private RawAgent(HttpClient http) {
        this.http = http;
    }

    /** Open {@code /tunnel} with {@code Authorization: Bearer token}; fails the test if the upgrade fails. */
    public static RawAgent connect(int hubPort, String token) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build();
        RawAgent agent = new RawAgent(http);
        try {
            agent.ws = http.newWebSocketBuilder()
                    .header("Authorization", "Bearer " + token)
                    .connectTimeout(WAIT)
                    .buildAsync(URI.create("ws://127.0.0.1:" + hubPort + "/tunnel"), agent.listener())
                    .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            http.close();
            throw e;
        }
        return agent;
    }

    /**
     * Try an upgrade that should be refused and return the HTTP status (101 if it was accepted).
     *
     * @param authorization the Authorization header value, or null for none
     */
    public static int upgradeStatus(int hubPort, String authorization) throws Exception {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build()) {
            WebSocket.Builder builder = http.newWebSocketBuilder().connectTimeout(WAIT);
            if (authorization != null) {
                builder.header("Authorization", authorization);
            }
            WebSocket ws;
            try {
                ws = builder.buildAsync(URI.create("ws://127.0.0.1:" + hubPort + "/tunnel"),
                                        new WebSocket.Listener() { })
                        .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof WebSocketHandshakeException h) {
                    return h.getResponse().statusCode();
                }
                throw e;
            }
            ws.abort();
            return 101;
        }
    }

    private WebSocket.Listener listener() {
        return new WebSocket.Listener() {
            private final StringBuilder parts = new StringBuilder();

            @Override
            public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                parts.append(data);
                if (last) {
                    messages.add(parts.toString());
                    parts.setLength(0);
                }
                webSocket.request(1);
                return null;
            }

            private final java.io.ByteArrayOutputStream binaryParts = new java.io.ByteArrayOutputStream();

            @Override
            public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
                byte[] chunk = new byte[data.remaining()];
                data.get(chunk);
                binaryParts.writeBytes(chunk);
                if (last) {
                    binaries.add(binaryParts.toByteArray());
                    binaryParts.reset();
                }
                messages.add("<binary " + chunk.length + " bytes>");
                webSocket.request(1);
                return null;
            }

            @Override
            public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
                closed.complete(statusCode);
                return null;
            }

            @Override
            public void onError(WebSocket webSocket, Throwable error) {
                closed.complete(ABNORMAL);
            }
        };
    }

    /** Send one text frame (waits until it is written). */
    public synchronized void send(String text) throws Exception {
        ws.sendText(text, true).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Send one binary frame (waits until it is written). */
    public synchronized void sendBinary(byte[] bytes) throws Exception {
        ws.sendBinary(ByteBuffer.wrap(bytes), true).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** HELLO with caps ["drain"] exporting the connectors; asserts the ack. */
    public void hello(String... connectors) throws Exception {
        StringBuilder list = new StringBuilder();
        for (String c : connectors) {
            list.append(list.isEmpty() ? "" : ",").append('"').append(c).append('"');
        }
        send("{\"t\":\"HELLO\",\"agent_id\":\"" + Harness.AGENT_ID + "\",\"connectors\":[" + list
                     + "],\"ver\":\"1.5\",\"caps\":[\"drain\"]}");
        assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"]}", next());
    }

    /** Next text message from the hub. */
    public String next() throws InterruptedException {
        String m = messages.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        if (m == null) {
            fail("no message from the hub within " + WAIT.toMillis() + " ms"
                         + (closed.isDone() ? " (WebSocket closed: " + closed.getNow(0) + ")" : ""));
        }
        return m;
    }

    /** Next message, which must be a frame of the given type. */
    public JsonNode nextFrame(String type) throws Exception {
        String m = next();
        JsonNode node = JSON.readTree(m);
        assertEquals(type, node.path("t").asText(), "unexpected frame " + m);
        return node;
    }

    /** Messages received and not read yet. */
    public List<String> pending() {
        List<String> out = new ArrayList<>();
        messages.drainTo(out);
        return out;
    }

    /** Wait for the WebSocket to end; returns the close code, or {@link #ABNORMAL}. */
    public int awaitClose(Duration timeout) throws Exception {
        try {
            return closed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("WebSocket still open after " + timeout.toMillis() + " ms");
        }
    }

    public boolean isClosed() {
        return closed.isDone();
    }

    /**
     * Send a close frame with a code and reason (at most 123 UTF-8 bytes), as a peer may.
     *
     * @param code close code
     * @param reason close reason
     */
    public synchronized void sendClose(int code, String reason) throws Exception {
        ws.sendClose(code, reason).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Drop the TCP connection without a close handshake. */
    public void abort() {
        ws.abort();
    }

    @Override
    public void close() {
        if (ws != null) {
            ws.abort();
        }
        http.shutdownNow();
    }
}
