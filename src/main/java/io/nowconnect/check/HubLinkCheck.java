package io.nowconnect.check;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.UnknownHostException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ProxySettings;
import io.nowconnect.tunnel.HubProbe;

/**
 * One hub URL as the agent reaches it: DNS and TCP (or the proxy's CONNECT), TLS with the agent's trust and name
 * rules, the clock against the hub's {@code Date} header, the upgrade with the token, the ack of HELLO and the normal
 * close, then every replica the ack names (the URL dialled again until each has answered, at most
 * {@value #DIALS_PER_REPLICA} dials per replica).
 *
 * <p>Threads: the caller's (and {@link HubProbe}'s writer while a tunnel is open).
 */
final class HubLinkCheck {
    /** Dials per listed replica before one not reached is reported. */
    static final int DIALS_PER_REPLICA = 4;
    private static final long SKEW_WARN_SECONDS = 5;
    /** Beyond the hub's 30 s leeway for {@code exp} and {@code nbf}, tokens fail early or look not yet valid. */
    private static final long SKEW_FAIL_SECONDS = 30;

    private final AgentConfig config;
    private final TokenCheck.Token token;
    private final Report report;
    private final String name;
    private final Duration timeout;

    private HubLinkCheck(AgentConfig config, TokenCheck.Token token, Report report, String name) {
        this.config = config;
        this.token = token;
        this.report = report;
        this.name = name;
        this.timeout = config.connectTimeout();
    }

    /**
     * Check one hub.
     *
     * @param config agent configuration with {@link AgentConfig#url()} the hub
     * @param token what the token check found
     * @param report where the lines go
     * @param name prefix of the lines ({@code hub}, or {@code hub 2} when there are several)
     */
    static void run(AgentConfig config, TokenCheck.Token token, Report report, String name) {
        new HubLinkCheck(config, token, report, name).run();
    }

    private void run() {
        URI url = config.url();
        String host = url.getHost().startsWith("[") ? url.getHost().substring(1, url.getHost().length() - 1) : url.getHost();
        int port = HubProbe.port(url);
        boolean tls = "wss".equalsIgnoreCase(url.getScheme());
        Optional<ProxySettings.Server> proxy = HubProbe.proxyFor(config);
        Socket socket;
        if (proxy.isPresent()) {
            report.ok(name + " dns", "", host + " is resolved by the proxy " + proxy.get().address() + " (CONNECT)");
            Optional<Socket> s = ProxyCheck.connect(proxy.get(), url, timeout, report);
            if (s.isEmpty()) {
                return;
            }
            socket = s.get();
        } else {
            Net.Resolved r;
            try {
                r = Net.resolve(host);
                report.ok(name + " dns", r.millis() + " ms", host + " -> " + r.text());
            } catch (UnknownHostException e) {
                report.fail(name + " dns", "", "cannot resolve " + host + ": " + Net.why(e),
                            "check the host in NC_AGENT_URL and this machine's DNS (or set a proxy with NC_TRUST_ENV)");
                return;
            }
            socket = tcp(r.addresses().getFirst(), host, port);
            if (socket == null) {
                return;
            }
        }
        if (tls && !tls(socket, host)) {
            return;
        }
        if (!tls) {
            ProxyCheck.close(socket);
        }
        HubProbe probe = HubProbe.of(config);
        clock(probe);
        Optional<HubProbe.Ack> ack = tunnel(probe);
        if (ack.isPresent()) {
            replicas(probe, ack.get());
        }
    }

    private Socket tcp(InetAddress address, String host, int port) {
        try {
            Net.Connected c = Net.connect(new InetSocketAddress(address, port), timeout);
            report.ok(name + " tcp", c.millis() + " ms", "connected to " + address.getHostAddress() + ":" + port);
            return c.connected();
        } catch (IOException e) {
            report.fail(name + " tcp", "", host + ":" + port + " (" + address.getHostAddress() + "): " + Net.why(e),
                        "check the hub's port in NC_AGENT_URL, that the hub runs, and firewalls on the way (outbound "
                                + port + "); behind a proxy set NC_TRUST_ENV=true and HTTPS_PROXY");
            return null;
        }
    }

