package io.nowconnect.hub;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.helidon.common.buffers.BufferData;
import io.helidon.http.HeaderNames;
import io.helidon.webclient.websocket.WsClient;
import io.helidon.websocket.WsListener;
import io.helidon.websocket.WsSession;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static io.nowconnect.hub.HubProtocolTest.goodToken;
import static io.nowconnect.hub.HubProtocolTest.random;
import static io.nowconnect.hub.HubProtocolTest.readExactly;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The hub's own WebSocket framing ({@link TunnelUpgrader}, {@code io.nowconnect.ws}) against Helidon's WebSocket
 * client as the agent: its masked frames of every length class and a fragmented message reach the client socket
 * intact, the hub's unmasked binary DATA parses in Helidon, pings are answered, and a close is answered with a close.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubHelidonClientTest {
    @Test
    void helidonClientAsAgent(Harness harness) throws Exception {
        // no hub pings: Helidon's client would answer them from its reader thread while the test thread sends, and its
        // sends are not safe for concurrent use
        Hub hub = harness.startHub(0, Map.of("NC_HUB_PING_INTERVAL_SEC", "300", "NC_HUB_PING_TIMEOUT_SEC", "300"), "hc");
        Recorder agent = new Recorder();
        WsClient.builder()
                .baseUri("ws://127.0.0.1:" + hub.port())
                .addHeader(HeaderNames.AUTHORIZATION, "Bearer " + goodToken(harness, Harness.AGENT_ID))
                .build()
                .connect("/tunnel", agent);
        WsSession session = agent.opened.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        session.send("{\"t\":\"HELLO\",\"agent_id\":\"" + Harness.AGENT_ID + "\",\"connectors\":[\"hc\"],\"ver\":\"1.5\","
                             + "\"caps\":[\"bin1\"]}", true);
        assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"bin1\"]}", agent.text());
        Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel registered");

        try (Socket client = Harness.client(hub.listenerPorts().get("hc"))) {
            client.setSoTimeout(10_000);
            Frame.Open open = assertInstanceOf(Frame.Open.class, JsonCodec.decode(agent.text()));
            String cid = open.cid();

            // agent -> client: payloads of each length encoding (7-bit, 16-bit, 64-bit) and a fragmented message
            int[] sizes = {1, 100, 200, 65_000, 65_536}; // the last: a message over 65535 bytes (64-bit length)
            ByteArrayOutputStream expected = new ByteArrayOutputStream();
            long seq = 0;
            for (int size : sizes) {
                byte[] payload = random(size, size);
                session.send(BufferData.create(BinaryCodec.encode(new Frame.Data(cid, seq++, payload))), true);
                expected.writeBytes(payload);
            }
            byte[] split = BinaryCodec.encode(new Frame.Data(cid, seq, random(5000, 7)));
            session.send(BufferData.create(split, 0, 3000), false);
            session.send(BufferData.create(split, 3000, split.length - 3000), true);
            expected.writeBytes(random(5000, 7));
            InputStream in = client.getInputStream();
            assertArrayEquals(expected.toByteArray(), readExactly(in, expected.size()), "bytes from Helidon's frames");

            // client -> agent: the hub's unmasked binary DATA, parsed by Helidon; credit returned as it arrives
            byte[] sent = random(600_000, 3);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    client.getOutputStream().write(sent);
                } catch (Exception ignored) {
                    // checked through the bytes
                }
            });
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            while (got.size() < sent.length) {
                byte[] message = agent.binaries.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertNotNull(message, "binary DATA after " + got.size() + " bytes");
                Frame frame = BinaryCodec.decode(message);
                if (frame instanceof Frame.Window) {
                    continue; // credit for what the agent sent above
                }
                Frame.Data d = assertInstanceOf(Frame.Data.class, frame);
                got.writeBytes(d.payload());
                session.send(BufferData.create(BinaryCodec.encode(new Frame.Window(cid, d.payload().length))), true);
            }
            assertArrayEquals(sent, got.toByteArray(), "bytes through the hub's frames");
            writer.join();

            session.ping(BufferData.create("are you there".getBytes(StandardCharsets.US_ASCII)));
            assertEquals("are you there", agent.pongs.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS));

            session.close(1000, "bye");
            assertEquals(1000, agent.closed.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
            Harness.await(WAIT, () -> hub.agentCount() == 0, "tunnel gone after the close");
        }
    }

    /** Helidon listener that queues what the hub sends. */
    private static final class Recorder implements WsListener {
        final CompletableFuture<WsSession> opened = new CompletableFuture<>();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();
        final LinkedBlockingQueue<String> texts = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<byte[]> binaries = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<String> pongs = new LinkedBlockingQueue<>();
        private final StringBuilder textParts = new StringBuilder();
        private final ByteArrayOutputStream binaryParts = new ByteArrayOutputStream();

        @Override
        public void onOpen(WsSession session) {
            opened.complete(session);
        }

        @Override
        public void onMessage(WsSession session, String text, boolean last) {
            textParts.append(text);
            if (last) {
                texts.add(textParts.toString());
                textParts.setLength(0);
            }
        }

        @Override
        public void onMessage(WsSession session, BufferData buffer, boolean last) {
            binaryParts.writeBytes(buffer.readBytes());
            if (last) {
                binaries.add(binaryParts.toByteArray());
                binaryParts.reset();
            }
        }

        @Override
        public void onPong(WsSession session, BufferData buffer) {
            pongs.add(buffer.readString(buffer.available(), StandardCharsets.US_ASCII));
        }

        @Override
        public void onClose(WsSession session, int status, String reason) {
            closed.complete(status);
        }

        String text() throws InterruptedException {
            String t = texts.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(t, "no text message from the hub");
            return t;
        }
    }
}
