package io.nowconnect.tunnel;

import java.net.InetAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

import io.helidon.webclient.api.DefaultDnsResolver;
import io.helidon.webclient.api.DnsAddressLookup;
import io.helidon.webclient.spi.DnsResolver;

/**
 * How the agent names and verifies the hub in TLS, following RFC 2818 / RFC 6125 without any reverse lookup: an IP
 * literal in {@code NC_AGENT_URL} must match an {@code iPAddress} subject alternative name, a host name must match a
 * {@code dNSName} one (the subject CN is never used).
 *
 * <p>Two parts make that hold. Helidon 4.2.0's client names the TLS peer with {@code InetSocketAddress.getHostName()},
 * which reverse-resolves an address that carries no name (so {@code wss://127.0.0.1} was verified as
 * {@code localhost}); {@link #resolver} hands Helidon addresses that carry the URL's host exactly as written. The JDK's
 * HTTPS identification falls back to the subject CN when a certificate has no {@code dNSName}; the trust manager of
 * {@link #context} refuses that case.
 */
final class HubTls {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern IPV6 = Pattern.compile("[0-9a-f:.]+(%[0-9a-z._-]+)?");
    private static final int SAN_DNS = 2;
    private static final byte[] UNRESOLVED = {0, 0, 0, 0};

    private HubTls() {
    }

    /**
     * The SSL context for hub connections: the CA bundle (or the JVM's trust) with strict name types, and the client
     * certificate when there is one.
     *
     * @param trust CA certificates replacing the JVM's trust, empty for the JVM's
     * @param key client private key, empty for none
     * @param chain client certificate chain (used with the key)
     * @return a fresh context
     * @throws GeneralSecurityException when the material cannot be used
     */
    static SSLContext context(Optional<List<X509Certificate>> trust, Optional<PrivateKey> key, List<X509Certificate> chain)
            throws GeneralSecurityException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (trust.isPresent()) {
            KeyStore ks = emptyStore();
            List<X509Certificate> certs = trust.get();
            for (int i = 0; i < certs.size(); i++) {
                ks.setCertificateEntry("ca-" + i, certs.get(i));
            }
            tmf.init(ks);
        } else {
            tmf.init((KeyStore) null);
        }
        X509ExtendedTrustManager jdk = null;
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager x) {
                jdk = x;
            }
        }
        if (jdk == null) {
            throw new GeneralSecurityException("no X.509 trust manager");
        }
        KeyManager[] keyManagers = null;
        if (key.isPresent()) {
            // an in-memory store only: the password protects nothing and is never written anywhere
            char[] password = "in-memory".toCharArray();
            KeyStore ks = emptyStore();
            ks.setKeyEntry("client", key.get(), password, chain.toArray(X509Certificate[]::new));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password);
            keyManagers = kmf.getKeyManagers();
        }
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keyManagers, new TrustManager[] {new StrictNames(jdk)}, null);
        return context;
    }

    private static KeyStore emptyStore() throws GeneralSecurityException {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            return ks;
        } catch (java.io.IOException e) {
            throw new GeneralSecurityException(e);
        }
    }

    /**
     * Whether a host (brackets already removed) is an IPv4 or IPv6 literal.
     *
     * @param host host as written in the URL
     * @return true for an address literal
     */
    static boolean isIpLiteral(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        return IPV4.matcher(h).matches() || (h.contains(":") && IPV6.matcher(h).matches());
    }

    /**
     * The DNS resolver for hub connections: the hub's host resolves to an address that carries the host exactly as
     * written in the URL (an IP literal keeps its text, so TLS checks it against {@code iPAddress} names and nothing
     * is reverse-resolved); other names (a proxy's) resolve as usual.
     *
     * @param hubHost host of {@code NC_AGENT_URL}, with or without IPv6 brackets
     * @param viaProxy true when a proxy resolves the hub's name: a name then gets a placeholder address never dialled
     * @return resolver
     */
    static DnsResolver resolver(String hubHost, boolean viaProxy) {
        return new HubResolver(unbracket(hubHost), viaProxy);
    }

    static String unbracket(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    private static final class HubResolver implements DnsResolver {
        private final String hubHost;
        private final boolean viaProxy;
        private final DnsResolver fallback = DefaultDnsResolver.create();

        HubResolver(String hubHost, boolean viaProxy) {
            this.hubHost = hubHost;
            this.viaProxy = viaProxy;
        }

        @Override
        public InetAddress resolveAddress(String hostname, DnsAddressLookup lookup) {
            String host = unbracket(hostname);
            if (!host.equalsIgnoreCase(hubHost)) {
                return fallback.resolveAddress(hostname, lookup);
            }
            try {
                if (isIpLiteral(host)) {
                    // parsing a literal never touches DNS; getByAddress keeps the literal as the address's name
                    return InetAddress.getByAddress(host, InetAddress.getByName(host).getAddress());
                }
                // a name: the address carries it, so CONNECT, SNI and host name verification use it
                byte[] bytes = viaProxy ? UNRESOLVED : fallback.resolveAddress(host, lookup).getAddress();
                return InetAddress.getByAddress(host, bytes);
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("Invalid hub host " + host, e);
            }
        }
    }

    /**
     * The JDK's trust manager (chain, validity and HTTPS endpoint identification), plus: a host name needs a
     * {@code dNSName}; the JDK would accept a certificate without one whose subject CN matches.
     */
    private static final class StrictNames extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager jdk;

        StrictNames(X509ExtendedTrustManager jdk) {
            this.jdk = jdk;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            jdk.checkServerTrusted(chain, authType, socket);
            if (socket instanceof SSLSocket ssl) {
                requireDnsName(chain, ssl.getHandshakeSession());
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            jdk.checkServerTrusted(chain, authType, engine);
            if (engine != null) {
                requireDnsName(chain, engine.getHandshakeSession());
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            jdk.checkServerTrusted(chain, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            jdk.checkClientTrusted(chain, authType, socket);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            jdk.checkClientTrusted(chain, authType, engine);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            jdk.checkClientTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return jdk.getAcceptedIssuers();
        }

        private static void requireDnsName(X509Certificate[] chain, SSLSession session) throws CertificateException {
            String host = session == null ? null : session.getPeerHost();
            if (host == null || isIpLiteral(host) || chain.length == 0) {
                // an address is matched against iPAddress names only by the JDK itself
                return;
            }
            if (!hasDnsName(chain[0])) {
                // the message starts like the JDK's own, so the failure reads "host name does not match certificate"
                throw new CertificateException("No subject alternative DNS name matching " + host
                                                       + " found (the certificate has no DNS name; its subject CN is "
                                                       + "not used)");
            }
        }

        private static boolean hasDnsName(X509Certificate cert) throws CertificateParsingException {
            Collection<List<?>> names = cert.getSubjectAlternativeNames();
            if (names == null) {
                return false;
            }
            for (List<?> name : names) {
                if (name.get(0) instanceof Integer type && type == SAN_DNS) {
                    return true;
                }
            }
            return false;
        }
    }
}