    private boolean tls(Socket socket, String host) {
        long start = System.nanoTime();
        HubProbe.Tls result = HubProbe.of(config).tls(socket, timeout.plusSeconds(2));
        long ms = Net.millis(start);
        String trust = config.caBundle().map(p -> "NC_CA_BUNDLE " + p).orElse("the JVM's trusted CAs");
        if (result.failure().isPresent()) {
            String seen = peek(host);
            String action = result.failure().get().startsWith("host name does not match")
                    ? "NC_AGENT_URL must name the hub as its certificate does (a host name needs a DNS name, an IP "
                    + "address an IP name), or give the hub a certificate for " + host
                    : result.failure().get().contains("not trusted") ? "set NC_CA_BUNDLE to the PEM of the CA that "
                    + "signed the hub's certificate (or the intercepting proxy's CA)"
                    : result.failure().get().contains("client certificate") ? "check NC_CLIENT_CERT and NC_CLIENT_KEY"
                    : "check the hub's TLS setup";
            report.fail(name + " tls", ms + " ms", result.failure().get() + " (trust: " + trust + ")" + seen, action);
            return false;
        }
        X509Certificate leaf = result.chain().getFirst();
        Instant notAfter = leaf.getNotAfter().toInstant();
        String detail = result.protocol() + ", " + Net.names(leaf) + "; issued by "
                + (result.chain().size() > 1 ? result.chain().get(1).getSubjectX500Principal().getName()
                                             : leaf.getIssuerX500Principal().getName())
                + "; trusted by " + trust + "; valid until " + notAfter;
        if (Net.daysLeft(notAfter) < Net.WARN_DAYS) {
            report.warn(name + " tls", Net.left(notAfter), detail, "renew the hub's certificate before " + notAfter);
        } else {
            report.ok(name + " tls", Net.left(notAfter), detail);
        }
        return true;
    }

    /** The hub's certificate read without verification, when it can be reached directly: shows what it is valid for. */
    private String peek(String host) {
        if (HubProbe.proxyFor(config).isPresent()) {
            return "";
        }
        try {
            Socket s = Net.connect(new InetSocketAddress(host, HubProbe.port(config.url())), timeout).connected();
            return Net.peekCertificate(s, host, timeout)
                    .filter(chain -> !chain.isEmpty())
                    .map(chain -> "; the hub's certificate (read without verification, for this message only) names "
                            + Net.names(chain.getFirst()) + ", issued by "
                            + chain.getFirst().getIssuerX500Principal().getName() + ", valid until "
                            + chain.getFirst().getNotAfter().toInstant())
                    .orElse("");
        } catch (IOException e) {
            return "";
        }
    }

    private void clock(HubProbe probe) {
        try {
            Optional<HubProbe.Clock> clock = probe.hubClock();
            if (clock.isEmpty()) {
                report.warn(name + " clock", "", "the hub sent no Date header: skew unknown", "keep NTP running here");
                return;
            }
            HubProbe.Clock c = clock.get();
            // the Date header has whole seconds, and our time is known to half the round trip: skew within that is none
            long ms = Duration.between(c.local(), c.hub()).toMillis();
            long slack = c.roundTripMillis() / 2;
            long low = ms - slack;
            long high = ms + 1000 + slack;
            long skew = low > 0 ? low / 1000 : high < 0 ? high / 1000 : 0;
            String figure = (skew > 0 ? "+" : "") + skew + " s";
            String detail = "the hub's Date header says " + c.hub() + " (whole seconds; round trip " + c.roundTripMillis()
                    + " ms)";
            if (Math.abs(skew) > SKEW_FAIL_SECONDS) {
                report.fail(name + " clock", figure, detail + ": beyond the hub's 30 s leeway for token times",
                            "synchronise this host's clock (NTP), or the hub's");
            } else if (Math.abs(skew) > SKEW_WARN_SECONDS) {
                report.warn(name + " clock", figure, detail, "synchronise this host's clock (NTP)");
            } else {
                report.ok(name + " clock", figure, detail);
            }
        } catch (IllegalStateException e) {
            report.warn(name + " clock", "", "no answer to GET /healthz: " + e.getMessage(), "see the upgrade below");
        }
    }

