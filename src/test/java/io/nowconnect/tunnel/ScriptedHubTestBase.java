package io.nowconnect.tunnel;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.Agent;
import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.ScriptedHub;
import io.nowconnect.testkit.TargetServer;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shared helpers of the scripted-hub tests: the test kit's {@link ScriptedHub}, agents started from {@code NC_*}
 * variables that point at it, loopback targets, and helpers that build and check v1 frames byte for byte. The
 * {@link TestKit} closes everything started here after each test, and fails it when an exception escaped an agent
 * thread.
 */
@ExtendWith(TestKit.class)
abstract class ScriptedHubTestBase {
    /** Generous bound for "eventually" conditions (a loaded 2-core machine). */
    static final Duration WAIT = Duration.ofSeconds(10);
    static final Pattern DATA = Pattern.compile(
            "\\{\"t\":\"DATA\",\"cid\":\"([^\"\\\\]*)\",\"seq\":(0|[1-9][0-9]*),\"b64\":\"([A-Za-z0-9+/]*={0,2})\"\\}");

    static {
        // -Dscripted.debug=true: the agent's DEBUG log in the surefire output file
        if (Boolean.getBoolean("scripted.debug")) {
            io.nowconnect.log.Logging.configure(io.nowconnect.config.LogSettings.create(
                    ConfigLoader.fromMaps(Map.of("NC_LOG_LEVEL", "DEBUG"), Map.of())));
        }
    }

    Harness harness;
    ScriptedHub hub;
    private int tokenFiles;

    /** Bind this test's kit: the scripted hub and every agent and target started through it end after the test. */
    @BeforeEach
    void useKit(Harness harness) {
        this.harness = harness.agentStopDrain(Duration.ofMillis(500));
        this.hub = harness.scriptedHub();
    }

    /** Variables of an agent connected to the scripted hub, exporting the targets in this order; fast pings. */
    Map<String, String> vars(LinkedHashMap<String, Integer> targets) {
        Map<String, String> vars = Harness.agentVars(hub.url(), tokenFile("test-token-" + (tokenFiles + 1)), targets);
        vars.put("NC_LOG_LEVEL", "WARNING");
        return vars;
    }

    static LinkedHashMap<String, Integer> targets(Object... nameAndPort) {
        LinkedHashMap<String, Integer> m = new LinkedHashMap<>();
        for (int i = 0; i < nameAndPort.length; i += 2) {
            m.put((String) nameAndPort[i], (Integer) nameAndPort[i + 1]);
        }
        return m;
    }

    /** A new token file holding the given text (plus surrounding whitespace, which the agent must trim). */
    Path tokenFile(String content) {
        Path file = harness.dir().resolve("agent-" + (++tokenFiles) + ".token");
        writeAtomically(file, "  " + content + "\n\n");
        return file;
    }

    /** Replace a file's content with one rename, so a reader never sees it half written. */
    static void writeAtomically(Path file, String content) {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, content);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Agent startAgent(Map<String, String> vars) {
        return harness.startAgent(vars, StreamObserver.NONE);
    }

    Agent startAgent(Map<String, String> vars, StreamObserver observer) {
        return harness.startAgent(vars, observer);
    }

    /** Stop an agent within the test (so that the clean-up does not stop it again). */
    void stopAgent(Agent agent, Duration drain) {
        harness.stopAgent(agent, drain);
    }

    EchoServer echo() {
        return harness.echo();
    }

    TargetServer target() {
        return harness.target(0);
    }

    /**
     * A loopback target that accepts and keeps connections for the test.
     *
     * @param receiveBuffer receive buffer of accepted sockets (0 = default)
     * @return the target
     */
    TargetServer target(int receiveBuffer) {
        return harness.target(receiveBuffer);
    }

    /**
     * Wait for the agent's connection and its HELLO, then for the agent to be ready. A connection that ends before any
     * frame is skipped: the agent kills a tunnel still connecting when a new token arrives, and connects again at once.
     */
    ScriptedHub.Conn connectReady(Agent agent) throws InterruptedException {
        long deadline = System.nanoTime() + 2 * WAIT.toNanos();
        while (true) {
            ScriptedHub.Conn conn = hub.awaitConnection(WAIT);
            String hello = null;
            while (hello == null && System.nanoTime() < deadline) {
                hello = conn.poll(Duration.ofMillis(100));
                if (hello == null && conn.awaitEnded(Duration.ZERO)) {
                    break;
                }
            }
            if (hello == null && conn.awaitEnded(Duration.ZERO) && System.nanoTime() < deadline) {
                continue;
            }
            assertTrue(hello != null && hello.startsWith("{\"t\":\"HELLO\","), "first frame must be HELLO: " + hello);
            Harness.awaitReady(agent, WAIT);
            return conn;
        }
    }

    // ---- v1 frames, written exactly as the protocol document shows them

    static String open(String cid, String connector) {
        return "{\"t\":\"OPEN\",\"cid\":\"" + cid + "\",\"connector\":\"" + connector + "\"}";
    }

