package io.nowconnect.network;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.nowconnect.Agent;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent against the project's hub speaking TLS with certificates from a throwaway CA: trust, expiry, host name
 * and client certificates, each failure with its own message, retried with back-off.
 */
@Timeout(60)
class HubTlsTest extends NetworkTestBase {

    @Test
    void trustsTheHubThroughItsCaBundle() throws Exception {
        Hub hub = tlsHub();
        Agent agent = harness.startAgent(wssAgent(hub));
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
    }

    @Test
    void bulkEchoOfSeveralStreamsIsByteForByte() throws Exception {
        // many TLS records per tunnel write and per read (CoalescingSocket on both ends), four streams interleaved
        Hub hub = tlsHub();
        Agent agent = harness.startAgent(wssAgent(hub));
        Harness.awaitReady(agent, WAIT);
        List<Thread> clients = new ArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 4; i++) {
            long seed = i;
            clients.add(Thread.ofVirtual().start(() -> {
                try {
                    echoBulk(hub, 6 << 20, seed);
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        for (Thread t : clients) {
            t.join();
        }
        assertEquals(List.of(), failures);
    }

    /** Send {@code size} random bytes in writes of assorted sizes while reading the echo; compare. */
    private static void echoBulk(Hub hub, int size, long seed) throws Exception {
        byte[] data = new byte[size];
        Random random = new Random(seed);
        random.nextBytes(data);
        try (Socket s = Harness.client(hub.listenerPorts().get("echo"))) {
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    for (int pos = 0; pos < size; ) {
                        int n = Math.min(size - pos, 1 + random.nextInt(200_000));
                        out.write(data, pos, n);
                        pos += n;
                    }
                    s.shutdownOutput();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            byte[] got = s.getInputStream().readAllBytes();
            writer.join();
            assertArrayEquals(data, got, "echo of " + size + " bytes");
        }
    }

    @Test
    void wrongCaIsNotTrusted() {
        Hub hub = tlsHub();
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_CA_BUNDLE", pki.otherCa.toString());
        Agent agent = harness.startAgent(vars);
        String error = awaitError(agent, "hub certificate not trusted (is NC_CA_BUNDLE set?)");
        assertTrue(error.startsWith("tls_failed: "), error);
        awaitEndings(agent, "tls_failed", 3);
        assertFalse(agent.status().snapshot().ready());
        assertEquals(1, logs.warnings("hub certificate not trusted").size(), "logged once, then at DEBUG: " + logs.lines());
        warningLine("hub certificate not trusted");
    }

    @Test
    void expiredHubCertificate() {
        Hub hub = tlsHub(pki.expiredCert, pki.expiredKey, null);
        Agent agent = harness.startAgent(wssAgent(hub));
        awaitError(agent, "tls_failed: certificate expired");
        awaitEndings(agent, "tls_failed", 2);
        warningLine("certificate expired");
    }

    @Test
    void hostNameDoesNotMatch() {
        Hub hub = tlsHub(pki.wrongHostCert, pki.wrongHostKey, null);
        Agent agent = harness.startAgent(wssAgent(hub));
        awaitError(agent, "tls_failed: host name does not match certificate");
        awaitEndings(agent, "tls_failed", 2);
        warningLine("host name does not match certificate");
    }

    @Test
    void clientCertificateAccepted() throws Exception {
        Hub hub = tlsHub(pki.serverCert, pki.serverKey, pki.clientCa);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_CLIENT_CERT", pki.clientCert.toString());
        vars.put("NC_CLIENT_KEY", pki.clientKey.toString());
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
    }

    @Test
    void sec1EcClientKeyAsOpensslEcparamWritesIt() throws Exception {
        Hub hub = tlsHub(pki.serverCert, pki.serverKey, pki.clientCa);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_CLIENT_CERT", pki.sec1ClientCert.toString());
        vars.put("NC_CLIENT_KEY", pki.sec1ClientKey.toString());
        assertTrue(java.nio.file.Files.readString(pki.sec1ClientKey).contains("BEGIN EC PRIVATE KEY"));
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);
        assertEcho(hub);
    }

    @Test
    void unusableClientKeyNamesTheConversion() throws Exception {
        Path key = harness.dir().resolve("explicit.key");
        // a SEC1 key with explicit curve parameters: refused with the way out
        Process p = new ProcessBuilder("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                                       "-param_enc", "explicit", "-out", key.toString())
                .redirectErrorStream(true).start();
        assertEquals(0, p.waitFor(), "openssl ecparam");
        Hub hub = tlsHub(pki.serverCert, pki.serverKey, pki.clientCa);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_CLIENT_CERT", pki.sec1ClientCert.toString());
        vars.put("NC_CLIENT_KEY", key.toString());
        io.nowconnect.config.ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(
                io.nowconnect.config.ConfigException.class, () -> harness.startAgent(vars));
        String text = String.join("\n", e.problems());
        assertTrue(text.contains("NC_CLIENT_KEY") && text.contains("explicit curve parameters")
                           && text.contains("openssl pkcs8 -topk8 -nocrypt"), text);
    }

    @Test
    void changedClientCertificateFilesMoveToANewTunnelGracefully() throws Exception {
        Hub hub = tlsHub(pki.serverCert, pki.serverKey, pki.clientCa);
        Path cert = java.nio.file.Files.copy(pki.clientCert, harness.dir().resolve("client.pem"));
        Path key = java.nio.file.Files.copy(pki.clientKey, harness.dir().resolve("client.key"));
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_CLIENT_CERT", cert.toString());
        vars.put("NC_CLIENT_KEY", key.toString());
        Agent agent = harness.startAgent(vars);
        Harness.awaitReady(agent, WAIT);

        // a certificate the hub does not trust: the new tunnel fails, the current one keeps serving
        replace(cert, pki.rogueClientCert);
        replace(key, pki.rogueClientKey);
        Harness.await(WAIT, () -> agent.status().endings().getOrDefault("tls_failed", 0L) >= 1, "the new tunnel is refused");
        assertEquals(1, agent.status().snapshot().readyTunnels(), "the current tunnel still serves");
        assertEcho(hub);

        // a good one again: the agent moves over, the old tunnel drains and closes
        replace(cert, pki.clientCert);
        replace(key, pki.clientKey);
        Harness.await(WAIT, () -> agent.status().endings().getOrDefault("rotation", 0L) >= 1, "moved to a new tunnel");
        assertTrue(agent.status().snapshot().ready());
        assertEcho(hub);
    }

    private static void replace(Path target, Path source) throws java.io.IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        java.nio.file.Files.copy(source, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        java.nio.file.Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                                 java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    @Test
    void missingClientCertificateRejected() {
        Hub hub = tlsHub(pki.serverCert, pki.serverKey, pki.clientCa);
        Agent agent = harness.startAgent(wssAgent(hub));
        awaitError(agent, "tls_failed: client certificate rejected");
        awaitEndings(agent, "tls_failed", 2);
        assertFalse(agent.status().snapshot().ready());
        warningLine("client certificate rejected");
    }

    @Test
    void clientCertificateFromAnotherCaRejected() {
        Hub hub = tlsHub(pki.serverCert, pki.serverKey, pki.clientCa);
        Map<String, String> vars = wssAgent(hub);
        vars.put("NC_CLIENT_CERT", pki.rogueClientCert.toString());
        vars.put("NC_CLIENT_KEY", pki.rogueClientKey.toString());
        Agent agent = harness.startAgent(vars);
        awaitError(agent, "tls_failed: client certificate rejected");
        awaitEndings(agent, "tls_failed", 2);
        assertFalse(agent.status().snapshot().ready());
        warningLine("client certificate rejected");
    }
}
