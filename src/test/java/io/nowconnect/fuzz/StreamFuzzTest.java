package io.nowconnect.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import io.nowconnect.Agent;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stream state machine under random interleavings, end to end: a scripted hub ({@link ScriptedHub}) drives the real
 * agent with random OPEN (exported and not), DATA, FIN, RST, hostile frames (DATA for unknown cids, after FIN, after
 * RST; duplicate OPENs) and tunnel drops, against a real echo target on loopback. Seeded ({@code -Dnc.fuzz.seed=N}).
 * Invariants: no exception escapes (no uncaught exception, no SEVERE log); every target socket is closed in the end;
 * nothing outside the connector map is dialled; every stream's echoed bytes arrive in order (DATA seq from 0, no gap)
 * and are a prefix of what was sent, and exactly what was sent when the stream ended with both FINs.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class StreamFuzzTest {
    private static final int OPS = 3000;

    /** Hub-side model of one stream. */
    private static final class Model {
        final String cid;
        final boolean exported;
        final ScriptedHub.Conn conn;
        final ByteArrayOutputStream sent = new ByteArrayOutputStream();
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        long seqOut;
        long seqIn;
        boolean finSent;
        volatile boolean rstSent;
        volatile boolean gotFin;
        volatile boolean gotRst;
        volatile String seqError;
        /** What happened to this stream, in order (for the failure message). */
        final List<String> history = new CopyOnWriteArrayList<>();

        Model(String cid, boolean exported, ScriptedHub.Conn conn) {
            this.cid = cid;
            this.exported = exported;
            this.conn = conn;
        }

        boolean live() {
            return !finSent && !rstSent && !gotRst && !conn.isDropped();
        }

        boolean done() {
            if (!exported) {
                // refused at once with RST unknown_connector, whatever else was sent for it
                return gotRst || conn.isDropped();
            }
            return gotRst || rstSent || conn.isDropped() || gotFin && finSent && receivedSize() == sentSize();
        }

        synchronized int receivedSize() {
            return received.size();
        }

        synchronized int sentSize() {
            return sent.size();
        }
    }

    @Test
    void randomInterleavingsKeepTheStreamInvariants(Harness h, ScriptedHub hub) throws Exception {
        long seed = Long.getLong("nc.fuzz.seed", System.nanoTime());
        System.out.println("fuzz: streams seed " + seed + " (replay with -Dnc.fuzz.seed=" + seed + ")");
        Random rnd = new Random(seed);
        List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(e));
        List<String> severe = new CopyOnWriteArrayList<>();
        Handler severeHandler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.SEVERE.intValue() || r.getThrown() != null) {
                    severe.add(r.getLoggerName() + ": " + r.getMessage() + " " + r.getThrown());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger.getLogger("io.nowconnect").addHandler(severeHandler);
        Map<String, Model> streams = new ConcurrentHashMap<>();
        AtomicInteger strayFrames = new AtomicInteger();
        long start = System.nanoTime();
        try (ServerSocket sentinel = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             Echo echo = new Echo()) {
            AtomicInteger sentinelAccepts = new AtomicInteger();
            Thread.ofVirtual().start(() -> {
                while (!sentinel.isClosed()) {
                    try (Socket s = sentinel.accept()) {
                        sentinelAccepts.incrementAndGet();
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            hub.onText((conn, text) -> onFrame(streams, conn, text, strayFrames));
            Map<String, String> vars = new HashMap<>(h.agentVars(1, Map.of("echo", echo.port())));
            vars.put("NC_AGENT_URL", hub.url());
            vars.put("NC_IDLE_TIMEOUT_MS", "0");
            vars.put("NC_RECONNECT_MAX_MS", "300");
            Agent agent = h.startAgent(vars);
            ScriptedHub.Conn conn = hub.awaitAcknowledged(Duration.ofSeconds(10));
            List<String> foreign = List.of("sentinel", "127.0.0.1:" + sentinel.getLocalPort(), "ECHO", "echo ", "", "../echo");

            int opens = 0;
            int exportedOpens = 0;
            List<Model> duplicates = new ArrayList<>();
            int drops = 0;
            int hostile = 0;
            for (int op = 0; op < OPS; op++) {
                ScriptedHub.Conn current = conn;
                List<Model> live = streams.values().stream().filter(m -> m.conn == current && m.live()).toList();
                int dice = rnd.nextInt(1000);
                if (dice < 1 && op > 100) { // tunnel drop, abrupt or with a close frame
                    if (rnd.nextBoolean()) {
                        conn.dropTcpNow();
                    } else {
                        conn.closeNormally();
                    }
                    drops++;
                    conn = hub.awaitAcknowledged(Duration.ofSeconds(10));
                } else if (dice < 150 || live.isEmpty()) {
                    boolean exported = rnd.nextInt(8) != 0;
                    String cid = "c" + op + "-" + Long.toHexString(rnd.nextLong());
                    Model m = new Model(cid, exported, conn);
                    streams.put(cid, m);
                    conn.send(JsonCodec.encode(new Frame.Open(cid, exported ? "echo" : foreign.get(rnd.nextInt(foreign.size())))));
                    opens++;
                    exportedOpens += exported ? 1 : 0;
                } else if (dice < 750) {
                    Model m = live.get(rnd.nextInt(live.size()));
                    byte[] b = new byte[1 + (rnd.nextInt(10) == 0 ? rnd.nextInt(8192) : rnd.nextInt(300))];
                    rnd.nextBytes(b);
                    synchronized (m) {
                        m.sent.writeBytes(b);
                    }
                    m.history.add("data " + m.seqOut + ":" + b.length);
                    conn.send(JsonCodec.encode(new Frame.Data(m.cid, m.seqOut++, b)));
                } else if (dice < 850) {
                    Model m = live.get(rnd.nextInt(live.size()));
                    m.finSent = true;
                    m.history.add("fin");
                    conn.send(JsonCodec.encode(new Frame.Fin(m.cid, io.nowconnect.protocol.Direction.C2A)));
                } else if (dice < 900) {
                    Model m = live.get(rnd.nextInt(live.size()));
                    m.rstSent = true;
                    m.history.add("rst");
                    conn.send(JsonCodec.encode(new Frame.Rst(m.cid, "fuzz")));
                } else if (dice < 960) {
                    hostile++;
                    List<Model> any = new ArrayList<>(streams.values());
                    Model m = any.get(rnd.nextInt(any.size()));
                    switch (rnd.nextInt(4)) {
                    case 0 -> conn.send(JsonCodec.encode(new Frame.Data("unknown-" + op, rnd.nextInt(5), new byte[] {1, 2})));
                    case 1 -> { // DATA after our FIN or RST, or for a stream of a dropped tunnel: must go nowhere
                        // (not after a duplicate OPEN: when the agent had ended or refused the first stream, that
                        // OPEN started a new, legitimate one under the same cid, which echoes what it gets)
                        if (!m.live() && !duplicates.contains(m)) {
                            conn.send(JsonCodec.encode(new Frame.Data(m.cid, 99_999, new byte[] {9, 9, 9})));
                        }
                    }
                    case 2 -> conn.send(JsonCodec.encode(new Frame.Fin("unknown-" + op, io.nowconnect.protocol.Direction.C2A)));
                    default -> { // duplicate OPEN of a live cid: the agent answers RST duplicate_cid and ends the stream
                        if (m.live() && m.conn == conn) {
                            m.rstSent = true;
                            // if the agent closed the stream just before (an RST still on its way to us), the OPEN is a
                            // new, legitimate stream: it may dial, and it must be cleaned up at the end
                            exportedOpens++;
                            duplicates.add(m);
                            m.history.add("duplicate open");
                            conn.send(JsonCodec.encode(new Frame.Open(m.cid, "echo")));
                        }
                    }
                    }
                } else if (rnd.nextBoolean()) {
                    Thread.sleep(rnd.nextInt(3));
                }
            }
            // a duplicate OPEN that raced the stream's end opened a new stream nobody tracks: reset those
            for (Model m : duplicates) {
                if (!m.conn.isDropped()) {
                    m.conn.send(JsonCodec.encode(new Frame.Rst(m.cid, "fuzz-cleanup")));
                }
            }
            // end every live stream with our FIN and let the echo answers arrive
            for (Model m : streams.values()) {
                if (m.conn == conn && m.live()) {
                    m.finSent = true;
                    m.history.add("fin");
                    conn.send(JsonCodec.encode(new Frame.Fin(m.cid, io.nowconnect.protocol.Direction.C2A)));
                }
            }
            Harness.await(Duration.ofSeconds(20), () -> streams.values().stream().allMatch(Model::done),
                          "every stream done (seed " + seed + "): "
                                  + streams.values().stream().filter(m -> !m.done()).limit(3)
                                          .map(m -> m.cid + " sent " + m.sentSize() + " got " + m.receivedSize()
                                                  + " fin " + m.finSent + "/" + m.gotFin).toList());
            Harness.await(Duration.ofSeconds(20), () -> echo.open.get() == 0,
                          "every target socket closed (open " + echo.open.get() + " of " + echo.accepted.get() + " accepted, agent-side ports " + echo.openPorts + ", seed " + seed + ")");

            int complete = 0;
            int reset = 0;
            int dropped = 0;
            for (Model m : streams.values()) {
                assertTrue(m.seqError == null, m.cid + ": " + m.seqError + " (seed " + seed + ")");
                byte[] sent;
                byte[] got;
                synchronized (m) {
                    sent = m.sent.toByteArray();
                    got = m.received.toByteArray();
                }
                assertTrue(got.length <= sent.length
                                   && Arrays.equals(got, Arrays.copyOf(sent, got.length)),
                           m.cid + ": echoed bytes are not a prefix of the sent bytes (seed " + seed + "): " + mismatch(sent, got)
                                   + ", fin " + m.finSent + "/" + m.gotFin + ", rst " + m.rstSent + "/" + m.gotRst + ", dropped "
                                   + m.conn.isDropped() + ", history " + m.history);
                if (!m.exported) {
                    assertTrue((m.gotRst || m.conn.isDropped()) && got.length == 0, m.cid + ": unexported OPEN must be refused (seed " + seed + ")");
                }
                if (m.gotFin && m.finSent && !m.gotRst && !m.rstSent) {
                    // the target's FIN comes after it read our FIN, so after every byte we sent: all of it is back,
                    // even when the tunnel was dropped afterwards
                    assertArrayEquals(sent, got, m.cid + ": complete stream delivers everything (seed " + seed + ")");
                    complete++;
                } else if (m.gotRst || m.rstSent) {
                    reset++;
                } else {
                    assertTrue(m.conn.isDropped(), m.cid + ": neither complete, nor reset, nor dropped (seed " + seed + ")");
                    dropped++;
                }
            }
            assertEquals(0, sentinelAccepts.get(), "dials outside the connector map (seed " + seed + ")");
            assertTrue(echo.accepted.get() <= exportedOpens, "target dials " + echo.accepted.get() + " > exported OPENs "
                    + exportedOpens);
            Harness.awaitReady(agent, Duration.ofSeconds(5));
            assertTrue(uncaught.isEmpty(), "uncaught exceptions (seed " + seed + "): " + uncaught);
            assertTrue(severe.isEmpty(), "SEVERE logs or logged exceptions (seed " + seed + "): " + severe);
            System.out.printf("fuzz: streams: %d ops, %d OPENs (%d exported, %d dialled), %d complete and intact, "
                                      + "%d reset, %d on dropped tunnels, %d hostile frames, %d tunnel drops, "
                                      + "%d stray frames, in %d ms%n",
                              OPS, opens, exportedOpens, echo.accepted.get(), complete, reset, dropped, hostile, drops,
                              strayFrames.get(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        } finally {
            Logger.getLogger("io.nowconnect").removeHandler(severeHandler);
            Thread.setDefaultUncaughtExceptionHandler(previous);
        }
    }

    private static void onFrame(Map<String, Model> streams, ScriptedHub.Conn conn, String text, AtomicInteger stray) {
        Frame f;
        try {
            f = JsonCodec.decode(text);
        } catch (io.nowconnect.protocol.ProtocolException e) {
            stray.incrementAndGet();
            return;
        }
        switch (f) {
        case Frame.Data d -> {
            Model m = streams.get(d.cid());
            if (m == null || m.conn != conn) {
                stray.incrementAndGet();
                return;
            }
            synchronized (m) {
                if (d.seq() != m.seqIn && m.seqError == null) {
                    m.seqError = "DATA seq " + d.seq() + " where " + m.seqIn + " was expected";
                }
                m.seqIn = d.seq() + 1;
                m.received.writeBytes(d.payload());
                m.history.add("echo " + d.seq() + ":" + d.payload().length);
            }
        }
        case Frame.Fin fin -> {
            Model m = streams.get(fin.cid());
            if (m != null) {
                m.gotFin = true;
                m.history.add("got fin");
            }
        }
        case Frame.Rst r -> {
            Model m = streams.get(r.cid());
            if (m != null) {
                m.gotRst = true;
                m.history.add("got rst " + r.err());
            } else if (!r.cid().startsWith("unknown-")) {
                stray.incrementAndGet();
            }
        }
        default -> stray.incrementAndGet();
        }
    }

    /** Echo target counting accepted and open connections. */
    private static final class Echo implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
        final AtomicInteger accepted = new AtomicInteger();
        final AtomicInteger open = new AtomicInteger();
        final java.util.Set<Integer> openPorts = java.util.concurrent.ConcurrentHashMap.newKeySet();

        Echo() throws IOException {
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        accepted.incrementAndGet();
                        open.incrementAndGet();
                        openPorts.add(s.getPort());
                        Thread.ofVirtual().start(() -> {
                            try (s) {
                                s.getInputStream().transferTo(s.getOutputStream());
                            } catch (IOException ignored) {
                                // reset
                            } finally {
                                openPorts.remove(s.getPort());
                                open.decrementAndGet();
                            }
                        });
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    /** Where two byte runs part, for the failure message. */
    private static String mismatch(byte[] sent, byte[] got) {
        int i = 0;
        while (i < Math.min(sent.length, got.length) && sent[i] == got[i]) {
            i++;
        }
        return "sent " + sent.length + " bytes, got " + got.length + ", first difference at " + i;
    }
}
