package io.nowconnect.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.Agent;
import io.nowconnect.log.Event;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two real agents (same agent_id, two tokens) exporting one connector: new streams are spread to the least busy
 * tunnel; after one agent stops (DRAIN) it gets no new stream while its open streams go on until they end.
 *
 * <p>Each agent's target is a tagging echo server that first sends its tag byte ({@code A} or {@code B}), so a client
 * knows which tunnel carries its stream.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubBalancingTest {
    private static final String CONNECTOR = "shared";

    Harness harness;
    TagEcho targetA;
    TagEcho targetB;
    final List<Socket> clients = new ArrayList<>();

    @BeforeEach
    void setUp(Harness harness) throws IOException {
        this.harness = harness;
        targetA = harness.closeLater(new TagEcho('A'));
        targetB = harness.closeLater(new TagEcho('B'));
        harness.closeLater(() -> {
            for (Socket c : clients) {
                c.close();
            }
        });
    }

    @Test
    void streamsAreSpreadAndDrainMovesNewStreamsToTheOtherTunnel() throws Exception {
        Hub hub = harness.startHub(CONNECTOR);
        Map<String, String> varsA = harness.agentVars(hub.port(), Map.of(CONNECTOR, targetA.port()));
        Map<String, String> varsB = harness.agentVars(hub.port(), Map.of(CONNECTOR, targetB.port()));
        assertTrue(!varsA.get("NC_TOKEN_FILE").equals(varsB.get("NC_TOKEN_FILE")), "two token files");
        Agent agentA = harness.startAgent(varsA);
        Agent agentB = harness.startAgent(varsB);
        Harness.awaitReady(agentA, WAIT);
        Harness.awaitReady(agentB, WAIT);
        Harness.await(WAIT, () -> hub.agentCount() == 2, "two tunnels at the hub");
        assertEquals(2, hub.tunnelTokenIds(CONNECTOR).stream().distinct().count(), "two distinct tokens");

        // 20 long-lived streams, opened one after the other
        List<Socket> onA = new ArrayList<>();
        List<Socket> onB = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Socket c = open(hub);
            (tag(c) == 'A' ? onA : onB).add(c);
        }
        List<Integer> counts = hub.tunnelStreamCounts(CONNECTOR);
        assertEquals(20, counts.stream().mapToInt(Integer::intValue).sum(), counts.toString());
        assertTrue(!onA.isEmpty() && !onB.isEmpty(), "both tunnels carry streams: A=" + onA.size() + " B=" + onB.size());
        assertTrue(Math.abs(onA.size() - onB.size()) <= 2, "least busy wins: A=" + onA.size() + " B=" + onB.size());

        // stop agent A: it sends DRAIN (the hub acked the drain cap) and waits for its streams
        try (DrainWatch drained = new DrainWatch()) {
            Thread stopper = Thread.ofVirtual().start(() -> agentA.stop(Duration.ofSeconds(20)));
            assertTrue(drained.await(WAIT), "the hub saw DRAIN");

            for (int i = 0; i < 6; i++) {
                Socket c = open(hub);
                assertEquals('B', tag(c), "new stream " + i + " after DRAIN must go to the other tunnel");
                onB.add(c);
            }
            // the draining tunnel's streams keep flowing
            for (Socket c : onA) {
                assertEchoes(c, "still flowing".getBytes());
            }
            assertTrue(stopper.isAlive(), "agent A waits for its streams");
            // end A's streams: the agent finishes its drain and its tunnel closes
            for (Socket c : onA) {
                c.shutdownOutput();
                assertEquals(-1, c.getInputStream().read());
            }
            assertTrue(stopper.join(Duration.ofSeconds(10)), "agent A stopped after its streams ended");
            Harness.await(WAIT, () -> hub.agentCount() == 1, "draining tunnel gone");
        }
        // B's streams were not disturbed
        for (Socket c : onB) {
            assertEchoes(c, "b".getBytes());
        }
        assertEquals(List.of(onB.size()), hub.tunnelStreamCounts(CONNECTOR));
    }

    /**
     * A rolling restart of one of two agents of one {@code agent_id} under a steady flow of short client connections:
     * the OPENs the hub sent to the stopping agent before it read its DRAIN are served, and its tunnel stays open for
     * them, so no client fails; five stops of agent A while B serves throughout.
     */
    @Test
    void aStoppingAgentFailsNoClientWhileAnotherServes() throws Exception {
        Hub hub = harness.startHub(CONNECTOR);
        Agent agentB = harness.startAgent(harness.agentVars(hub.port(), Map.of(CONNECTOR, targetB.port())));
        Harness.awaitReady(agentB, WAIT);
        int port = hub.listenerPorts().get(CONNECTOR);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong carriedByA = new AtomicLong();
        AtomicLong carried = new AtomicLong();
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        List<Thread> load = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            load.add(Thread.ofVirtual().start(() -> {
                byte[] ping = "ping".getBytes();
                while (running.get()) {
                    try (Socket c = Harness.client(port)) {
                        c.setSoTimeout((int) WAIT.toMillis());
                        char tag = tag(c);
                        assertEchoes(c, ping);
                        carried.incrementAndGet();
                        if (tag == 'A') {
                            carriedByA.incrementAndGet();
                        }
                    } catch (IOException | AssertionError e) {
                        failures.add(e.toString());
                    }
                }
            }));
        }
        try {
            for (int round = 0; round < 5; round++) {
                Agent agentA = harness.startAgent(harness.agentVars(hub.port(), Map.of(CONNECTOR, targetA.port())));
                Harness.awaitReady(agentA, WAIT);
                long before = carriedByA.get();
                Harness.await(WAIT, () -> carriedByA.get() >= before + 50, "agent A serves");
                harness.stopAgent(agentA, Duration.ofSeconds(10));
                Harness.await(WAIT, () -> hub.agentCount() == 1, "agent A's tunnel gone");
                long after = carried.get();
                Harness.await(WAIT, () -> carried.get() >= after + 50, "agent B serves alone");
            }
        } finally {
            running.set(false);
            for (Thread t : load) {
                t.join(WAIT);
            }
        }
        System.out.printf("[balancing] 5 stops of agent A under 4 connecting threads: %d clients carried (%d by A), %d"
                          + " failed%n", carried.get(), carriedByA.get(), failures.size());
        assertEquals(List.of(), List.copyOf(failures), "clients failed around an agent's graceful stop");
    }

    private Socket open(Hub hub) throws IOException {
        Socket c = Harness.client(hub.listenerPorts().get(CONNECTOR));
        c.setSoTimeout((int) WAIT.toMillis());
        clients.add(c);
        return c;
    }

    private static char tag(Socket c) throws IOException {
        int b = c.getInputStream().read();
        assertTrue(b == 'A' || b == 'B', "tag byte, got " + b);
        return (char) b;
    }

    private static void assertEchoes(Socket c, byte[] bytes) throws IOException {
        c.getOutputStream().write(bytes);
        c.getOutputStream().flush();
        assertEquals(new String(bytes), new String(HubProtocolTest.readExactly(c.getInputStream(), bytes.length)));
    }

    /** Waits for the hub's {@code agent_draining} log event (the only outside sign that the hub processed DRAIN). */
    private static final class DrainWatch extends Handler implements AutoCloseable {
        private final Logger logger = Logger.getLogger(AgentTunnel.class.getName());
        private final Level oldLevel = logger.getLevel();
        private final CountDownLatch seen = new CountDownLatch(1);

        DrainWatch() {
            logger.setLevel(Level.INFO);
            logger.addHandler(this);
        }

        boolean await(Duration timeout) throws InterruptedException {
            return seen.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public void publish(LogRecord record) {
            Object[] params = record.getParameters();
            if (params != null && params.length > 0 && params[0] instanceof Event e
                    && "agent_draining".equals(e.fields().get("event"))) {
                seen.countDown();
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
            logger.setLevel(oldLevel);
        }
    }

    /** Echo target that first writes a tag byte; closes its connections when closed. */
    private static final class TagEcho implements AutoCloseable {
        private final ServerSocket server = new ServerSocket();
        private final List<Socket> accepted = new CopyOnWriteArrayList<>();
        private final char tag;

        TagEcho(char tag) throws IOException {
            this.tag = tag;
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Thread.ofVirtual().start(this::accept);
        }

        int port() {
            return server.getLocalPort();
        }

        private void accept() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    accepted.add(s);
                    Thread.ofVirtual().start(() -> serve(s));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                out.write(tag);
                out.flush();
                byte[] buf = new byte[8192];
                int n;
                while ((n = in.read(buf)) >= 0) {
                    out.write(buf, 0, n);
                    out.flush();
                }
                s.shutdownOutput();
            } catch (IOException ignored) {
                // closed
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : accepted) {
                s.close();
            }
        }
    }
}
