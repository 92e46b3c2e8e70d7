package io.nowconnect.tunnel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import javax.net.ssl.SSLContext;

import io.helidon.common.configurable.Resource;
import io.helidon.common.pki.Keys;
import io.helidon.webclient.api.Proxy;
import io.helidon.webclient.http1.Http1Client;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigException;
import io.nowconnect.config.ProxySettings;
import io.nowconnect.log.Event;

/**
 * Builds the HTTP/1 client that performs the tunnel's WebSocket upgrade: connect timeout, TLS 1.2/1.3 with host name
 * verification, an optional CA bundle that replaces the JVM's trust, and either the proxy from the environment
 * ({@code NC_TRUST_ENV=true}, see {@link ProxySettings}) or explicitly no proxy (Helidon would otherwise silently use
 * the JVM's proxy system properties).
 *
 * <p>Through a proxy the client always tunnels with HTTP CONNECT (a forwarded {@code GET} would lose the WebSocket
 * {@code Upgrade} header), sends Basic proxy credentials from the proxy URL, and hands the hub's host name to the
 * proxy unresolved: the agent may not be able to resolve external names itself.
 */
final class HubClient {
    private static final Logger LOGGER = Logger.getLogger(HubClient.class.getName());

    private HubClient() {
    }

    static Http1Client create(AgentConfig config) {
        var tls = io.helidon.common.tls.TlsConfig.builder()
                .enabledProtocols(List.of("TLSv1.3", "TLSv1.2"))
                .endpointIdentificationAlgorithm("HTTPS")
                .sslContext(CoalescingContext.wrap(sslContext(config)));
        var builder = Http1Client.builder()
                .connectTimeout(config.connectTimeout())
                .readTimeout(config.pingTimeout().plus(config.connectTimeout()))
                // small frames (WINDOW, pong, one-line requests) must not wait for Nagle and a delayed ACK
                .socketOptions(io.helidon.common.socket.SocketOptions.builder()
                                       .connectTimeout(config.connectTimeout())
                                       .readTimeout(config.pingTimeout().plus(config.connectTimeout()))
                                       .tcpNoDelay(true)
                                       .build())
                .tls(tls.build())
                .proxy(Proxy.noProxy())
                // the hub's host as written in the URL: an IP literal is verified as an IP, never reverse-resolved
                .dnsResolver(HubTls.resolver(config.url().getHost(), false))
                // origin-form request line also through a proxy: the upgrade travels inside a CONNECT tunnel
                .relativeUris(true)
                .followRedirects(false)
                .shareConnectionCache(false);
        Optional<ProxySettings.Server> proxy = proxyFor(config);
        if (proxy.isPresent()) {
            builder.proxy(proxy(proxy.get()))
                    .dnsResolver(HubTls.resolver(config.url().getHost(), true));
            ProxySettings.Server p = proxy.get();
            Event.of("proxy").with("proxy", p.address()).with("variable", p.variable())
                    .with("authenticated", p.username().isPresent())
                    .log(LOGGER, Level.INFO, "Hub connections go through the proxy " + p.address() + " (" + p.variable()
                            + ", HTTP CONNECT" + (p.username().isPresent() ? ", Basic credentials" : "") + ")");
        } else if (config.trustEnv() && !config.proxy().equals(ProxySettings.NONE)) {
            boolean secure = "wss".equalsIgnoreCase(config.url().getScheme());
            boolean configured = (secure ? config.proxy().https() : config.proxy().http()).or(config.proxy()::all)
                    .isPresent();
            Event.of("proxy").with("proxy", "none")
                    .log(LOGGER, Level.INFO, configured
                            ? "NO_PROXY matches the hub: connecting directly"
                            : "No proxy variable for " + (secure ? "wss:// (HTTPS_PROXY, ALL_PROXY)" : "ws:// (HTTP_PROXY, "
                            + "ALL_PROXY)") + ": connecting directly");
        }
        return builder.build();
    }

    /**
     * The proxy the client uses for the hub, if any.
     *
     * @param config agent configuration
     * @return the proxy server, empty when the agent connects directly
     */
    static Optional<ProxySettings.Server> proxyFor(AgentConfig config) {
        return config.proxy().forUrl(config.url());
    }

