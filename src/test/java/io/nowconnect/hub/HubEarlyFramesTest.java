package io.nowconnect.hub;

import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An agent whose HELLO reaches the hub in the same segment as its upgrade request: Helidon has read the frame while
 * parsing the request, and the tunnel, which reads the socket itself after the upgrade, must still get it.
 */
@ExtendWith(TestKit.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HubEarlyFramesTest {

    @Test
    void helloSentWithTheUpgradeRequestIsAnswered(Harness harness) throws Exception {
        Hub hub = harness.hub().connectors("db").start();
        String token = Files.readString(harness.tokenFile(Harness.AGENT_ID, Duration.ofHours(1))).strip();
        SilentAgent agent = harness.closeLater(SilentAgent.connect(hub.port(), token, 64 * 1024,
                                                                   SilentAgent.helloFrame(Harness.AGENT_ID, "db")));
        String ack = agent.readText();
        assertTrue(ack.contains("HELLO_ACK"), ack);
        Harness.await(Duration.ofSeconds(10), () -> hub.agentCount() == 1, "the agent is routable");
    }
}
