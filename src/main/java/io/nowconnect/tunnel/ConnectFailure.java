package io.nowconnect.tunnel;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLPeerUnverifiedException;

import io.helidon.webclient.api.Proxy;
import io.helidon.webclient.http1.Http1Client;

/**
 * Turns a failed connect or upgrade (an exception from Helidon's client or JSSE) into a {@link TunnelEnd} an operator
 * can act on: proxy unreachable, proxy refused CONNECT, hub unreachable behind the proxy, untrusted, expired or
 * mismatching hub certificate, rejected client certificate. Anything else keeps the root cause's class and message.
 *
 * <p>Details never hold secrets: proxy credentials are not part of any exception message Helidon raises, and only the
 * proxy's {@code host:port} is added here.
 */
final class ConnectFailure {
    /** Helidon 4.2.0: {@code Proxy sent wrong HTTP response code: 407 Proxy Authentication Required}. */
    private static final Pattern PROXY_STATUS = Pattern.compile("Proxy sent wrong HTTP response code: (\\d{3})(.*)");
    private static final Pattern ALERT = Pattern.compile("Received fatal alert: (\\w+)");

    private ConnectFailure() {
    }

    /**
     * Classify a failed connect or upgrade.
     *
     * @param e what the client threw
     * @param client the client that tried (its proxy, if any, names the proxy in the detail)
     * @return why the tunnel could not be set up
     */
    static TunnelEnd classify(Throwable e, Http1Client client) {
        Proxy proxy = client.prototype().proxy();
        Optional<String> proxyAddress = proxy.type() == Proxy.ProxyType.HTTP && proxy.host() != null
                ? Optional.of(address(proxy.host(), proxy.port()))
                : Optional.empty();
        boolean clientCert = client.prototype().tls().prototype().privateKey().isPresent();
        return classify(e, proxyAddress, proxy.username().isPresent(), clientCert);
    }

    /**
     * Classify a failed connect or upgrade.
     *
     * @param e what the client threw
     * @param proxy {@code host:port} of the proxy in use, empty for a direct connection
     * @param proxyCredentials whether the agent sends proxy credentials
     * @param clientCert whether the agent presents a client certificate
     * @return why the tunnel could not be set up
     */
    static TunnelEnd classify(Throwable e, Optional<String> proxy, boolean proxyCredentials, boolean clientCert) {
        // the proxy answered CONNECT with an error
        Matcher status = find(e, PROXY_STATUS);
        if (status != null) {
            int code = Integer.parseInt(status.group(1));
            String line = code + clip(status.group(2));
            if (code == 502 || code == 503 || code == 504 || code == 500) {
                return end(EndReason.PROXY_FAILED, "hub unreachable behind the proxy (" + proxy.orElse("proxy")
                        + " answered CONNECT with " + line + ")");
            }
            String hint = code == 407 || code == 401
                    ? proxyCredentials ? " (proxy credentials refused: check user and password in the proxy URL)"
                                       : " (no proxy credentials: use http://user:password@host:port)"
                    : "";
            return end(EndReason.PROXY_FAILED, "proxy refused CONNECT: " + line + hint);
        }
        // TLS with the hub (through the proxy or not)
        Optional<String> tls = tls(e, clientCert);
        if (tls.isPresent()) {
            return end(EndReason.TLS_FAILED, tls.get());
        }
        Throwable root = root(e);
        if (proxy.isPresent()) {
            // Helidon dials the proxy first and reports a failure there with the socket's exception
            if (root instanceof ConnectException || root instanceof NoRouteToHostException
                    || root instanceof SocketTimeoutException || root instanceof UnknownHostException
                    || (root instanceof IllegalArgumentException && msg(root).startsWith("Failed to get address"))) {
                return end(EndReason.PROXY_FAILED, "proxy unreachable (" + proxy.get() + "): " + describe(root));
            }
            if (connectionClosed(e)) {
                return end(EndReason.PROXY_FAILED, "hub unreachable behind the proxy (" + proxy.get()
                        + " closed the tunnel: " + describe(root) + ")");
            }
        }
        return end(EndReason.CONNECT_FAILED, describe(root));
    }

