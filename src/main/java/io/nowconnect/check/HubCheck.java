package io.nowconnect.check;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import io.helidon.common.configurable.Resource;
import io.helidon.common.pki.Keys;
import io.helidon.config.Config;

import io.nowconnect.config.ConfigException;
import io.nowconnect.config.HubConfig;
import io.nowconnect.hub.auth.KeyStrength;
import io.nowconnect.hub.auth.TokenMinter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * {@code nowconnect hub check}: the hub's configuration ({@link HubConfig}, every problem one FAIL line), its token
 * keys and their strength ({@link KeyStrength}: secret length, RSA key size) and file modes, its TLS certificate (names,
 * expiry, whether the key belongs to it), and whether its port and listener ports are free. Nothing is started: each
 * port is bound for a moment and let go. No key or secret byte is printed.
 *
 * <p>Threads: the caller's.
 */
final class HubCheck {
    private HubCheck() {
    }

    static void run(Config config, Optional<String> envFile, Report report) {
        HubConfig hub;
        try {
            hub = HubConfig.create(config);
        } catch (ConfigException e) {
            for (String problem : e.problems()) {
                report.fail("config", "", problem, "fix it in " + envFile.orElse("the environment"));
            }
            return;
        }
        report.ok("config", "", envFile.map(f -> f + ": ").orElse("environment: ") + hub.host() + ":" + hub.port()
                + ", " + hub.listeners().size() + " listener(s), audience " + hub.audience()
                + hub.issuer().map(i -> ", issuer " + i).orElse("") + ", replica " + hub.replicaId());
        keys(hub, report);
        certificate(hub, report);
        port("port " + hub.port(), new InetSocketAddress(hub.host(), hub.port()), "NC_HUB_HOST/NC_HUB_PORT", report);
        for (Map.Entry<String, InetSocketAddress> l : hub.listeners().entrySet()) {
            // the configuration keeps listener addresses unresolved
            port("listener " + l.getKey(), new InetSocketAddress(l.getValue().getHostString(), l.getValue().getPort()),
                 "NC_HUB_LISTENERS", report);
        }
    }

    private static void keys(HubConfig hub, Report report) {
        if (hub.jwtSecretFile().isPresent()) {
            Path file = hub.jwtSecretFile().get();
            int bytes = TokenMinter.readSecret(file).length;
            report.ok("key secret", bytes + " bytes", file + ": HS256 secret of " + bytes + " bytes (at least "
                    + KeyStrength.MIN_SECRET_BYTES + ")");
            mode(file, "key secret mode", report);
        }
        if (hub.jwksFile().isPresent()) {
            Path file = hub.jwksFile().get();
            report.ok("key public", "", file + ": " + describeKeys(file) + " (RSA at least " + KeyStrength.MIN_RSA_BITS
                    + " bits)");
        }
        if (!hub.requireConnectorsClaim()) {
            report.warn("token scopes", "", "NC_HUB_REQUIRE_CONNECTORS_CLAIM=false: a token without a connectors claim "
                    + "may serve any connector", "once every agent has a scoped token (token --connectors), set "
                    + "NC_HUB_REQUIRE_CONNECTORS_CLAIM=true");
        } else {
            report.ok("token scopes", "", "tokens must carry a connectors claim (NC_HUB_REQUIRE_CONNECTORS_CLAIM)");
        }
    }

    private static void mode(Path file, String name, Report report) {
        try {
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
            if (p.contains(PosixFilePermission.OTHERS_READ)) {
                report.warn(name, "", file + " is readable by every user: anyone on this host can mint agent tokens",
                            "chmod 0640 " + file + " (owner root, group of the hub's user)");
            }
        } catch (IOException | UnsupportedOperationException e) {
            // not a POSIX file system (Windows): its ACLs are not checked here
        }
    }

    /** {@code JWKS with 2 keys: RSA 2048 bits, EC P-256} or {@code PEM public key}; never a key's bytes. */
    private static String describeKeys(Path file) {
        try {
            String text = Files.readString(file);
            if (!text.strip().startsWith("{")) {
                return "PEM public key or certificate";
            }
            JsonNode keys = new ObjectMapper().readTree(text).path("keys");
            List<String> kinds = new ArrayList<>();
            for (JsonNode k : keys) {
                String kty = k.path("kty").asText("?");
                if (kty.equals("RSA") && k.path("n").isTextual()) {
                    byte[] n = Base64.getUrlDecoder().decode(k.get("n").asText());
                    int bits = n.length * 8 - (n.length > 0 && n[0] == 0 ? 8 : 0);
                    kinds.add("RSA " + bits + " bits");
                } else if (kty.equals("EC")) {
                    kinds.add("EC " + k.path("crv").asText("?"));
                } else {
                    kinds.add(kty);
                }
            }
            return "JWKS with " + kinds.size() + " key(s): " + String.join(", ", kinds);
        } catch (IOException | IllegalArgumentException e) {
            return "keys usable";
        }
    }

