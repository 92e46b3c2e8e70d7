package io.nowconnect.tunnel;

import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.util.Optional;

import javax.net.ssl.SSLHandshakeException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Mapping of connect failures that the network tests cannot provoke with tinyproxy and the project's hub (other proxy
 * status codes, no proxy at all); the common cases are covered for real in {@code io.nowconnect.network}.
 */
@Timeout(300)
class ConnectFailureTest {
    private static final Optional<String> PROXY = Optional.of("proxy.corp:3128");

    @Test
    void proxyStatusCodes() {
        assertEquals(new TunnelEnd(EndReason.PROXY_FAILED, "proxy refused CONNECT: 403 Forbidden",
                                   java.time.Duration.ZERO),
                     classify(new IllegalStateException("Proxy sent wrong HTTP response code: 403 Forbidden"), PROXY));
        for (String status : new String[] {"502 Bad Gateway", "503 Service Unavailable", "504 Gateway Timeout"}) {
            TunnelEnd end = classify(new IllegalStateException("Proxy sent wrong HTTP response code: " + status), PROXY);
            assertEquals(EndReason.PROXY_FAILED, end.reason());
            assertEquals("hub unreachable behind the proxy (proxy.corp:3128 answered CONNECT with " + status + ")",
                         end.detail());
        }
        assertEquals("proxy refused CONNECT: 407 Proxy Authentication Required (proxy credentials refused: check user "
                             + "and password in the proxy URL)",
                     ConnectFailure.classify(new IllegalStateException(
                             "Proxy sent wrong HTTP response code: 407 Proxy Authentication Required"), PROXY, true, false)
                             .detail());
    }

    @Test
    void refusedConnectionNamesTheProxyOnlyWhenThereIsOne() {
        UncheckedIOException refused = new UncheckedIOException(new ConnectException("Connection refused"));
        assertEquals(new TunnelEnd(EndReason.PROXY_FAILED,
                                   "proxy unreachable (proxy.corp:3128): ConnectException: Connection refused",
                                   java.time.Duration.ZERO), classify(refused, PROXY));
        assertEquals(new TunnelEnd(EndReason.CONNECT_FAILED, "ConnectException: Connection refused",
                                   java.time.Duration.ZERO), classify(refused, Optional.empty()));
        assertEquals(EndReason.PROXY_FAILED,
                     classify(new IllegalArgumentException("Failed to get address for host proxy.corp"), PROXY).reason());
    }

    @Test
    void otherTlsFailuresKeepTheirCause() {
        TunnelEnd end = classify(new UncheckedIOException("Failed to execute SSL handshake",
                                                          new SSLHandshakeException("No appropriate protocol")),
                                 Optional.empty());
        assertEquals(new TunnelEnd(EndReason.TLS_FAILED, "TLS handshake failed: SSLHandshakeException: No appropriate "
                + "protocol", java.time.Duration.ZERO), end);
        // a plain reset outside TLS stays a connect failure
        assertEquals(EndReason.CONNECT_FAILED,
                     classify(new UncheckedIOException(new SocketException("Connection reset")), Optional.empty()).reason());
    }

    private static TunnelEnd classify(Throwable e, Optional<String> proxy) {
        return ConnectFailure.classify(e, proxy, false, false);
    }
}
