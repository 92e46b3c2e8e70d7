package io.nowconnect.network;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Map;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.nowconnect.hub.Hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The health paths on a TLS hub: HTTP/1.0 and HTTP/1.1 over TLS on the hub's port get the same status (Helidon alone
 * answers HTTP/1.0 with 505); with an admin listener, that listener stays plain HTTP while the hub's port speaks TLS.
 */
@Timeout(60)
class HubTlsProbesTest extends NetworkTestBase {

    @Test
    void http10AndHttp11OverTls() throws Exception {
        Hub hub = tlsHub();
        for (String v : new String[] {"HTTP/1.0", "HTTP/1.1"}) {
            assertEquals("200", status(tls(hub.port()), "/readyz", v), v);
            assertEquals("503", status(tls(hub.port()), "/readyz?connector=nobody", v), v);
            assertEquals("200", status(tls(hub.port()), "/healthz", v), v);
        }
    }

    @Test
    void adminListenerIsPlainBesideATlsPort() throws Exception {
        Hub hub = harness.startHub(0, Map.of("NC_HUB_TLS_CERT", pki.serverCert.toString(),
                                             "NC_HUB_TLS_KEY", pki.serverKey.toString(),
                                             "NC_HUB_ADMIN_HOST", "127.0.0.1", "NC_HUB_ADMIN_PORT", "0"), "echo");
        for (String v : new String[] {"HTTP/1.0", "HTTP/1.1"}) {
            assertEquals("200", status(plain(hub.adminPort()), "/readyz", v), v);
            assertEquals("404", status(tls(hub.port()), "/readyz", v), v);
            assertEquals("200", status(tls(hub.port()), "/healthz", v), v);
        }
    }

    private static Socket plain(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        return s;
    }

    private static Socket tls(int port) throws Exception {
        X509Certificate ca;
        try (InputStream in = Files.newInputStream(pki.serverCa)) {
            ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        // the certificate names localhost; the socket is on 127.0.0.1
        javax.net.ssl.SSLParameters p = s.getSSLParameters();
        p.setServerNames(java.util.List.of(new javax.net.ssl.SNIHostName("localhost")));
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    /** One request, the status code of its answer; an HTTP/1.0 answer must be followed by the close. */
    private static String status(Socket socket, String target, String version) throws IOException {
        try (Socket s = socket) {
            s.setSoTimeout(10_000);
            String extra = version.equals("HTTP/1.1") ? "Host: localhost\r\nConnection: close\r\n" : "";
            s.getOutputStream().write(("GET " + target + " " + version + "\r\n" + extra + "\r\n")
                                              .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
                int b = in.read();
                assertTrue(b >= 0, "answer cut short: " + head);
                head.write(b);
            }
            String h = head.toString(StandardCharsets.US_ASCII);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(h);
            assertTrue(m.find(), h);
            in.readNBytes(Integer.parseInt(m.group(1)));
            if (version.equals("HTTP/1.0")) {
                assertEquals(-1, in.read(), "closed after the HTTP/1.0 answer");
            }
            return h.split(" ", 3)[1];
        }
    }
}
