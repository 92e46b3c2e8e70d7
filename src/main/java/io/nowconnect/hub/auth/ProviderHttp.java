package io.nowconnect.hub.auth;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import io.helidon.common.configurable.Resource;
import io.helidon.common.pki.Keys;
import io.helidon.common.socket.SocketOptions;
import io.helidon.common.tls.Tls;
import io.helidon.webclient.api.DefaultDnsResolver;
import io.helidon.webclient.api.DnsAddressLookup;
import io.helidon.webclient.spi.DnsResolver;
import io.helidon.webclient.api.WebClient;
import io.helidon.webclient.http1.Http1Client;

/**
 * The hub's HTTP client for the services of the customer's identity world: the identity provider's JWKS
 * ({@code NC_HUB_JWKS_URL}) and the policy decision point ({@code NC_HUB_PDP_URL}). TLS 1.2/1.3 with host name
 * verification, trusting a PEM CA bundle when one is given (else the JVM's trust store), one deadline for connect and
 * read, no redirects, a connection pool of its own. Answers are read up to a bound, so a hostile or broken service
 * cannot make the hub hold more.
 */
public final class ProviderHttp {
    private static final DnsResolver DEFAULT_RESOLVER = DefaultDnsResolver.create();

    private ProviderHttp() {
    }

    /**
     * A client.
     *
     * @param caBundle PEM CAs to trust, if any
     * @param timeout connect and read deadline
     * @return the client
     */
    public static Http1Client client(Optional<Path> caBundle, Duration timeout) {
        var tls = Tls.builder().enabledProtocols(List.of("TLSv1.3", "TLSv1.2")).endpointIdentificationAlgorithm("HTTPS");
        caBundle.ifPresent(ca -> tls.trust(Keys.builder().pem(pem -> pem.certificates(Resource.create(ca))).build().certs()));
        return WebClient.builder()
                .connectTimeout(timeout)
                .readTimeout(timeout)
                .socketOptions(SocketOptions.builder().connectTimeout(timeout).readTimeout(timeout).tcpNoDelay(true).build())
                .tls(tls.build())
                // an IP literal in the URL is checked against the certificate's iPAddress names as written: Helidon's
                // default resolver would hand TLS a reverse-resolved name ("localhost" for 127.0.0.1)
                .dnsResolver(new LiteralFirst())
                .followRedirects(false)
                .shareConnectionCache(false)
                .build()
                .client(Http1Client.PROTOCOL);
    }

    /** IP literals keep their text as the address's name; names resolve as usual. */
    private static final class LiteralFirst implements DnsResolver {
        @Override
        public InetAddress resolveAddress(String hostname, DnsAddressLookup lookup) {
            return literalFirst(hostname, lookup);
        }
    }

    private static InetAddress literalFirst(String hostname, DnsAddressLookup lookup) {
        String host = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.substring(1, hostname.length() - 1)
                : hostname;
        try {
            if (host.matches("[0-9.]+") || host.contains(":")) {
                return InetAddress.getByAddress(host, InetAddress.getByName(host).getAddress());
            }
            return DEFAULT_RESOLVER.resolveAddress(hostname, lookup);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("cannot resolve " + host, e);
        }
    }

    /**
     * Read a body of at most {@code max} bytes.
     *
     * @param in the body
     * @param max most bytes
     * @param what the service, for the message
     * @return the bytes
     * @throws IOException when it is longer
     */
    public static byte[] readAtMost(InputStream in, int max, String what) throws IOException {
        byte[] all = in.readNBytes(max + 1);
        if (all.length > max) {
            throw new IOException(what + "'s answer is larger than " + max + " bytes");
        }
        return all;
    }

    /**
     * What went wrong, for a log line: the innermost cause's type and message (a TLS or connect error), clipped.
     *
     * @param e the failure
     * @return text without any secret (these are errors of the client's own connection)
     */
    public static String cause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String text = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
        return text.length() > 200 ? text.substring(0, 200) + "…" : text;
    }
}
