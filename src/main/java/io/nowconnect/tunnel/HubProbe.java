package io.nowconnect.tunnel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import io.helidon.http.ClientResponseHeaders;
import io.helidon.http.HeaderNames;
import io.helidon.webclient.api.ClientConnection;
import io.helidon.webclient.api.HttpClientResponse;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.UpgradeResponse;

import io.nowconnect.Version;
import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ProxySettings;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.protocol.ProtocolException;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.ws.Handshake;
import io.nowconnect.ws.UpgradedSocket;
import io.nowconnect.ws.WsReader;
import io.nowconnect.ws.WsWriter;

/**
 * One look at a hub exactly as this agent connects to it, for {@code nowconnect check}: the agent's own HTTP client
 * ({@link HubClient}: TLS context and trust, host name rules of {@link HubTls}, the proxy with CONNECT), its upgrade
 * request and HELLO. It changes nothing: the tunnel it opens says HELLO and at once DRAIN (so the hub routes no client
 * to it), answers an OPEN that still arrives with RST {@code draining}, and closes normally (1000) after the ack.
 *
 * <p>Threads: the caller's, plus the writer thread of the one tunnel it may hold, stopped before a method returns. No
 * lock. Never holds or returns the token.
 */
public final class HubProbe {
    /** Longest wait for the hub's answer to our close frame. */
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(2);

    private final AgentConfig config;
    private final Http1Client client;

    private HubProbe(AgentConfig config) {
        this.config = config;
        this.client = HubClient.create(config);
    }

    /**
     * A probe of one hub URL.
     *
     * @param config agent configuration, {@link AgentConfig#url()} the hub to look at
     * @return the probe
     * @throws io.nowconnect.config.ConfigException when the TLS files cannot be used
     */
    public static HubProbe of(AgentConfig config) {
        return new HubProbe(config);
    }

    /**
     * The proxy the agent uses for this hub.
     *
     * @param config agent configuration
     * @return the proxy, empty for a direct connection
     */
    public static Optional<ProxySettings.Server> proxyFor(AgentConfig config) {
        return HubClient.proxyFor(config);
    }

    /**
     * Read the token file exactly as the agent does at every connect ({@link TokenSource}: trimmed, not empty).
     *
     * @param file {@code NC_TOKEN_FILE}
     * @return the token, empty when the file is unset or holds nothing
     * @throws IOException naming the file (never its content) when it cannot be used
     */
    public static Optional<String> readToken(Optional<java.nio.file.Path> file) throws IOException {
        try {
            return TokenSource.create(file).read();
        } catch (TokenSource.TokenException e) {
            throw new IOException(e.getMessage(), null);
        }
    }

    /**
     * The outcome of a TLS handshake.
     *
     * @param chain the hub's certificate chain when the handshake passed the agent's checks
     * @param failure what failed, in the agent's words ({@code host name does not match certificate (...)})
     * @param protocol negotiated protocol, empty on failure
     */
    public record Tls(List<X509Certificate> chain, Optional<String> failure, String protocol) {
    }

