package io.nowconnect.hub;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An agent that says HELLO and then stops reading (its receive window fills, the hub's writes to it block) while it
 * keeps sending pings, so the hub hears from it: the hub must end that tunnel within about the ping timeout because
 * its writes make no progress, and close every client socket of the tunnel, those whose OPEN never went out included
 * (their accept threads were blocked sending it).
 */
@ExtendWith(TestKit.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class HubStalledAgentTest {
    private static final int PING_TIMEOUT_SEC = 2;
    private static final int STREAMING_CLIENTS = 30;
    private static final int LATE_CLIENTS = 20;
    private static final String PACING_OFF = "nowconnect_hub_wire_frames_total";

    @Test
    void agentThatStopsReadingIsCutAndEveryClientClosed(Harness harness) throws Exception {
        // no wait for an agent: the last client must be refused at once
        Hub hub = harness.hub().connectors("db")
                .env(Map.of("NC_HUB_PING_INTERVAL_SEC", "1", "NC_HUB_PING_TIMEOUT_SEC", Integer.toString(PING_TIMEOUT_SEC),
                            "NC_HUB_AGENT_WAIT_MS", "0"))
                .start();
        int listener = hub.listenerPorts().get("db");
        double pacingOffBefore = HubProtocolTest.metric(hub.port(), PACING_OFF, "kind", "pacing_off");
        String token = Files.readString(harness.tokenFile(Harness.AGENT_ID, Duration.ofHours(1))).strip();
        SilentAgent agent = harness.closeLater(SilentAgent.connect(hub.port(), token, 4096));
        String ack = agent.hello(Harness.AGENT_ID, "db");
        assertTrue(ack.contains("HELLO_ACK"), ack);
        Harness.await(Duration.ofSeconds(10), () -> hub.agentCount() == 1, "the silent agent is routable");
        agent.keepPinging(200);

        // clients that send as fast as they can: their DATA fills the hub's socket buffer toward the agent, then the
        // writer's queue; each records when the hub closed it (its write or read fails)
        List<Socket> clients = new ArrayList<>();
        AtomicInteger closedStreaming = new AtomicInteger();
        AtomicLong bytesSent = new AtomicLong();
        for (int i = 0; i < STREAMING_CLIENTS; i++) {
            Socket c = harness.closeLater(Harness.client(listener));
            clients.add(c);
            Thread.ofVirtual().name("test-client-" + i).start(() -> {
                byte[] chunk = new byte[16 * 1024];
                try {
                    OutputStream out = c.getOutputStream();
                    while (true) {
                        out.write(chunk);
                        bytesSent.addAndGet(chunk.length);
                    }
                } catch (IOException e) {
                    closedStreaming.incrementAndGet();
                }
            });
        }
        // wait until the clients are held up: the hub's writer is blocked on the agent's zero window
        long stalledSince = Harness.awaitStalled(bytesSent, "the clients");
        System.out.printf("[stalled-agent] clients held up after %d KiB sent%n", bytesSent.get() / 1024);

        // clients that arrive now: their OPEN cannot go out (the writer's queue is full), the accept thread waits
        List<Socket> late = new ArrayList<>();
        for (int i = 0; i < LATE_CLIENTS; i++) {
            late.add(harness.closeLater(Harness.client(listener)));
        }

        Harness.await(Duration.ofSeconds(PING_TIMEOUT_SEC + 15), () -> hub.agentCount() == 0,
                      "the hub ends the tunnel of the agent that stopped reading");
        long noticedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stalledSince);
        Harness.await(Duration.ofSeconds(15), () -> closedStreaming.get() == STREAMING_CLIENTS,
                      "every streaming client closed by the hub (" + closedStreaming.get() + " of " + STREAMING_CLIENTS + ")");
        long lateClosed = 0;
        for (Socket s : late) {
            s.setSoTimeout(15_000);
            try {
                int b = s.getInputStream().read();
                assertEquals(-1, b, "a late client gets no data");
            } catch (IOException e) {
                // reset: closed too
            }
            lateClosed++;
        }
        assertEquals(LATE_CLIENTS, lateClosed);
        Harness.await(Duration.ofSeconds(10), agent::writeFails, "the agent's connection is closed by the hub");
        long allClosedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stalledSince);
        System.out.printf("[stalled-agent] tunnel ended %d ms after the clients were held up (ping timeout %d s), "
                                  + "all %d clients closed after %d ms%n", noticedMillis, PING_TIMEOUT_SEC,
                          STREAMING_CLIENTS + LATE_CLIENTS, allClosedMillis);
        assertTrue(noticedMillis < (PING_TIMEOUT_SEC + 10) * 1000L, "noticed in " + noticedMillis + " ms");
        // the agent never answered the writer's pacing probe: pacing turned itself off first, counted once
        assertEquals(pacingOffBefore + 1, HubProtocolTest.metric(hub.port(), PACING_OFF, "kind", "pacing_off"),
                     "pacing turned off for the tunnel whose agent stopped reading");

        // the streams' slots are free again: a new client is refused at once (no agent) instead of hanging
        try (Socket again = Harness.client(listener)) {
            again.setSoTimeout(10_000);
            assertEquals(-1, again.getInputStream().read(), "no agent: the client is closed at once");
        }
    }

    @Test
    void agentThatReadsSlowlyKeepsItsTunnel(Harness harness) throws Exception {
        Hub hub = harness.hub().connectors("db")
                .env(Map.of("NC_HUB_PING_INTERVAL_SEC", "1", "NC_HUB_PING_TIMEOUT_SEC", Integer.toString(PING_TIMEOUT_SEC)))
                .start();
        int listener = hub.listenerPorts().get("db");
        String token = Files.readString(harness.tokenFile(Harness.AGENT_ID, Duration.ofHours(1))).strip();
        // a receive buffer of a few KiB would not do here: on loopback (MSS 64 KiB) its window updates are held back
        // and the sender falls back to zero-window probes, which back off to seconds
        SilentAgent agent = harness.closeLater(SilentAgent.connect(hub.port(), token, 256 * 1024));
        agent.hello(Harness.AGENT_ID, "db");
        Harness.await(Duration.ofSeconds(10), () -> hub.agentCount() == 1, "the agent is routable");
        agent.keepPinging(200);
        // far slower than the clients send, so the hub's writer is blocked nearly all the time; but a blocked write
        // resumes once the kernel freed a third of the send buffer (up to 4 MiB on loopback), which this rate does
        // well within the 2 s ping timeout
        AtomicLong read = new AtomicLong();
        agent.readSlowly(4 << 20, read);
        AtomicInteger failed = new AtomicInteger();
        for (int i = 0; i < 4; i++) {
            Socket c = harness.closeLater(Harness.client(listener));
            Thread.ofVirtual().name("test-client-" + i).start(() -> {
                byte[] chunk = new byte[16 * 1024];
                try {
                    OutputStream out = c.getOutputStream();
                    while (true) {
                        out.write(chunk);
                    }
                } catch (IOException e) {
                    failed.incrementAndGet();
                }
            });
        }
        long start = System.nanoTime();
        while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(PING_TIMEOUT_SEC * 4L)) {
            assertEquals(1, hub.agentCount(), "a slow agent that reads keeps its tunnel (read " + read.get() + " bytes)");
            Thread.sleep(100);
        }
        assertEquals(0, failed.get(), "no client was closed");
        System.out.printf("[stalled-agent] a slow agent read %d KiB in %d s and kept its tunnel%n", read.get() / 1024,
                          PING_TIMEOUT_SEC * 4);
        assertTrue(read.get() > 1024 * 1024, "the slow agent read: " + read.get());
    }
}
