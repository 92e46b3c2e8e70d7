package io.nowconnect.tunnel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

import io.helidon.common.configurable.Resource;
import io.helidon.common.pki.Keys;
import io.helidon.common.tls.Tls;
import io.helidon.webclient.api.Proxy;
import io.helidon.webclient.http1.Http1Client;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigException;

/**
 * Builds the HTTP/1 client that performs the tunnel's WebSocket upgrade: connect timeout, TLS 1.2/1.3 with host name
 * verification, an optional CA bundle that replaces the JVM's trust, and no proxy (Helidon would otherwise silently use
 * the JVM's proxy system properties).
 */
final class HubClient {
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
        return Http1Client.builder()
                .connectTimeout(config.connectTimeout())
                .readTimeout(config.pingTimeout().plus(config.connectTimeout()))
                .tls(tls.build())
                .proxy(Proxy.noProxy())
                .followRedirects(false)
                .shareConnectionCache(false)
                .build();
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
