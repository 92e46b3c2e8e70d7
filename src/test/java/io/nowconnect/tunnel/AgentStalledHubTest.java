package io.nowconnect.tunnel;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.nowconnect.Agent;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TargetServer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hub that stops reading the tunnel (its receive window fills) while it keeps pinging the agent, so the agent hears
 * from it: the agent must end the tunnel within about its ping timeout because its writes make no progress, close
 * every target socket of the tunnel, and connect again.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class AgentStalledHubTest extends ScriptedHubTestBase {
    private static final int PING_TIMEOUT_SEC = 2;
    private static final int STREAMS = 10;

    @Test
    void hubThatStopsReadingIsLeftAndTargetsClosed() throws Exception {
        TargetServer target = target();
        Map<String, String> vars = vars(targets("bulk", target.port()));
        vars.put("NC_PING_TIMEOUT_SEC", Integer.toString(PING_TIMEOUT_SEC));
        Agent agent = startAgent(vars);
        ScriptedHub.Conn conn = connectReady(agent);
        for (int i = 0; i < STREAMS; i++) {
            conn.send(open(newCid(), "bulk"));
        }
        // the hub reads nothing more from the agent (its connection thread blocks at the next frame)
        conn.stallReads();
        // every target sends as fast as it can: the agent's DATA fills the socket toward the hub, then its queue
        AtomicInteger closed = new AtomicInteger();
        AtomicLong sent = new AtomicLong();
        for (int i = 0; i < STREAMS; i++) {
            Socket s = target.awaitAccept();
            Thread.ofVirtual().name("test-target-" + i).start(() -> {
                byte[] chunk = new byte[16 * 1024];
                try {
                    OutputStream out = s.getOutputStream();
                    while (true) {
                        out.write(chunk);
                        sent.addAndGet(chunk.length);
                    }
                } catch (IOException e) {
                    closed.incrementAndGet();
                }
            });
        }
        // the hub keeps pinging, so the agent hears from it and its pong check cannot end the tunnel
        Thread pinger = Thread.ofVirtual().name("test-hub-ping").start(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    conn.ping(new byte[] {7});
                    Thread.sleep(200);
                }
            } catch (InterruptedException | RuntimeException e) {
                // the connection is gone, or the test ended
            }
        });
        try {
            long stalledSince = Harness.awaitStalled(sent, "the targets");
            Harness.await(Duration.ofSeconds(PING_TIMEOUT_SEC + 15),
                          () -> agent.status().endings().getOrDefault("write_stalled", 0L) == 1,
                          "the agent ends the tunnel to the hub that stopped reading: " + agent.status().endings());
            long noticedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stalledSince);
            Harness.await(Duration.ofSeconds(15), () -> closed.get() == STREAMS,
                          "every target socket closed (" + closed.get() + " of " + STREAMS + ")");
            String lastError = agent.status().snapshot().lastError().orElse("");
            assertTrue(lastError.contains("hub stopped reading"), lastError);
            // the agent connects again
            ScriptedHub.Conn next = hub.awaitConnection(Duration.ofSeconds(15));
            assertTrue(next.next(WAIT).startsWith("{\"t\":\"HELLO\","));
            System.out.printf("[stalled-hub] agent left the tunnel %d ms after its targets were held up (ping timeout "
                                      + "%d s), %d KiB sent before%n", noticedMillis, PING_TIMEOUT_SEC, sent.get() / 1024);
            assertTrue(noticedMillis < (PING_TIMEOUT_SEC + 10) * 1000L, "noticed in " + noticedMillis + " ms");
        } finally {
            pinger.interrupt();
        }
    }
}
