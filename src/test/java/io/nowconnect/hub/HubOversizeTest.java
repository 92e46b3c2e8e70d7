package io.nowconnect.hub;

import java.net.Socket;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Frame;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static io.nowconnect.hub.HubProtocolTest.goodToken;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sizes are checked on receipt, against a hostile agent: DATA larger than the protocol allows, binary or JSON, resets
 * that stream with RST {@code oversized} (nothing of it reaches the client), and the tunnel and the hub go on.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubOversizeTest {
    @Test
    void oversizedDataFromAnAgentResetsOnlyItsStream(Harness harness) throws Exception {
        Hub hub = harness.startHub("big");
        try (RawAgent agent = RawAgent.connect(hub.port(), goodToken(harness, Harness.AGENT_ID))) {
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"" + Harness.AGENT_ID + "\",\"connectors\":[\"big\"],\"ver\":\"1.5\","
                               + "\"caps\":[\"bin1\"]}");
            assertEquals("{\"t\":\"HELLO_ACK\",\"caps\":[\"bin1\"]}", agent.next());
            Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel registered");
            for (boolean binary : new boolean[] {true, false}) {
                try (Socket client = Harness.client(hub.listenerPorts().get("big"))) {
                    client.setSoTimeout((int) WAIT.toMillis());
                    String cid = agent.nextFrame("OPEN").get("cid").asText();
                    byte[] payload = new byte[BinaryCodec.MAX_DATA_PAYLOAD + 1];
                    if (binary) {
                        agent.sendBinary(BinaryCodec.encode(new Frame.Data(cid, 0, payload)));
                    } else {
                        agent.send(HubProtocolTest.data(cid, 0, payload));
                    }
                    JsonNode rst = agent.nextFrame("RST");
                    assertEquals(cid, rst.get("cid").asText());
                    assertEquals("oversized", rst.get("err").asText(), binary ? "binary" : "JSON");
                    int first;
                    try {
                        first = client.getInputStream().read();
                    } catch (java.io.IOException reset) {
                        first = -2;
                    }
                    assertTrue(first < 0, "nothing reached the client, and its connection ended (" + first + ")");
                }
            }
            assertEquals(1, hub.agentCount(), "the tunnel stays");
        }
    }
}
