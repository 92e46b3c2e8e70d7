package io.nowconnect.hub;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ProtocolException;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static io.nowconnect.hub.HubProtocolTest.awaitMetric;
import static io.nowconnect.hub.HubProtocolTest.goodToken;
import static io.nowconnect.hub.HubProtocolTest.metric;
import static io.nowconnect.hub.HubProtocolTest.random;
import static io.nowconnect.hub.HubProtocolTest.readExactly;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin1} at the hub, spoken by a hand-scripted agent (the JDK's WebSocket client): the ack names it only when
 * offered, the hub sends binary DATA only within the credit the agent granted, accepts binary and JSON DATA, resets a
 * stream that overruns its window with {@code flow_control}, and drops malformed binary frames without harm.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubBin1Test {
    private static final int WINDOW = BinaryCodec.INITIAL_WINDOW;
    private static final String DROPPED = "nowconnect_hub_frames_dropped_total";

    @Test
    void withoutBin1InHelloTheHubSendsJsonAndDropsBinary(Harness harness) throws Exception {
        Hub hub = harness.startHub("v1");
        double before = metric(hub.port(), DROPPED, "reason", "binary_frame");
        try (RawAgent agent = RawAgent.connect(hub.port(),goodToken(harness, Harness.AGENT_ID));
             Socket client = clientAfter(hub, agent, "v1", false)) {
            String cid = agent.nextFrame("OPEN").get("cid").asText();
            agent.sendBinary(BinaryCodec.encode(new Frame.Data(cid, 0, "hi".getBytes(StandardCharsets.US_ASCII))));
            awaitMetric(hub.port(), before + 1, DROPPED, "reason", "binary_frame");
            write(client, new byte[20_000]);
            int got = 0;
            while (got < 20_000) {
                JsonNode data = agent.nextFrame("DATA");
                got += java.util.Base64.getDecoder().decode(data.get("b64").asText()).length;
            }
            assertTrue(agent.binaries.isEmpty(), "nothing binary to a v1 agent");
        }
    }

    @Test
    void theHubSendsWithinTheCreditAndAcceptsBothEncodings(Harness harness) throws Exception {
        Hub hub = harness.startHub("b1");
        try (RawAgent agent = RawAgent.connect(hub.port(),goodToken(harness, Harness.AGENT_ID));
             Socket client = clientAfter(hub, agent, "b1", true)) {
            client.setSoTimeout(10_000);
            String cid = agent.nextFrame("OPEN").get("cid").asText();

            // agent -> client: binary and JSON DATA alike
            agent.sendBinary(BinaryCodec.encode(new Frame.Data(cid, 0, "bin ".getBytes(StandardCharsets.US_ASCII))));
            agent.send(HubProtocolTest.data(cid, 1, "json".getBytes(StandardCharsets.US_ASCII)));
            assertArrayEquals("bin json".getBytes(StandardCharsets.US_ASCII), readExactly(client.getInputStream(), 8));

            // client -> agent: 1 MiB, but only one window of it until the agent returns credit
            byte[] sent = random(1 << 20, 4);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    write(client, sent);
                } catch (Exception ignored) {
                    // checked through the bytes
                }
            });
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            long[] seq = {0};
            readBinary(agent, cid, seq, got, WINDOW);
            assertNull(agent.binaries.poll(500, TimeUnit.MILLISECONDS), "nothing beyond the initial window");
            agent.sendBinary(BinaryCodec.encode(new Frame.Window(cid, 12_345)));
            readBinary(agent, cid, seq, got, WINDOW + 12_345);
            assertNull(agent.binaries.poll(300, TimeUnit.MILLISECONDS), "nothing beyond the new credit");
            agent.sendBinary(BinaryCodec.encode(new Frame.Window(cid, sent.length)));
            readBinary(agent, cid, seq, got, sent.length);
            assertArrayEquals(sent, got.toByteArray(), "bytes intact and in order");
            writer.join();
        }
    }

    @Test
    void dataBeyondTheWindowResetsThatStreamWithFlowControl(Harness harness) throws Exception {
        // a hub with an 8 MiB memory budget grants each stream 4 KiB (win: 40 % of the budget over 2000 streams, at
        // least 4 KiB) and says so in its ack
        Hub hub = harness.startHub(0, Map.of("NC_HUB_MEMORY_BUDGET_MB", "8"), "b2");
        try (RawAgent agent = RawAgent.connect(hub.port(),goodToken(harness, Harness.AGENT_ID))) {
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"" + Harness.AGENT_ID + "\",\"connectors\":[\"b2\"],\"ver\":\"1.5\","
                               + "\"caps\":[\"drain\",\"bin1\",\"win\"],\"win\":262144}");
            assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\",\"bin1\",\"win\"],\"win\":4096}", agent.next());
            Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel registered");
            try (Socket client = Harness.client(hub.listenerPorts().get("b2"))) {
                client.setSoTimeout(10_000);
                String cid = agent.nextFrame("OPEN").get("cid").asText();
                // one frame of window + 1 bytes is more than the hub granted, whatever its client did meanwhile
                agent.sendBinary(BinaryCodec.encode(new Frame.Data(cid, 0, new byte[4096 + 1])));
                JsonNode rst = agent.nextFrame("RST");
                assertEquals(cid, rst.get("cid").asText());
                assertEquals("flow_control", rst.get("err").asText());
                Harness.await(WAIT, () -> hub.tunnelStreamCounts("b2").equals(java.util.List.of(0)), "stream closed");
                assertEquals(1, hub.agentCount(), "the tunnel stays");
            }
        }
    }

    @Test
    void malformedBinaryFramesAreDroppedAndCounted(Harness harness) throws Exception {
        Hub hub = harness.startHub("b3");
        int port = hub.port();
        HexFormat hex = HexFormat.of();
        String[][] cases = {
                {"01", "bin_short"},
                {"0120", "bin_bad_cid"},
                {"0500", "bin_unknown_type"},
                {"02016300000000", "bin_bad_window"},
        };
        try (RawAgent agent = RawAgent.connect(port,goodToken(harness, Harness.AGENT_ID))) {
            hello(agent, "b3", true);
            for (String[] c : cases) {
                double before = metric(port, DROPPED, "reason", c[1]);
                agent.sendBinary(hex.parseHex(c[0]));
                awaitMetric(port, before + 1, DROPPED, "reason", c[1]);
            }
            double unknown = metric(port, DROPPED, "reason", "unknown_cid");
            agent.sendBinary(BinaryCodec.encode(new Frame.Window("00000000-0000-0000-0000-000000000000", 5)));
            awaitMetric(port, unknown + 1, DROPPED, "reason", "unknown_cid");
            assertEquals(1, hub.agentCount());
            try (Socket client = Harness.client(hub.listenerPorts().get("b3"))) {
                String cid = agent.nextFrame("OPEN").get("cid").asText();
                agent.sendBinary(BinaryCodec.encode(new Frame.Data(cid, 0, "ok".getBytes(StandardCharsets.US_ASCII))));
                assertArrayEquals("ok".getBytes(StandardCharsets.US_ASCII), readExactly(client.getInputStream(), 2));
            }
        }
    }

    /** HELLO (with or without bin1), then a client on the connector's listener: the agent gets its OPEN next. */
    private static Socket clientAfter(Hub hub, RawAgent agent, String connector, boolean bin1)
            throws Exception {
        hello(agent, connector, bin1);
        Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel registered");
        return Harness.client(hub.listenerPorts().get(connector));
    }

    private static void hello(RawAgent agent, String connector, boolean bin1) throws Exception {
        agent.send("{\"t\":\"HELLO\",\"agent_id\":\"" + Harness.AGENT_ID + "\",\"connectors\":[\"" + connector
                           + "\"],\"ver\":\"1.5\",\"caps\":[\"drain\"" + (bin1 ? ",\"bin1\"" : "") + "]}");
        assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"drain\"" + (bin1 ? ",\"bin1\"" : "") + "]}", agent.next());
    }

    private static void readBinary(RawAgent agent, String cid, long[] seq, ByteArrayOutputStream into,
                                   int total) throws Exception {
        while (into.size() < total) {
            byte[] m = agent.binaries.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertTrue(m != null, "no binary DATA after " + into.size() + " of " + total + " bytes");
            Frame f;
            try {
                f = BinaryCodec.decode(m);
            } catch (ProtocolException e) {
                throw new AssertionError("hub sent a malformed binary frame: " + e.getMessage());
            }
            Frame.Data d = (Frame.Data) f;
            assertEquals(cid, d.cid());
            assertEquals(seq[0]++, d.seq());
            assertTrue(d.payload().length > 0 && d.payload().length <= BinaryCodec.MAX_DATA_PAYLOAD);
            into.writeBytes(d.payload());
        }
        assertEquals(total, into.size(), "more bytes than the credit allowed");
    }

    private static void write(Socket s, byte[] bytes) throws Exception {
        OutputStream out = s.getOutputStream();
        out.write(bytes);
        out.flush();
    }
}