    private Optional<HubProbe.Ack> tunnel(HubProbe probe) {
        HubProbe.Result r = probe.tunnel(token.token(), ackTimeout());
        if (r.status() == 0) {
            report.fail(name + " upgrade", "", r.failure().orElse("failed") + " (" + r.reason() + ")",
                        "see the lines above; the agent logs the same failure");
            return Optional.empty();
        }
        if (r.status() != 101) {
            String why = r.authError().map(e -> " (" + e + ")").orElse("");
            String line = r.status() + " " + r.statusText() + why;
            if (r.status() == 429 || r.status() == 503) {
                report.warn(name + " upgrade", r.upgradeMillis() + " ms", "the hub answered " + line
                        + r.retryAfter().map(s -> ", Retry-After " + s).orElse("") + ": it holds too many tunnels",
                            r.status() == 429 ? "other tunnels with this agent_id are open (a running agent): normal"
                                    : "the hub is full (NC_HUB_MAX_TUNNELS)");
                return Optional.empty();
            }
            report.fail(name + " upgrade", r.upgradeMillis() + " ms", "the hub refused the token: " + line, authAction(r));
            return Optional.empty();
        }
        report.ok(name + " upgrade", r.upgradeMillis() + " ms", "101 " + r.statusText() + " with the token");
        if (r.ack().isEmpty()) {
            report.fail(name + " hello", "", r.failure().orElse("no ack"),
                        r.closed().contains("1008") ? "the token's agent_id and connectors claim against NC_AGENT_ID "
                                + "and NC_CONNECTORS (see the token lines)" : "check the hub's log");
            return Optional.empty();
        }
        HubProbe.Ack ack = r.ack().get();
        String replica = ack.replica().isEmpty() ? "" : "; replica " + ack.replica()
                + (ack.replicas().size() > 1 ? " of " + String.join(",", ack.replicas()) : "");
        report.ok(name + " hello", ack.millis() + " ms", "HELLO_ACK, caps " + (ack.caps().isEmpty() ? "none (v1)"
                : String.join(",", ack.caps())) + (ack.maxMessage() > 0 ? "; max_message " + ack.maxMessage() : "")
                + replica);
        List<String> refused = config.connectorNames().stream().filter(c -> !token.allowed().contains(c)).toList();
        String served = String.join(",", token.allowed()) + (token.claimed()
                ? " (NC_CONNECTORS within the token's connectors claim, as the hub applies it; the ack does not list them)"
                : " (no connectors claim: all that HELLO announced; the ack does not list them)");
        if (refused.isEmpty()) {
            report.ok(name + " connectors", token.allowed().size() + "/" + config.connectorNames().size(), served);
        } else {
            report.warn(name + " connectors", token.allowed().size() + "/" + config.connectorNames().size(), served
                    + "; not routed: " + refused, "see token connectors");
        }
        if (r.opensRefused() > 0) {
            report.warn(name + " close", "", r.closed() + "; " + r.opensRefused() + " OPEN refused with RST draining",
                        "a client reached this check's tunnel before the hub saw DRAIN; its client got a reset");
        } else {
            report.ok(name + " close", "", r.closed() + " after DRAIN; no stream opened");
        }
        return Optional.of(ack);
    }

    private void replicas(HubProbe probe, HubProbe.Ack first) {
        if (first.replicas().size() <= 1) {
            return;
        }
        Set<String> seen = new LinkedHashSet<>(List.of(first.replica()));
        int dials = 1;
        int max = DIALS_PER_REPLICA * first.replicas().size();
        report.ok(name + " replica " + first.replica(), "", "reached on dial 1");
        while (dials < max && !seen.containsAll(first.replicas())) {
            dials++;
            HubProbe.Result r = probe.tunnel(token.token(), ackTimeout());
            if (r.ack().isPresent() && seen.add(r.ack().get().replica())) {
                report.ok(name + " replica " + r.ack().get().replica(), r.ack().get().millis() + " ms",
                          "reached on dial " + dials + ", " + r.closed());
            } else if (r.ack().isEmpty() && r.status() != 429) {
                report.warn(name + " dial " + dials, "", r.failure().orElse("no ack"), "check the replicas' logs");
            }
        }
        for (String id : first.replicas()) {
            if (!seen.contains(id)) {
                report.warn(name + " replica " + id, "", "not reached in " + dials + " dials of " + config.url(),
                            "check that the replica runs and is in the balancer's pool, and that the balancer spreads "
                                    + "new connections (round robin or least connections, no source affinity)");
            }
        }
    }

    private Duration ackTimeout() {
        return config.pingTimeout().compareTo(Duration.ofSeconds(10)) < 0 ? config.pingTimeout() : Duration.ofSeconds(10);
    }

    private static String authAction(HubProbe.Result r) {
        String why = r.authError().orElse("");
        return switch (why) {
        case "wrong_audience" -> "the token's aud is not the hub's NC_HUB_AUDIENCE: mint one with --audience set to it";
        case "expired" -> "mint a new token and write it to NC_TOKEN_FILE";
        case "not_yet_valid" -> "check this host's clock, or wait until the token's nbf";
        case "bad_signature", "unknown_key" -> "the token was signed with another key than the hub's: mint it with "
                + "the hub's secret (NC_HUB_JWT_SECRET_FILE) or key";
        case "wrong_issuer", "missing_issuer" -> "the token's iss must be the hub's NC_HUB_ISSUER";
        case "missing_token" -> "set NC_TOKEN_FILE";
        case "connectors_claim_required" -> "the hub requires a connectors claim: mint the token with --connectors";
        default -> "check NC_TOKEN_FILE and NC_AGENT_ID against the hub's key and settings (the hub's log names the reason)";
        };
    }
}
