package io.nowconnect.check;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * The network steps the checks share: name resolution, a timed TCP connect, and a TLS probe that only reads a
 * peer's certificate (trust-all, for display; never used to decide whether a connection is trusted), with a short
 * description of a certificate.
 *
 * <p>Threads: the caller's. Every socket opened here is closed before the method returns, except the one
 * {@link #connect} hands back.
 */
final class Net {
    /** Fewer days than this before a certificate or token expires is a warning. */
    static final long WARN_DAYS = 14;

    private Net() {
    }

    /**
     * The addresses of a name, with the time it took.
     *
     * @param addresses resolved addresses
     * @param millis time taken
     */
    record Resolved(List<InetAddress> addresses, long millis) {
        String text() {
            return addresses.stream().map(InetAddress::getHostAddress).limit(4).collect(Collectors.joining(", "))
                    + (addresses.size() > 4 ? ", ..." : "");
        }
    }

    static Resolved resolve(String host) throws UnknownHostException {
        long start = System.nanoTime();
        List<InetAddress> all = Arrays.asList(InetAddress.getAllByName(host));
        return new Resolved(all, millis(start));
    }

    /**
     * Connect with a timeout.
     *
     * @param address where
     * @param timeout connect timeout
     * @param connected the socket, for the caller to close
     * @param millis time taken
     */
    record Connected(Socket connected, long millis) {
    }

    static Connected connect(InetSocketAddress address, Duration timeout) throws IOException {
        Socket s = new Socket();
        long start = System.nanoTime();
        try {
            s.connect(address, (int) Math.max(1, timeout.toMillis()));
            s.setSoTimeout((int) Math.max(1, timeout.toMillis()));
            return new Connected(s, millis(start));
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    static String why(Throwable e) {
        if (e instanceof SocketTimeoutException) {
            return "timed out";
        }
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    /**
     * Read a peer's certificate chain without verifying anything (trust-all, SNI for a name): for display only.
     *
     * @param socket connected socket, closed afterwards
     * @param host host name for SNI (an IP literal sends none)
     * @param timeout handshake timeout
     * @return the chain, empty when the peer does not complete a TLS handshake (it does not speak TLS)
     */
    static Optional<List<X509Certificate>> peekCertificate(Socket socket, String host, Duration timeout) {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {new ReadOnly()}, new SecureRandom());
            try (SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(socket, host, socket.getPort(), true)) {
                SSLParameters p = ssl.getSSLParameters();
                if (!host.contains(":") && !host.matches("[0-9.]+")) {
                    p.setServerNames(List.of(new SNIHostName(host)));
                }
                ssl.setSSLParameters(p);
                ssl.setSoTimeout((int) Math.max(1, timeout.toMillis()));
                ssl.startHandshake();
                List<X509Certificate> chain = new ArrayList<>();
                for (Certificate c : ssl.getSession().getPeerCertificates()) {
                    if (c instanceof X509Certificate x) {
                        chain.add(x);
                    }
                }
                return Optional.of(chain);
            }
        } catch (IOException | RuntimeException | java.security.GeneralSecurityException e) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // probing only
            }
            return Optional.empty();
        }
    }

    /** The names a certificate is valid for: {@code DNS:a, IP:10.0.0.1}, else its subject. */
    static String names(X509Certificate cert) {
        List<String> names = new ArrayList<>();
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (san.get(0) instanceof Integer type && (type == 2 || type == 7)) {
                        names.add((type == 2 ? "DNS:" : "IP:") + san.get(1));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // no names then
        }
        if (names.isEmpty()) {
            return "no DNS or IP name (subject " + cert.getSubjectX500Principal().getName() + ")";
        }
        return String.join(", ", names.size() > 6 ? names.subList(0, 6) : names) + (names.size() > 6 ? ", ..." : "");
    }

    /** Days until a certificate (or token) expires, negative once it has. */
    static long daysLeft(Instant notAfter) {
        return Duration.between(Instant.now(), notAfter).toDays();
    }

    static String left(Instant notAfter) {
        Duration d = Duration.between(Instant.now(), notAfter);
        if (d.isNegative()) {
            Duration ago = d.negated();
            return ago.toDays() > 0 ? ago.toDays() + " d ago" : ago.toHours() > 0 ? ago.toHours() + " h ago"
                    : ago.toMinutes() + " min ago";
        }
        return d.toDays() > 0 ? d.toDays() + " d left" : d.toHours() > 0 ? d.toHours() + " h left" : d.toMinutes() + " min left";
    }

    static long millis(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    /** Accepts every chain: the probe only reads the certificate to show it. */
    private static final class ReadOnly implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
