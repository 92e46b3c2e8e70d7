package io.nowconnect.tunnel;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.common.configurable.Resource;
import io.helidon.common.pki.Keys;
import io.helidon.common.tls.Tls;
import io.helidon.webclient.api.DefaultDnsResolver;
import io.helidon.webclient.api.DnsAddressLookup;
import io.helidon.webclient.api.Proxy;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.spi.DnsResolver;

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
                .endpointIdentificationAlgorithm("HTTPS");
        config.caBundle().ifPresent(bundle -> tls.trust(certificates(bundle)));
        if (config.clientCert().isPresent() && config.clientKey().isPresent()) {
            Keys keys = clientKeys(config.clientCert().get(), config.clientKey().get());
            tls.privateKey(keys.privateKey().orElseThrow()).privateKeyCertChain(keys.certChain());
        }
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
                // origin-form request line also through a proxy: the upgrade travels inside a CONNECT tunnel
                .relativeUris(true)
                .followRedirects(false)
                .shareConnectionCache(false);
        Optional<ProxySettings.Server> proxy = proxyFor(config);
        if (proxy.isPresent()) {
            builder.proxy(proxy(proxy.get()))
                    .dnsResolver(new PassThroughResolver(config.url().getHost()));
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

    /**
     * Leaves the hub's host name unresolved (the proxy resolves it in CONNECT); every other name, such as the proxy's,
     * is resolved as usual.
     */
    private static final class PassThroughResolver implements DnsResolver {
        private static final byte[] UNRESOLVED = {0, 0, 0, 0};
        private final String hubHost;
        private final DnsResolver fallback = DefaultDnsResolver.create();

        PassThroughResolver(String hubHost) {
            String h = hubHost;
            if (h.startsWith("[") && h.endsWith("]")) {
                h = h.substring(1, h.length() - 1);
            }
            this.hubHost = h;
        }

        @Override
        public InetAddress resolveAddress(String hostname, DnsAddressLookup lookup) {
            if (!hostname.equalsIgnoreCase(hubHost)) {
                return fallback.resolveAddress(hostname, lookup);
            }
            try {
                // an IP literal keeps its bytes; a name gets a placeholder address that is never dialled. Either way
                // the InetAddress carries the name as given, so CONNECT, SNI and host name verification use it.
                byte[] bytes = isIpLiteral(hostname) ? InetAddress.getByName(hostname).getAddress() : UNRESOLVED;
                return InetAddress.getByAddress(hostname, bytes);
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("Invalid hub host " + hostname, e);
            }
        }

        private static boolean isIpLiteral(String host) {
            String h = host.toLowerCase(Locale.ROOT);
            return h.matches("\\d{1,3}(\\.\\d{1,3}){3}") || (h.contains(":") && h.matches("[0-9a-f:.]+"));
        }
    }

    /**
     * Load the client certificate and key for mTLS.
     *
     * @param cert PEM certificate chain
     * @param key PEM private key
     * @return keys
     * @throws ConfigException naming both variables when they cannot be used
     */
    static Keys clientKeys(Path cert, Path key) {
        try {
            Keys keys = Keys.builder().pem(pem -> pem.key(Resource.create(key)).certChain(Resource.create(cert))).build();
            if (keys.privateKey().isEmpty() || keys.certChain().isEmpty()) {
                throw new IllegalArgumentException("no key or no certificate found");
            }
            return keys;
        } catch (RuntimeException e) {
            throw new ConfigException(List.of("NC_CLIENT_CERT/NC_CLIENT_KEY: cannot load the PEM client certificate and key ("
                                                      + e.getClass().getSimpleName() + ")"));
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