    static String data(String cid, long seq, byte[] bytes) {
        return "{\"t\":\"DATA\",\"cid\":\"" + cid + "\",\"seq\":" + seq + ",\"b64\":\""
                + Base64.getEncoder().encodeToString(bytes) + "\"}";
    }

    static String finC2a(String cid) {
        return "{\"t\":\"FIN\",\"cid\":\"" + cid + "\",\"dir\":\"c2a\"}";
    }

    static String finA2c(String cid) {
        return "{\"t\":\"FIN\",\"cid\":\"" + cid + "\",\"dir\":\"a2c\"}";
    }

    static String rst(String cid, String err) {
        return "{\"t\":\"RST\",\"cid\":\"" + cid + "\",\"err\":\"" + err + "\"}";
    }

    static String newCid() {
        return UUID.randomUUID().toString();
    }

    /**
     * Check one agent DATA frame byte for byte and return its payload.
     *
     * @param frame the frame text
     * @param cid expected cid
     * @param seq expected seq
     * @param maxPayload most raw bytes allowed
     * @return decoded payload
     */
    static byte[] checkData(String frame, String cid, long seq, int maxPayload) {
        Matcher m = DATA.matcher(frame);
        assertTrue(m.matches(), "not an exact v1 DATA frame: " + clip(frame));
        assertEquals(cid, m.group(1), "cid");
        assertEquals(seq, Long.parseLong(m.group(2)), "seq must count DATA frames of the stream from 0");
        byte[] payload = Base64.getDecoder().decode(m.group(3));
        assertTrue(payload.length > 0 && payload.length <= maxPayload,
                   "DATA payload of " + payload.length + " bytes, must be 1.." + maxPayload);
        // the encoder must be canonical: re-encoding gives the same text
        assertEquals(frame, data(cid, seq, payload));
        return payload;
    }

    /**
     * Read DATA frames of a stream until {@code length} bytes arrived, checking shape and seq.
     *
     * @return the bytes
     */
    static byte[] readData(ScriptedHub.Conn conn, String cid, long[] seq, int length, int maxPayload)
            throws InterruptedException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (out.size() < length) {
            String f = conn.nextFor(cid, WAIT);
            out.writeBytes(checkData(f, cid, seq[0]++, maxPayload));
        }
        assertEquals(length, out.size(), "more bytes than sent");
        return out.toByteArray();
    }

    /**
     * A fresh stream through the tunnel to an echo target: OPEN, DATA, the echo back, FIN both ways, nothing after.
     *
     * @param conn tunnel
     * @param connector connector of an echo target
     */
    static void roundTrip(ScriptedHub.Conn conn, String connector) throws InterruptedException {
        String cid = newCid();
        byte[] msg = ("round trip " + cid).getBytes(StandardCharsets.US_ASCII);
        conn.send(open(cid, connector));
        conn.send(data(cid, 0, msg));
        long[] seq = {0};
        assertArrayEquals(msg, readData(conn, cid, seq, msg.length, 8192), "echo through the tunnel");
        conn.send(finC2a(cid));
        assertEquals(finA2c(cid), conn.nextFor(cid, WAIT), "echo target's EOF must come back as FIN a2c");
    }

    static String clip(String s) {
        return s.length() > 300 ? s.substring(0, 300) + "…(" + s.length() + " chars)" : s;
    }

    /** Counts the agent's dropped frames by reason (the "counted" of the protocol document). */
    static final class CountingObserver implements StreamObserver {
        final Map<String, LongAdder> dropped = new ConcurrentHashMap<>();
        final Map<String, LongAdder> refused = new ConcurrentHashMap<>();
        /** Streams registered, by connector: a stream is registered before its target is dialled. */
        final Map<String, LongAdder> opened = new ConcurrentHashMap<>();

        @Override
        public void opened(String connector) {
            opened.computeIfAbsent(connector, r -> new LongAdder()).increment();
        }

        long openedCount() {
            return opened.values().stream().mapToLong(LongAdder::sum).sum();
        }

        long refusedCount(String reason) {
            LongAdder a = refused.get(reason);
            return a == null ? 0 : a.sum();
        }

        @Override
        public void dropped(String reason) {
            dropped.computeIfAbsent(reason, r -> new LongAdder()).increment();
        }

        @Override
        public void refused(String connector, String result) {
            refused.computeIfAbsent(result, r -> new LongAdder()).increment();
        }

        long droppedCount(String reason) {
            LongAdder a = dropped.get(reason);
            return a == null ? 0 : a.sum();
        }
    }

    /** Read exactly n bytes (or fail on EOF/timeout). */
    static byte[] readExactly(Socket s, int n) throws IOException {
        InputStream in = s.getInputStream();
        byte[] b = in.readNBytes(n);
        assertEquals(n, b.length, "target got EOF early");
        return b;
    }

    /** What a read on the target returns now: -1 for EOF, -2 for a reset, else the byte. */
    static int readOutcome(Socket s) throws IOException {
        try {
            return s.getInputStream().read();
        } catch (SocketTimeoutException e) {
            throw e;
        } catch (IOException e) {
            return -2;
        }
    }
}