    private static void certificate(HubConfig hub, Report report) {
        if (hub.tlsCert().isEmpty()) {
            report.warn("tls", "", "no NC_HUB_TLS_CERT: the hub speaks plain ws://; tokens travel in clear text unless a "
                    + "TLS balancer terminates in front of it", "set NC_HUB_TLS_CERT and NC_HUB_TLS_KEY, or terminate TLS "
                    + "in front of the hub");
            return;
        }
        Path certFile = hub.tlsCert().get();
        List<X509Certificate> chain;
        try (InputStream in = Files.newInputStream(certFile)) {
            chain = CertificateFactory.getInstance("X.509").generateCertificates(in).stream()
                    .map(X509Certificate.class::cast).toList();
        } catch (IOException | GeneralSecurityException e) {
            report.fail("tls certificate", "", certFile + " is not a PEM certificate chain (" + Net.why(e) + ")",
                        "check NC_HUB_TLS_CERT");
            return;
        }
        if (chain.isEmpty()) {
            report.fail("tls certificate", "", certFile + " holds no certificate", "check NC_HUB_TLS_CERT");
            return;
        }
        X509Certificate leaf = chain.getFirst();
        Instant notAfter = leaf.getNotAfter().toInstant();
        String detail = certFile + ": " + Net.names(leaf) + ", issued by " + leaf.getIssuerX500Principal().getName()
                + ", valid " + leaf.getNotBefore().toInstant() + " to " + notAfter + ", chain of " + chain.size();
        if (!notAfter.isAfter(Instant.now())) {
            report.fail("tls certificate", Net.left(notAfter), detail, "agents refuse an expired certificate: renew it");
        } else if (leaf.getNotBefore().toInstant().isAfter(Instant.now())) {
            report.fail("tls certificate", "", detail + ": not valid yet", "check this host's clock, or the certificate");
        } else if (Net.daysLeft(notAfter) < Net.WARN_DAYS) {
            report.warn("tls certificate", Net.left(notAfter), detail, "renew it before " + notAfter);
        } else {
            report.ok("tls certificate", Net.left(notAfter), detail);
        }
        hub.tlsKey().ifPresent(key -> {
            keyMatches(leaf, key, report);
            mode(key, "tls key mode", report);
        });
        hub.tlsClientCa().ifPresent(ca -> report.ok("tls client ca", "", ca + ": agents must present a client "
                + "certificate signed by it (mTLS)"));
    }

    private static void keyMatches(X509Certificate leaf, Path keyFile, Report report) {
        try {
            Keys keys = Keys.builder().pem(pem -> pem.key(Resource.create(keyFile))).build();
            PrivateKey key = keys.privateKey().orElseThrow(() -> new GeneralSecurityException("no private key found"));
            // the hub's own check, so that hub check and the hub agree
            if (io.nowconnect.hub.tls.PemContext.matches(key, leaf)) {
                report.ok("tls key", "", keyFile + ": " + (key.getAlgorithm().equals("EC") ? "an " : "a ")
                        + key.getAlgorithm() + " key that belongs to the certificate");
            } else {
                report.fail("tls key", "", keyFile + " does not belong to the certificate " + leaf.getSubjectX500Principal()
                        .getName(), "set NC_HUB_TLS_KEY to the certificate's key");
            }
        } catch (GeneralSecurityException | RuntimeException e) {
            report.fail("tls key", "", keyFile + " cannot be used with the certificate (" + Net.why(e) + ")",
                        "NC_HUB_TLS_KEY must be the certificate's unencrypted PEM key (PKCS#8 or PKCS#1)");
        }
    }

    private static void port(String name, InetSocketAddress address, String variable, Report report) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(address);
            report.ok(name, "", address.getHostString() + ":" + address.getPort() + " is free");
        } catch (IOException e) {
            report.fail(name, "", "cannot listen on " + address.getHostString() + ":" + address.getPort() + ": " + Net.why(e),
                        "another process listens there (a hub already running?), or the address is not this host's; "
                                + "check " + variable);
        }
    }
}
