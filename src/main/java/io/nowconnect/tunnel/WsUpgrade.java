package io.nowconnect.tunnel;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

import io.helidon.http.ClientResponseHeaders;
import io.helidon.http.HeaderNames;
import io.helidon.webclient.api.ClientConnection;
import io.helidon.webclient.api.HttpClientResponse;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.UpgradeResponse;

import io.nowconnect.ws.Handshake;

/**
 * The agent's WebSocket upgrade through Helidon's HTTP/1 client, which does TLS, host name verification, proxies and
 * the connect timeout: a GET with the upgrade headers and the bearer token, then the {@code Sec-WebSocket-Accept}
 * check. A refusal is classified into the {@link TunnelEnd} the supervisor acts on.
 */
final class WsUpgrade {
    private WsUpgrade() {
    }

    /** The upgrade failed; {@link #end()} says how. */
    static final class Refused extends Exception {
        private final transient TunnelEnd end;

        Refused(EndReason reason, String detail) {
            this(new TunnelEnd(reason, detail, Duration.ZERO));
        }

        Refused(TunnelEnd end) {
            super(end.detail(), null, false, false);
            this.end = end;
        }

        TunnelEnd end() {
            return end;
        }
    }

    /**
     * Upgrade a connection to the hub.
     *
     * @param client the agent's HTTP client
     * @param url hub URL ({@code ws} or {@code wss})
     * @param token bearer token, if any
     * @return the upgraded connection, its read timeout off (liveness is the tunnel's pings)
     * @throws Refused when the hub could not be reached or refused the upgrade
     */
    static ClientConnection open(Http1Client client, URI url, Optional<String> token) throws Refused {
        String scheme = "wss".equalsIgnoreCase(url.getScheme()) ? "https" : "http";
        URI httpUri = URI.create(scheme + url.toString().substring(url.getScheme().length()));
        String key = Handshake.newKey();
        UpgradeResponse upgrade;
        try {
            var request = client.get()
                    .uri(httpUri)
                    .header(HeaderNames.CONNECTION, "Upgrade")
                    .header(HeaderNames.UPGRADE, "websocket")
                    .header(HeaderNames.create("Sec-WebSocket-Key"), key)
                    .header(HeaderNames.create("Sec-WebSocket-Version"), "13");
            if (token.isPresent()) {
                request.header(HeaderNames.AUTHORIZATION, "Bearer " + token.get());
            }
            upgrade = request.upgrade("websocket");
        } catch (RuntimeException e) {
            throw new Refused(ConnectFailure.classify(e, client));
        }
        if (!upgrade.isUpgraded()) {
            try (HttpClientResponse response = upgrade.response()) {
                int code = response.status().code();
                if (code == 401 || code == 403) {
                    throw new Refused(EndReason.AUTH_FAILED, "hub refused the token (HTTP " + code + ")");
                }
                throw new Refused(EndReason.HANDSHAKE_FAILED, "hub answered the upgrade with HTTP " + response.status());
            }
        }
        ClientConnection c = upgrade.connection();
        try (HttpClientResponse response = upgrade.response()) {
            ClientResponseHeaders headers = response.headers();
            String accept = headers.first(HeaderNames.create("Sec-WebSocket-Accept")).orElse("");
            if (!accept.equals(Handshake.accept(key))) {
                c.closeResource();
                throw new Refused(EndReason.HANDSHAKE_FAILED, "hub sent a wrong Sec-WebSocket-Accept");
            }
        }
        // liveness is ours (pings); Helidon's 30 s default read timeout would silently kill an idle tunnel
        c.readTimeout(Duration.ZERO);
        return c;
    }
}
