package io.nowconnect.network;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.LogCapture;
import io.nowconnect.testkit.TestKit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real hub (TLS from a throwaway PKI), real agent, echo target, all on loopback; subclasses add proxies.
 */
@ExtendWith(TestKit.class)
abstract class NetworkTestBase {
    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    static Path pkiDir;
    static TestPki pki;

    Harness harness;
    LogCapture logs;
    EchoServer echo;

    @BeforeAll
    static void makePki() throws IOException {
        assertTrue(TestPki.opensslAvailable(), "the openssl command line is required (Debian package openssl)");
        pki = TestPki.create(pkiDir);
    }

    @BeforeEach
    void setUpHarness(Harness harness) {
        this.harness = harness;
        logs = harness.closeLater(new LogCapture());
        echo = harness.echo();
    }

    /** A TLS hub with the good certificate, exporting connector "echo". */
    Hub tlsHub() {
        return tlsHub(pki.serverCert, pki.serverKey, null);
    }

    Hub tlsHub(Path cert, Path key, Path clientCa) {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_HUB_TLS_CERT", cert.toString());
        vars.put("NC_HUB_TLS_KEY", key.toString());
        if (clientCa != null) {
            vars.put("NC_HUB_TLS_CLIENT_CA", clientCa.toString());
        }
        return harness.startHub(0, vars, "echo");
    }

    /** Agent variables for wss://localhost:port trusting the test server CA. */
    Map<String, String> wssAgent(Hub hub) {
        Map<String, String> vars = harness.agentVars(hub.port(), Map.of("echo", echo.port()));
        vars.put("NC_AGENT_URL", "wss://localhost:" + hub.port() + "/tunnel");
        vars.put("NC_CA_BUNDLE", pki.serverCa.toString());
        return vars;
    }

    TinyProxy proxy(String name, List<Integer> connectPorts, String basicAuth) {
        try {
            return harness.closeLater(TinyProxy.start(harness.dir(), name, connectPorts,
                                                      java.util.Optional.ofNullable(basicAuth)));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Bytes go client -> hub -> tunnel -> agent -> echo and back. */
    static void assertEcho(Hub hub) throws IOException {
        byte[] data = ("hello through the tunnel " + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
        try (Socket s = Harness.client(hub.listenerPorts().get("echo"))) {
            Harness.sendAndFinish(s, data);
            assertArrayEquals(data, Harness.readAll(s), "echo through the tunnel");
        }
    }

    /** Wait until the agent's last error contains the fragment; returns that error. */
    static String awaitError(Agent agent, String fragment) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            String error = agent.status().snapshot().lastError().orElse("");
            if (error.contains(fragment)) {
                return error;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no last error containing \"" + fragment + "\" within " + WAIT.toSeconds()
                                                 + " s; last error: \"" + error + "\"");
            }
            sleep(10);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted");
        }
    }

    /** Wait until the agent ended at least n attempts with this reason (it keeps retrying). */
    static void awaitEndings(Agent agent, String reason, long n) {
        Harness.await(WAIT, () -> agent.status().endings().getOrDefault(reason, 0L) >= n,
                      n + " endings " + reason + ", have " + agent.status().endings());
    }

    /** The one WARNING line the agent logged for a failure, printed for the record. */
    String warningLine(String fragment) {
        List<String> lines = logs.warnings(fragment);
        assertTrue(!lines.isEmpty(), "a WARNING containing \"" + fragment + "\" in " + logs.lines());
        System.out.println("[agent log] " + lines.getFirst());
        return lines.getFirst();
    }
}
