package io.nowconnect.tunnel;

import java.net.Socket;
import java.time.Duration;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Frame;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TargetServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sizes are checked on receipt, against a hostile hub: DATA larger than the protocol allows resets its stream (RST
 * {@code oversized}) and is never buffered, a cid longer than 128 characters is dropped unanswered, and neither
 * disturbs the tunnel or another stream.
 */
@Timeout(60)
class AgentOversizeTest extends ScriptedHubTestBase {
    private static final Duration QUIET = Duration.ofMillis(500);

    @Test
    void oversizedJsonDataResetsOnlyItsStream() throws Exception {
        TargetServer target = target();
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("ldap", target.port(), "echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        Socket s = target.awaitAccept();
        conn.send(data(cid, 0, new byte[BinaryCodec.MAX_DATA_PAYLOAD + 1]));
        assertEquals(rst(cid, "oversized"), conn.nextFor(cid, WAIT));
        s.setSoTimeout((int) WAIT.toMillis());
        int first;
        try {
            first = s.getInputStream().read();
        } catch (java.io.IOException reset) {
            first = -2;
        }
        assertTrue(first < 0, "nothing of it reached the target, and its connection is closed (" + first + ")");
        roundTrip(conn, "echo");
        assertTrue(agent.status().endings().isEmpty(), "the tunnel stayed: " + agent.status().endings());
    }

    @Test
    void oversizedBinaryDataResetsOnlyItsStream() throws Exception {
        hub.ack = Bin1ConformanceTest.ACK_BIN1;
        TargetServer target = target();
        Agent agent = startAgent(vars(targets("ldap", target.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String cid = newCid();
        conn.send(open(cid, "ldap"));
        target.awaitAccept();
        conn.sendBinary(BinaryCodec.encode(new Frame.Data(cid, 0, new byte[BinaryCodec.MAX_DATA_PAYLOAD + 1])));
        assertEquals(rst(cid, "oversized"), conn.nextFor(cid, WAIT));
        conn.send(open(newCid(), "ldap"));
        target.awaitAccept(); // the tunnel still serves new streams
        assertTrue(agent.status().endings().isEmpty(), "the tunnel stayed: " + agent.status().endings());
    }

    @Test
    void aCidOver128CharactersIsDroppedUnanswered() throws Exception {
        TargetServer target = target();
        EchoServer echo = echo();
        Agent agent = startAgent(vars(targets("ldap", target.port(), "echo", echo.port())));
        ScriptedHub.Conn conn = connectReady(agent);
        String longCid = "c".repeat(129);
        conn.send(open(longCid, "ldap"));
        assertNull(conn.pollFor(longCid, QUIET), "no answer to a frame with a 129-character cid");
        assertNull(target.accepted.poll(QUIET.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS), "and no dial");
        String ok = "c".repeat(128);
        conn.send(open(ok, "ldap"));
        target.awaitAccept(); // 128 characters are fine
        roundTrip(conn, "echo");
        assertTrue(agent.status().endings().isEmpty(), "the tunnel stayed: " + agent.status().endings());
    }
}
