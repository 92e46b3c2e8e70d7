package io.nowconnect.check;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.helidon.config.Config;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigException;
import io.nowconnect.config.Target;

/**
 * {@code nowconnect check} for the agent: the configuration ({@link AgentConfig}, every problem one FAIL line), the
 * token ({@link TokenCheck}), each connector's target (DNS, TCP connect time and, when it speaks TLS, its
 * certificate's names and expiry), then each hub URL ({@link HubLinkCheck}: the proxy, DNS, TCP, TLS, clock, upgrade,
 * ack, replicas). Nothing is changed: no port is bound, no stream opened, no file written.
 *
 * <p>Threads: the caller's.
 */
final class AgentCheck {
    /** How long a target gets to answer a TLS ClientHello before it is taken for a plain TCP service. */
    private static final Duration TLS_PROBE = Duration.ofMillis(1500);

    private AgentCheck() {
    }

    static Optional<AgentConfig> run(Config config, Optional<String> envFile, Report report) {
        AgentConfig agent;
        try {
            agent = AgentConfig.create(config);
        } catch (ConfigException e) {
            for (String problem : e.problems()) {
                report.fail("config", "", problem, "fix it in " + envFile.orElse("the environment"));
            }
            return Optional.empty();
        }
        report.ok("config", "", envFile.map(f -> f + ": ").orElse("environment: ") + "agent " + agent.agentId() + ", "
                + agent.connectors().size() + " connector(s), " + agent.urls().size() + " hub URL(s)"
                + (agent.trustEnv() ? ", proxy from the environment (NC_TRUST_ENV)" : ""));
        TokenCheck.Token token = TokenCheck.run(agent, report);
        for (Map.Entry<String, Target> e : agent.connectors().entrySet()) {
            target(e.getKey(), e.getValue(), agent.connectTimeout(), report);
        }
        List<URI> urls = agent.urls();
        for (int i = 0; i < urls.size(); i++) {
            HubLinkCheck.run(agent.withUrl(urls.get(i)), token, report, urls.size() == 1 ? "hub" : "hub " + (i + 1));
        }
        return Optional.of(agent);
    }

    private static void target(String connector, Target target, Duration timeout, Report report) {
        String name = "target " + connector;
        Net.Resolved r;
        try {
            r = Net.resolve(target.host());
            report.ok(name + " dns", r.millis() + " ms", target.host() + " -> " + r.text());
        } catch (UnknownHostException e) {
            report.fail(name + " dns", "", "cannot resolve " + target.host() + ": " + Net.why(e),
                        "check NC_TARGET_" + connector + "_HOST and this machine's DNS");
            return;
        }
        InetSocketAddress address = new InetSocketAddress(r.addresses().getFirst(), target.port());
        Net.Connected c;
        try {
            c = Net.connect(address, timeout);
        } catch (IOException e) {
            report.fail(name + " tcp", "", target.host() + ":" + target.port() + " (" + address.getAddress().getHostAddress()
                    + "): " + Net.why(e), "is the service running and listening on " + target.host() + ":" + target.port()
                    + "? check NC_TARGET_" + connector + "_PORT and firewalls between this agent and it");
            return;
        }
        report.ok(name + " tcp", c.millis() + " ms", "connected to " + address.getAddress().getHostAddress() + ":"
                + target.port() + " (NC_CONNECT_TIMEOUT_MS " + timeout.toMillis() + ")");
        Optional<List<X509Certificate>> chain = Net.peekCertificate(c.connected(), target.host(), TLS_PROBE);
        if (chain.isEmpty() || chain.get().isEmpty()) {
            report.ok(name + " tls", "", "no TLS answer within " + TLS_PROBE.toMillis()
                    + " ms: a plain TCP service (or STARTTLS); the agent relays its bytes as they are");
            return;
        }
        X509Certificate leaf = chain.get().getFirst();
        Instant notAfter = leaf.getNotAfter().toInstant();
        String detail = "speaks TLS; certificate (read without verification: the agent relays the bytes, the client "
                + "checks it) names " + Net.names(leaf) + ", issued by " + leaf.getIssuerX500Principal().getName()
                + ", valid until " + notAfter;
        if (!notAfter.isAfter(Instant.now())) {
            report.warn(name + " tls", Net.left(notAfter), detail, "its clients will refuse it: renew the service's certificate");
        } else if (Net.daysLeft(notAfter) < Net.WARN_DAYS) {
            report.warn(name + " tls", Net.left(notAfter), detail, "renew the service's certificate before " + notAfter);
        } else {
            report.ok(name + " tls", Net.left(notAfter), detail);
        }
    }
}
