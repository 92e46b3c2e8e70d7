package io.nowconnect.hub;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static io.nowconnect.hub.HubProtocolTest.concat;
import static io.nowconnect.hub.HubProtocolTest.data;
import static io.nowconnect.hub.HubProtocolTest.goodToken;
import static io.nowconnect.hub.HubProtocolTest.random;
import static io.nowconnect.hub.HubProtocolTest.readExactly;
import static io.nowconnect.hub.HubProtocolTest.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Streams through the hub, with the JDK WebSocket client scripted as the agent: OPEN, chunked DATA with seq, both
 * half-closes, RST, and a dropped tunnel.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubStreamTest {
    private static final int PAYLOAD = 1024;
    private static final String UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

    Harness harness;
    Hub hub;
    RawAgent agent;

    @BeforeEach
    void setUp(Harness harness) throws Exception {
        this.harness = harness;
        hub = harness.startHub(0, Map.of("NC_HUB_MAX_WS_PAYLOAD", Integer.toString(PAYLOAD)), "x");
        agent = harness.closeLater(RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID)));
        agent.hello("x");
        Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel ready");
    }

    @Test
    void clientBytesReachTheAgentChunkedWithSeqFromZero() throws Exception {
        try (Socket client = Harness.client(port())) {
            String open = agent.next();
            assertTrue(open.matches("\\{\"t\":\"OPEN\",\"cid\":\"" + UUID + "\",\"connector\":\"x\"}"), open);
            String cid = HubProtocolTest.JSON.readTree(open).get("cid").asText();

            byte[] sent = random(3 * PAYLOAD + 100, 1);
            write(client, sent);
            List<byte[]> chunks = new ArrayList<>();
            long seq = 0;
            int received = 0;
            while (received < sent.length) {
                JsonNode frame = agent.nextFrame("DATA");
                assertEquals(cid, frame.get("cid").asText());
                assertEquals(seq++, frame.get("seq").asLong(), "seq counts DATA frames from 0");
                byte[] chunk = Base64.getDecoder().decode(frame.get("b64").asText());
                assertTrue(chunk.length > 0 && chunk.length <= PAYLOAD, "chunk of " + chunk.length + " bytes");
                chunks.add(chunk);
                received += chunk.length;
            }
            assertTrue(chunks.size() >= 4, "at least 4 frames for " + sent.length + " bytes");
            assertArrayEquals(sent, concat(chunks));
            // the next client bytes continue the sequence
            write(client, "more".getBytes(StandardCharsets.UTF_8));
            assertEquals(seq, agent.nextFrame("DATA").get("seq").asLong());
        }
    }

    @Test
    void agentDataAndFinReachTheClientWhichCanStillSend() throws Exception {
        try (Socket client = Harness.client(port())) {
            String cid = agent.nextFrame("OPEN").get("cid").asText();
            byte[] big = random(20_000, 2);
            int at = 0;
            long seq = 0;
            while (at < big.length) {
                int n = Math.min(PAYLOAD, big.length - at);
                agent.send(data(cid, seq++, java.util.Arrays.copyOfRange(big, at, at + n)));
                at += n;
            }
            agent.send("{\"t\":\"FIN\",\"cid\":\"" + cid + "\",\"dir\":\"a2c\"}");
            InputStream in = client.getInputStream();
            assertArrayEquals(big, readExactly(in, big.length));
            assertEquals(-1, in.read(), "a2c FIN half-closes the client's input");

            // the client's other direction still works
            write(client, "after fin".getBytes(StandardCharsets.UTF_8));
            JsonNode d = agent.nextFrame("DATA");
            assertEquals(cid, d.get("cid").asText());
            assertEquals("after fin", new String(Base64.getDecoder().decode(d.get("b64").asText()), StandardCharsets.UTF_8));
            assertEquals(1, hub.tunnelStreamCounts("x").getFirst(), "stream open until both sides finished");

            client.shutdownOutput();
            assertEquals("{\"t\":\"FIN\",\"cid\":\"" + cid + "\",\"dir\":\"c2a\"}", agent.next());
            Harness.await(WAIT, () -> hub.tunnelStreamCounts("x").getFirst() == 0, "stream closed after both FINs");
        }
    }

    @Test
    void agentRstClosesTheClient() throws Exception {
        try (Socket client = Harness.client(port())) {
            String cid = agent.nextFrame("OPEN").get("cid").asText();
            agent.send(data(cid, 0, "x".getBytes(StandardCharsets.UTF_8)));
            assertEquals('x', client.getInputStream().read());
            agent.send("{\"t\":\"RST\",\"cid\":\"" + cid + "\",\"err\":\"connect_failed\"}");
            assertClosed(client);
            Harness.await(WAIT, () -> hub.tunnelStreamCounts("x").getFirst() == 0, "stream removed");
            // no RST is sent back for a RST, and the tunnel stays up
            assertEquals(List.of(), agent.pending());
            assertEquals(1, hub.agentCount());
        }
    }

    @Test
    void clientAbortIsSentToTheAgentAsRst() throws Exception {
        Socket client = Harness.client(port());
        String cid = agent.nextFrame("OPEN").get("cid").asText();
        client.setSoLinger(true, 0);
        client.close(); // TCP RST
        JsonNode frame = HubProtocolTest.JSON.readTree(agent.next());
        // a hard close reaches the hub as EOF or as a reset, depending on timing: FIN c2a or RST are both fine
        assertEquals(cid, frame.get("cid").asText());
        assertTrue(List.of("FIN", "RST").contains(frame.get("t").asText()), frame.toString());
    }

    @Test
    void droppedTunnelClosesAllItsClients() throws Exception {
        List<Socket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Socket c = Harness.client(port());
                clients.add(c);
                String cid = agent.nextFrame("OPEN").get("cid").asText();
                agent.send(data(cid, 0, new byte[] {(byte) i}));
                assertEquals(i, c.getInputStream().read());
            }
            assertEquals(3, hub.tunnelStreamCounts("x").getFirst());
            agent.abort();
            for (Socket c : clients) {
                assertClosed(c);
            }
            Harness.await(WAIT, () -> hub.agentCount() == 0, "tunnel removed");
        } finally {
            for (Socket c : clients) {
                c.close();
            }
        }
    }

    private int port() {
        return hub.listenerPorts().get("x");
    }

    /** The hub closed the client: EOF (or a reset) within the bounded wait. */
    static void assertClosed(Socket client) throws IOException {
        client.setSoTimeout((int) WAIT.toMillis());
        try {
            int b = client.getInputStream().read();
            assertEquals(-1, b, "expected the connection to be closed");
        } catch (java.net.SocketTimeoutException e) {
            fail("client connection still open after " + WAIT.toMillis() + " ms");
        } catch (IOException e) {
            // connection reset: closed as well
        }
    }
}