    /**
     * A TLS handshake with the agent's TLS context (trust, client certificate), TLS 1.3/1.2, SNI and HTTPS endpoint
     * identification against the URL's host as written, on a socket already connected to the hub (directly or
     * through a proxy's CONNECT). The socket is closed afterwards.
     *
     * @param socket connected socket
     * @param timeout handshake timeout
     * @return the outcome
     */
    public Tls tls(Socket socket, Duration timeout) {
        String host = HubTls.unbracket(config.url().getHost());
        int port = port(config.url());
        try (SSLSocket ssl = (SSLSocket) HubClient.sslContext(config).getSocketFactory()
                .createSocket(socket, host, port, true)) {
            SSLParameters p = ssl.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
            if (!HubTls.isIpLiteral(host)) {
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
            return new Tls(chain, Optional.empty(), ssl.getSession().getProtocol());
        } catch (IOException | RuntimeException e) {
            TunnelEnd end = ConnectFailure.classify(e, Optional.empty(), false, config.clientCert().isPresent());
            return new Tls(List.of(), Optional.of(end.detail()), "");
        }
    }

    /**
     * The hub's clock against ours.
     *
     * @param hub the hub's {@code Date} header (whole seconds)
     * @param local our time halfway through the request
     * @param roundTripMillis how long the request took (half of it is the uncertainty of {@code local})
     */
    public record Clock(Instant hub, Instant local, long roundTripMillis) {
    }

    /**
     * The hub's clock, from the {@code Date} header of a plain GET of {@code /healthz} through the agent's client.
     *
     * @return the clocks; empty when the hub sent no Date header
     * @throws IllegalStateException with the agent's words for a connection that failed
     */
    public Optional<Clock> hubClock() {
        long start = System.currentTimeMillis();
        // Connection: close, so that the upgrade that follows gets a connection of its own, as the agent's does
        try (HttpClientResponse res = client.get().uri(httpUri("/healthz")).header(HeaderNames.CONNECTION, "close")
                .request()) {
            long end = System.currentTimeMillis();
            Optional<String> date = res.headers().first(HeaderNames.DATE);
            if (date.isEmpty()) {
                return Optional.empty();
            }
            Instant hub = ZonedDateTime.parse(date.get(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            return Optional.of(new Clock(hub, Instant.ofEpochMilli((start + end) / 2), end - start));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        } catch (RuntimeException e) {
            throw new IllegalStateException(ConnectFailure.classify(e, client).detail(), e);
        }
    }

    /**
     * What the hub said to the upgrade and to HELLO.
     *
     * @param failure why no tunnel was set up or acknowledged, in the agent's words; empty when acknowledged
     * @param reason the agent's reason label for it ({@code auth_failed}, {@code tls_failed}, ...), empty on success
     * @param status HTTP status of the upgrade answer, 0 when there was none
     * @param statusText its reason phrase
     * @param authError the {@code error_description} of the hub's {@code WWW-Authenticate}, if any
     * @param retryAfter the hub's {@code Retry-After}, if any
     * @param upgradeMillis time to the upgrade's answer
     * @param ack the ack, when it came
     * @param closed how the tunnel ended: {@code 1000 answered} after our normal close, or the hub's close code and
     *               reason when it closed first
     * @param opensRefused OPENs that arrived before the hub saw DRAIN, each answered with RST {@code draining}
     */
    public record Result(Optional<String> failure, String reason, int status, String statusText, Optional<String> authError,
                         Optional<String> retryAfter, long upgradeMillis, Optional<Ack> ack, String closed,
                         int opensRefused) {
    }

    /**
     * The hub's HELLO_ACK.
     *
     * @param caps capabilities agreed (named in our HELLO and the ack)
     * @param maxMessage the hub's message limit ({@code limits}), 0 when not said
     * @param replica replica that answered ({@code replicas}), empty when not said
     * @param replicas every replica behind the URL, empty when not said
     * @param millis time from HELLO to the ack
     */
    public record Ack(List<String> caps, int maxMessage, String replica, List<String> replicas, long millis) {
    }

    /**
     * Upgrade with the token, say HELLO (the agent's id, connectors and capabilities, {@code replicas} included) and
     * DRAIN, wait for the ack, close normally. No stream is opened.
     *
     * @param token bearer token, if any
     * @param ackTimeout longest wait for the ack
     * @return what the hub said
     */
    public Result tunnel(Optional<String> token, Duration ackTimeout) {
        String key = Handshake.newKey();
        long start = System.nanoTime();
        UpgradeResponse upgrade;
        try {
            var request = client.get().uri(httpUri(config.url().getRawPath()))
                    .header(HeaderNames.CONNECTION, "Upgrade")
                    .header(HeaderNames.UPGRADE, "websocket")
                    .header(HeaderNames.create("Sec-WebSocket-Key"), key)
                    .header(HeaderNames.create("Sec-WebSocket-Version"), "13");
            token.ifPresent(t -> request.header(HeaderNames.AUTHORIZATION, "Bearer " + t));
            upgrade = request.upgrade("websocket");
        } catch (RuntimeException e) {
            TunnelEnd end = ConnectFailure.classify(e, client);
            return failed(end.detail(), end.reason().label(), 0, "", Optional.empty(), Optional.empty(), start);
        }
        if (!upgrade.isUpgraded()) {
            try (HttpClientResponse res = upgrade.response()) {
                ClientResponseHeaders h = res.headers();
                int code = res.status().code();
                String reason = code == 401 || code == 403 ? EndReason.AUTH_FAILED.label()
                        : EndReason.HANDSHAKE_FAILED.label();
                Optional<String> why = h.first(HeaderNames.WWW_AUTHENTICATE).flatMap(HubProbe::errorDescription);
                return failed("hub answered the upgrade with HTTP " + res.status(), reason, code,
                              res.status().reasonPhrase(), why, h.first(HeaderNames.RETRY_AFTER), start);
            }
        }
        long upgradeMillis = (System.nanoTime() - start) / 1_000_000;
        ClientConnection c = upgrade.connection();
        try (HttpClientResponse res = upgrade.response()) {
            String accept = res.headers().first(HeaderNames.create("Sec-WebSocket-Accept")).orElse("");
            if (!accept.equals(Handshake.accept(key))) {
                c.closeResource();
                return failed("hub sent a wrong Sec-WebSocket-Accept", EndReason.HANDSHAKE_FAILED.label(), 101,
                              res.status().reasonPhrase(), Optional.empty(), Optional.empty(), start);
            }
        }
        try {
            return hello(c, ackTimeout, upgradeMillis);
        } finally {
            c.closeResource();
        }
    }

    private Result hello(ClientConnection c, Duration ackTimeout, long upgradeMillis) {
        c.readTimeout(ackTimeout);
        UpgradedSocket socket = UpgradedSocket.of(c.helidonSocket(), c.reader());
        WsWriter writer = WsWriter.client(socket.out(), "nc-check-writer");
        try {
            WsReader reader = WsReader.client(socket, 1 << 20);
            List<String> caps = List.of(Capability.DRAIN, Capability.BIN1, Capability.LIMITS, Capability.WIN,
                                        Capability.REPLICAS);
            long helloAt = System.nanoTime();
            writer.urgentText(JsonCodec.encode(new Frame.Hello(config.agentId(), config.connectorNames(),
                                                               Version.current(), caps, 4096)));
            // at once: the hub reads both in one go, so it routes no client to this tunnel
            writer.urgentText(JsonCodec.encode(new Frame.Drain()));
            Ack ack = null;
            int refused = 0;
            boolean closeSent = false;
            long closeDeadline = 0;
            while (true) {
                WsReader.Event event;
                try {
                    event = reader.next();
                } catch (UncheckedIOException e) {
                    String what = ack == null ? "no HELLO_ACK within " + ackTimeout.toSeconds() + " s ("
                            + e.getCause().getClass().getSimpleName() + ")" : "closed without answering our close";
                    return ended(ack, upgradeMillis, refused, what,
                                 ack == null ? io.nowconnect.mux.MuxReason.HELLO_TIMEOUT.label() : "");
                }
                if (event == null) {
                    return ended(ack, upgradeMillis, refused, "the hub closed the connection without a close frame",
                                 ack == null ? io.nowconnect.mux.MuxReason.CLOSED.label() : "");
                }
                switch (event) {
                case WsReader.Close close -> {
                    if (closeSent) {
                        return ended(ack, upgradeMillis, refused, "closed normally (" + close.code() + " answered)", "");
                    }
                    writer.close(close.code(), "bye");
                    writer.awaitClosed(CLOSE_WAIT);
                    return ended(ack, upgradeMillis, refused, "the hub closed the tunnel: " + close.code()
                            + (close.reason().isEmpty() ? "" : " " + close.reason()), io.nowconnect.mux.MuxReason.CLOSED.label());
                }
                case WsReader.Ping ping -> writer.pong(ping.payload());
                case WsReader.Message m when !m.binary() -> {
                    Frame frame = decode(m.text());
                    if (frame instanceof Frame.HelloAck a && ack == null) {
                        List<String> agreed = a.caps().stream().filter(caps::contains).toList();
                        ack = new Ack(agreed, a.maxMessage(), a.replica(), a.replicas(),
                                      (System.nanoTime() - helloAt) / 1_000_000);
                        writer.close(1000, "check");
                        closeSent = true;
                        c.readTimeout(CLOSE_WAIT);
                    } else if (frame instanceof Frame.Open open) {
                        refused++;
                        writer.urgentText(JsonCodec.encode(new Frame.Rst(open.cid(), ResetReason.DRAINING.wire())));
                    }
                }
                default -> {
                    // binary frames and pongs: nothing to do on a tunnel that carries no stream
                }
                }
            }
        } finally {
            writer.stop();
        }
    }

    private static Frame decode(String text) {
        try {
            return JsonCodec.decode(text);
        } catch (ProtocolException e) {
            return null;
        }
    }

    private static Result ended(Ack ack, long upgradeMillis, int refused, String closed, String reason) {
        Optional<String> failure = ack == null ? Optional.of(closed) : Optional.empty();
        return new Result(failure, ack == null ? reason : "", 101, "Switching Protocols", Optional.empty(),
                          Optional.empty(), upgradeMillis, Optional.ofNullable(ack), closed, refused);
    }

    private static Result failed(String detail, String reason, int status, String text, Optional<String> authError,
                                 Optional<String> retryAfter, long start) {
        return new Result(Optional.of(detail), reason, status, text, authError, retryAfter,
                          (System.nanoTime() - start) / 1_000_000, Optional.empty(), "", 0);
    }

    /** {@code error_description="wrong_audience"} of a {@code WWW-Authenticate: Bearer ...} header (RFC 6750 3). */
    static Optional<String> errorDescription(String header) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("error_description=\"([^\"]{0,100})\"").matcher(header);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    private URI httpUri(String path) {
        URI url = config.url();
        String scheme = "wss".equalsIgnoreCase(url.getScheme()) ? "https" : "http";
        return URI.create(scheme + "://" + url.getRawAuthority() + (path == null || path.isEmpty() ? "/" : path));
    }

    /**
     * The port of a hub URL, the scheme's default when it names none.
     *
     * @param url hub URL
     * @return port
     */
    public static int port(URI url) {
        return url.getPort() > 0 ? url.getPort() : "wss".equalsIgnoreCase(url.getScheme()) ? 443 : 80;
    }
}