    private static Proxy proxy(ProxySettings.Server server) {
        Proxy.Builder proxy = Proxy.builder()
                .type(Proxy.ProxyType.HTTP)
                .host(server.host())
                .port(server.port())
                // CONNECT for ws:// too: a forwarded GET loses the Upgrade header
                .forceHttpConnect(true);
        server.username().ifPresent(proxy::username);
        server.password().ifPresent(p -> proxy.password(p.toCharArray()));
        return proxy.build();
    }

    static SSLContext sslContext(AgentConfig config) {
        Optional<List<X509Certificate>> trust = config.caBundle().map(HubClient::certificates);
        Optional<PrivateKey> key = Optional.empty();
        List<X509Certificate> chain = List.of();
        if (config.clientCert().isPresent() && config.clientKey().isPresent()) {
            Keys keys = clientKeys(config.clientCert().get(), config.clientKey().get());
            key = keys.privateKey();
            chain = keys.certChain();
        }
        try {
            return HubTls.context(trust, key, chain);
        } catch (GeneralSecurityException e) {
            throw new ConfigException(List.of("NC_CA_BUNDLE/NC_CLIENT_CERT/NC_CLIENT_KEY: cannot set up TLS ("
                                                      + e.getMessage() + ")"));
        }
    }

    /**
     * Load the client certificate and key for mTLS: PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1 RSA
     * ({@code BEGIN RSA PRIVATE KEY}) or SEC1 EC ({@code BEGIN EC PRIVATE KEY}, named curves P-256, P-384, P-521).
     *
     * @param cert PEM certificate chain
     * @param key PEM private key
     * @return keys
     * @throws ConfigException naming both variables when they cannot be used
     */
    static Keys clientKeys(Path cert, Path key) {
        String problem;
        try {
            Optional<PrivateKey> sec1 = Sec1Keys.read(Files.readString(key, StandardCharsets.US_ASCII));
            Keys keys = sec1.isPresent()
                    ? Keys.builder().privateKey(sec1.get()).certChain(certChain(cert)).build()
                    : Keys.builder().pem(pem -> pem.key(Resource.create(key)).certChain(Resource.create(cert))).build();
            if (keys.privateKey().isEmpty() || keys.certChain().isEmpty()) {
                throw new IllegalArgumentException("no key or no certificate found");
            }
            return keys;
        } catch (GeneralSecurityException e) {
            problem = e.getMessage();
        } catch (IOException | RuntimeException e) {
            problem = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        }
        throw new ConfigException(List.of("NC_CLIENT_CERT/NC_CLIENT_KEY: cannot load the PEM client certificate and key ("
                                                  + problem + "); keys may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC, named "
                                                  + "curve P-256, P-384 or P-521), unencrypted; `openssl pkcs8 -topk8 "
                                                  + "-nocrypt -in old.key -out new.key` converts others to PKCS#8"));
    }

    private static List<X509Certificate> certChain(Path cert) {
        try (InputStream in = Files.newInputStream(cert)) {
            List<X509Certificate> certs = new ArrayList<>();
            for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                certs.add((X509Certificate) c);
            }
            return certs;
        } catch (IOException | CertificateException e) {
            throw new IllegalArgumentException("NC_CLIENT_CERT is not a PEM certificate chain", e);
        }
    }

    /**
     * Read every certificate of a PEM bundle.
     *
     * @param bundle PEM file
     * @return certificates
     * @throws ConfigException naming {@code NC_CA_BUNDLE} when the file holds none or cannot be read
     */
    static List<X509Certificate> certificates(Path bundle) {
        try (InputStream in = Files.newInputStream(bundle)) {
            List<X509Certificate> certs = new ArrayList<>();
            for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                certs.add((X509Certificate) c);
            }
            if (certs.isEmpty()) {
                throw new ConfigException(List.of("NC_CA_BUNDLE: " + bundle + " holds no PEM certificate"));
            }
            return certs;
        } catch (IOException | CertificateException e) {
            throw new ConfigException(List.of("NC_CA_BUNDLE: " + bundle + " is not a readable PEM certificate bundle ("
                                                      + e.getClass().getSimpleName() + ")"));
        }
    }
}
