package io.nowconnect.network;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway PKI made with the {@code openssl} command line (EC P-256 keys, PKCS#8 PEM): a server CA with good, expired
 * and wrong-host server certificates, a client CA with a client certificate, and a rogue CA with a client certificate
 * the hub must refuse. Everything lives in one temporary directory.
 */
final class TestPki {
    final Path dir;
    /** CA that signed the hub's certificates (the agent's NC_CA_BUNDLE). */
    final Path serverCa;
    /** A CA nobody trusts. */
    final Path otherCa;
    /** Hub certificate for localhost / 127.0.0.1, and its key. */
    final Path serverCert;
    final Path serverKey;
    /** Hub certificate that expired yesterday. */
    final Path expiredCert;
    final Path expiredKey;
    /** Hub certificate for other.example only. */
    final Path wrongHostCert;
    final Path wrongHostKey;
    /** Hub certificates that name one thing only (subject CN localhost each): IP:127.0.0.1, IP:::1, DNS:localhost. */
    final Path ipv4OnlyCert;
    final Path ipv4OnlyKey;
    final Path ipv6OnlyCert;
    final Path ipv6OnlyKey;
    final Path dnsOnlyCert;
    final Path dnsOnlyKey;
    /** A client key in OpenSSL's traditional SEC1 form (BEGIN EC PRIVATE KEY) for {@link #clientCert}'s request. */
    final Path sec1ClientCert;
    final Path sec1ClientKey;
    /** CA the hub trusts for client certificates (NC_HUB_TLS_CLIENT_CA). */
    final Path clientCa;
    /** Client certificate from clientCa, and its key. */
    final Path clientCert;
    final Path clientKey;
    /** Client certificate from otherCa, and its key. */
    final Path rogueClientCert;
    final Path rogueClientKey;

    private TestPki(Path dir) {
        this.dir = dir;
        serverCa = dir.resolve("server-ca.pem");
        otherCa = dir.resolve("other-ca.pem");
        serverCert = dir.resolve("hub.pem");
        serverKey = dir.resolve("hub.key");
        expiredCert = dir.resolve("hub-expired.pem");
        expiredKey = dir.resolve("hub-expired.key");
        wrongHostCert = dir.resolve("hub-other.pem");
        wrongHostKey = dir.resolve("hub-other.key");
        ipv4OnlyCert = dir.resolve("hub-ip4.pem");
        ipv4OnlyKey = dir.resolve("hub-ip4.key");
        ipv6OnlyCert = dir.resolve("hub-ip6.pem");
        ipv6OnlyKey = dir.resolve("hub-ip6.key");
        dnsOnlyCert = dir.resolve("hub-dns.pem");
        dnsOnlyKey = dir.resolve("hub-dns.key");
        sec1ClientCert = dir.resolve("client-sec1.pem");
        sec1ClientKey = dir.resolve("client-sec1.key");
        clientCa = dir.resolve("client-ca.pem");
        clientCert = dir.resolve("client.pem");
        clientKey = dir.resolve("client.key");
        rogueClientCert = dir.resolve("rogue-client.pem");
        rogueClientKey = dir.resolve("rogue-client.key");
    }

    static boolean opensslAvailable() {
        try {
            Process p = new ProcessBuilder("openssl", "version").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static TestPki create(Path dir) throws IOException {
        TestPki pki = new TestPki(dir);
        pki.ca("server-ca", "NowConnect Test Server CA");
        pki.ca("other-ca", "Somebody Else's CA");
        pki.ca("client-ca", "NowConnect Test Client CA");
        pki.leaf("hub", "server-ca", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth", false);
        pki.leaf("hub-expired", "server-ca", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth", true);
        pki.leaf("hub-other", "server-ca", "other.example", "DNS:other.example", "serverAuth", false);
        // CN localhost on purpose: the JDK alone would accept the IP-only ones at wss://localhost through the CN
        pki.leaf("hub-ip4", "server-ca", "localhost", "IP:127.0.0.1", "serverAuth", false);
        pki.leaf("hub-ip6", "server-ca", "localhost", "IP:::1", "serverAuth", false);
        pki.leaf("hub-dns", "server-ca", "localhost", "DNS:localhost", "serverAuth", false);
        pki.leaf("client", "client-ca", "premise-01", null, "clientAuth", false);
        pki.sec1Client();
        pki.leaf("rogue-client", "other-ca", "premise-01", null, "clientAuth", false);
        return pki;
    }

    /** What {@code openssl ecparam -genkey} writes: an EC PARAMETERS block, then the SEC1 EC PRIVATE KEY. */
    private void sec1Client() throws IOException {
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-out", "client-sec1.key");
        openssl("req", "-new", "-key", "client-sec1.key", "-out", "client-sec1.csr", "-subj", "/CN=premise-01");
        Files.writeString(dir.resolve("client-sec1.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
        openssl("x509", "-req", "-in", "client-sec1.csr", "-CA", "client-ca.pem", "-CAkey", "client-ca.key", "-set_serial",
                Long.toString(System.nanoTime() & Long.MAX_VALUE), "-extfile", "client-sec1.ext", "-days", "2",
                "-out", "client-sec1.pem");
    }

    private void ca(String name, String cn) throws IOException {
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + cn);
    }

    private void leaf(String name, String ca, String cn, String san, String eku, boolean expired) throws IOException {
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn);
        String ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=" + eku + "\n"
                + (san == null ? "" : "subjectAltName=" + san + "\n");
        Files.writeString(dir.resolve(name + ".ext"), ext);
        List<String> args = new ArrayList<>(List.of("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
                                                    "-CAkey", ca + ".key", "-set_serial",
                                                    Long.toString(System.nanoTime() & Long.MAX_VALUE),
                                                    "-extfile", name + ".ext", "-out", name + ".pem"));
        if (!expired) {
            args.addAll(List.of("-days", "2"));
            openssl(args.toArray(String[]::new));
            return;
        }
        // OpenSSL 3.4+ has -not_before/-not_after; 3.0 takes a negative -days (not after = yesterday)
        List<String> dated = new ArrayList<>(args);
        dated.addAll(List.of("-not_before", "20200101000000Z", "-not_after", "20200102000000Z"));
        if (run(dir, prepend(dated)) != 0) {
            args.addAll(List.of("-days", "-1"));
            openssl(args.toArray(String[]::new));
        }
    }

    private void openssl(String... args) throws IOException {
        List<String> cmd = prepend(List.of(args));
        if (run(dir, cmd) != 0) {
            throw new IOException("failed: " + String.join(" ", cmd) + "\n"
                                          + Files.readString(dir.resolve("openssl.out"), StandardCharsets.UTF_8));
        }
    }

    private static List<String> prepend(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(args);
        return cmd;
    }

    private static int run(Path dir, List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("openssl.out").toFile()).start();
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + cmd);
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