    private static Optional<String> tls(Throwable e, boolean clientCert) {
        String rejected = clientCert
                ? "client certificate rejected (is it signed by a CA the hub trusts, and still valid?)"
                : "client certificate rejected: the hub requires one (set NC_CLIENT_CERT and NC_CLIENT_KEY)";
        boolean tls = false;
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof CertificateExpiredException) {
                return Optional.of("certificate expired (" + clip(msg(t)) + ")");
            }
            if (t instanceof CertificateNotYetValidException) {
                return Optional.of("certificate not yet valid (" + clip(msg(t)) + ")");
            }
            if (t instanceof CertPathValidatorException v
                    && v.getReason() == CertPathValidatorException.BasicReason.EXPIRED) {
                return Optional.of("certificate expired" + failedCertificate(v, true));
            }
            if (t instanceof CertPathValidatorException v
                    && v.getReason() == CertPathValidatorException.BasicReason.NOT_YET_VALID) {
                return Optional.of("certificate not yet valid" + failedCertificate(v, false));
            }
            String m = msg(t);
            if (m.startsWith("No subject alternative") || m.startsWith("No name matching")) {
                return Optional.of("host name does not match certificate (" + clip(m) + ")");
            }
            if (t instanceof CertPathBuilderException || m.contains("unable to find valid certification path")
                    || m.contains("PKIX path building failed")) {
                return Optional.of("hub certificate not trusted (is NC_CA_BUNDLE set?)");
            }
            if (t instanceof CertPathValidatorException) {
                return Optional.of("hub certificate not trusted (is NC_CA_BUNDLE set?): " + clip(m));
            }
            Matcher alert = ALERT.matcher(m);
            if (alert.find()) {
                String name = alert.group(1).toLowerCase(Locale.ROOT);
                return Optional.of(switch (name) {
                // the hub's verdict on our certificate (or its absence); one message whatever the alert, so that the
                // race below does not alternate two messages
                case "certificate_required", "bad_certificate", "unknown_ca", "certificate_unknown",
                     "certificate_expired", "certificate_revoked", "unsupported_certificate", "access_denied" -> rejected;
                default -> "TLS handshake failed (TLS alert " + name + ")";
                });
            }
            if (droppedAfterHandshake(t)) {
                // TLS 1.3: our handshake is complete before the hub checks our certificate; when it refuses, it sends
                // the alert and closes, and our first write of the upgrade request often hits the closed socket
                // before the alert is read
                return Optional.of(rejected);
            }
            if (t instanceof SSLException) {
                tls = true;
            }
        }
        if (tls) {
            Throwable root = root(e);
            return Optional.of("TLS handshake failed: " + describe(root));
        }
        return Optional.empty();
    }

    /** {@code ": CN=hub.example.com, not after 2026-01-01T00:00:00Z"} (or not before), or empty when the path does not say. */
    private static String failedCertificate(CertPathValidatorException v, boolean expired) {
        if (v.getCertPath() == null || v.getIndex() < 0 || v.getIndex() >= v.getCertPath().getCertificates().size()
                || !(v.getCertPath().getCertificates().get(v.getIndex()) instanceof X509Certificate cert)) {
            return "";
        }
        return ": " + clip(cert.getSubjectX500Principal().getName())
                + (expired ? ", not after " + cert.getNotAfter().toInstant() : ", not before " + cert.getNotBefore().toInstant());
    }

    private static boolean droppedAfterHandshake(Throwable t) {
        if (!(t instanceof java.net.SocketException)) {
            return false;
        }
        for (StackTraceElement frame : t.getStackTrace()) {
            String c = frame.getClassName();
            if (c.equals("sun.security.ssl.SSLSocketImpl$AppOutputStream")
                    || c.equals("sun.security.ssl.SSLSocketImpl$AppInputStream")) {
                return true;
            }
        }
        return false;
    }

    private static boolean connectionClosed(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String name = t.getClass().getSimpleName();
            String m = msg(t);
            if (name.equals("InsufficientDataAvailableException") || t instanceof java.io.EOFException
                    || m.contains("Connection reset") || m.contains("closed") || m.contains("Remote host terminated")) {
                return true;
            }
        }
        return false;
    }

    private static Matcher find(Throwable e, Pattern p) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            Matcher m = p.matcher(msg(t));
            if (m.find()) {
                return m;
            }
        }
        return null;
    }

    private static TunnelEnd end(EndReason reason, String detail) {
        return new TunnelEnd(reason, detail, Duration.ZERO);
    }

    private static Throwable root(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }

    private static String describe(Throwable root) {
        String m = root.getMessage();
        return root.getClass().getSimpleName() + (m == null ? "" : ": " + clip(m));
    }

    private static String msg(Throwable t) {
        return t.getMessage() == null ? "" : t.getMessage();
    }

    static String address(String host, int port) {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    private static String clip(String s) {
        return s.length() > 120 ? s.substring(0, 120) + "…" : s;
    }
}
