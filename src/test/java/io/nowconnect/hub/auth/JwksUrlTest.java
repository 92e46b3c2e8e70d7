package io.nowconnect.hub.auth;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.helidon.common.configurable.Resource;
import io.helidon.common.pki.Keys;
import io.helidon.common.tls.Tls;
import io.helidon.http.Status;
import io.helidon.webserver.WebServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Keys from the identity provider's JWKS URL ({@code NC_HUB_JWKS_URL}) against a real HTTPS server of the test that
 * rotates its keys while agents connect: a new {@code kid} is fetched when a token names it (once, rate limited), a
 * removed key ends its tunnel, a provider that fails leaves the last good set (and {@code /readyz} says so), and a hub
 * that never got a set accepts no agent and is not ready.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class JwksUrlTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static KeyPair k1;
    private static KeyPair k2;

    @TempDir
    static Path pki;
    private static Path cert;
    private static Path key;

    private final AtomicReference<String> document = new AtomicReference<>();
    private final AtomicReference<String> cacheControl = new AtomicReference<>("max-age=3600");
    private final AtomicInteger fetches = new AtomicInteger();
    private volatile boolean failing;
    private WebServer provider;
    private Harness harness;

    @BeforeAll
    static void keys() throws Exception {
        k1 = TestTokens.ec("secp256r1");
        k2 = TestTokens.ec("secp256r1");
        cert = pki.resolve("idp.pem");
        key = pki.resolve("idp.key");
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-nodes", "-keyout", key.toString(), "-out", cert.toString(), "-days", "1",
                                       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "openssl made the provider's certificate");
    }

    @BeforeEach
    void startProvider(Harness harness) {
        this.harness = harness;
        document.set(jwks(jwk(k1, "k1")));
        Keys keys = Keys.builder().pem(pem -> pem.key(Resource.create(key)).certChain(Resource.create(cert))).build();
        provider = WebServer.builder().host("127.0.0.1").port(0)
                .tls(Tls.builder().privateKey(keys.privateKey().orElseThrow()).privateKeyCertChain(keys.certChain()).build())
                .routing(r -> r.get("/.well-known/jwks.json", (req, res) -> {
                    fetches.incrementAndGet();
                    if (failing) {
                        res.status(Status.INTERNAL_SERVER_ERROR_500).send("down");
                        return;
                    }
                    res.header("Content-Type", "application/json").header("Cache-Control", cacheControl.get())
                            .send(document.get());
                }))
                .build().start();
    }

    @AfterEach
    void stopProvider() {
        provider.stop();
    }

    @Test
    void aNewKidIsFetchedWhenATokenNamesItAndARemovedKeyEndsItsTunnel() throws Exception {
        cacheControl.set("max-age=3600");
        Hub hub = hub(Map.of("NC_HUB_DRAIN_TIMEOUT_SEC", "1"));
        EchoServer echo = harness.echo();
        Harness.await(WAIT, () -> fetches.get() == 1, "first fetch at start");
        Agent first = agent(hub, echo, "k1", k1, "premise-01");
        Harness.awaitReady(first, WAIT);

        // the provider rotates: k2 appears; a token naming it makes the hub look again at once (max-age is an hour)
        document.set(jwks(jwk(k1, "k1"), jwk(k2, "k2")));
        long rotated = System.nanoTime();
        Agent second = agent(hub, echo, "k2", k2, "premise-02");
        Harness.awaitReady(second, WAIT);
        long acceptedMs = (System.nanoTime() - rotated) / 1_000_000;
        assertEquals(2, fetches.get(), "exactly one more fetch for the new kid");
        // an unknown kid again within NC_HUB_JWKS_MIN_REFRESH_SEC: no fetch (a token guesser cannot make the hub hammer
        // the provider), refused
        String bogus = TestTokens.pki("ES256", "k9", k2.getPrivate(), claims("premise-03"));
        assertEquals(401, RawAgent.upgradeStatus(hub.port(), "Bearer " + bogus));
        assertEquals(401, RawAgent.upgradeStatus(hub.port(), "Bearer " + bogus));
        assertTrue(fetches.get() <= 3, "at most one fetch for unknown kids within the minimum refresh: " + fetches.get());

        // k1 goes: with a short max-age the hub sees it and ends k1's tunnel as an expired one
        cacheControl.set("max-age=1");
        document.set(jwks(jwk(k2, "k2")));
        // the next fetch (a token with an unknown kid, once NC_HUB_JWKS_MIN_REFRESH_SEC has passed) sees k1 gone
        String nudge = TestTokens.pki("ES256", "k3", k2.getPrivate(), claims("premise-04"));
        long removed = System.nanoTime();
        Harness.await(WAIT, () -> {
            try {
                RawAgent.upgradeStatus(hub.port(), "Bearer " + nudge);
            } catch (Exception e) {
                return false;
            }
            return hub.agentCount() == 1;
        }, "k1's tunnel closed");
        long closedMs = (System.nanoTime() - removed) / 1_000_000;
        Harness.await(WAIT, () -> first.status().endings().getOrDefault("auth_failed", 0L) >= 1, "k1 token refused");
        assertTrue(second.status().snapshot().ready(), "k2's tunnel serves on");
        System.out.printf("JWKS URL: new kid accepted %d ms after the provider rotated; removed key's tunnel closed "
                                  + "%d ms after the provider dropped it (%d fetches)%n", acceptedMs, closedMs, fetches.get());
    }

    @Test
    void aProviderThatFailsLeavesTheLastGoodKeys() throws Exception {
        cacheControl.set("max-age=1");
        Hub hub = hub(Map.of());
        EchoServer echo = harness.echo();
        Harness.await(WAIT, () -> fetches.get() >= 1, "first fetch");
        failing = true;
        int before = fetches.get();
        Harness.await(WAIT, () -> fetches.get() >= before + 2, "fetches go on, failing");
        Agent a = agent(hub, echo, "k1", k1, "premise-01");
        Harness.awaitReady(a, WAIT);
        String ready = readyz(hub);
        assertTrue(ready.contains("\"stale\":true") && ready.contains("\"fetched\":true"), ready);
        failing = false;
        Harness.await(WAIT, () -> readyz(hub).contains("\"stale\":false"), "fresh again");
    }

    @Test
    void aHubThatNeverGotKeysAcceptsNoAgentAndIsNotReady() throws Exception {
        failing = true;
        Hub hub = hub(Map.of());
        Harness.await(WAIT, () -> fetches.get() >= 1, "a fetch was tried");
        String token = TestTokens.pki("ES256", "k1", k1.getPrivate(), claims("premise-01"));
        assertEquals(401, RawAgent.upgradeStatus(hub.port(), "Bearer " + token));
        assertTrue(readyz(hub).contains("\"fetched\":false"), readyz(hub));
        assertTrue(!hub.ready(), "not ready without keys");
        failing = false;
        Harness.await(WAIT, hub::ready, "ready once the keys came");
        assertEquals(101, RawAgent.upgradeStatus(hub.port(), "Bearer " + token));
    }

    private Hub hub(Map<String, String> extra) {
        Map<String, String> vars = new java.util.HashMap<>();
        vars.put("NC_HUB_JWT_SECRET_FILE", "");
        vars.put("NC_HUB_JWKS_URL", "https://127.0.0.1:" + provider.port() + "/.well-known/jwks.json");
        vars.put("NC_HUB_JWKS_CA_BUNDLE", cert.toString());
        vars.put("NC_HUB_JWKS_MIN_REFRESH_SEC", "1");
        vars.putAll(extra);
        return harness.hub().env(vars).connectors("echo").start();
    }

    private Agent agent(Hub hub, EchoServer echo, String kid, KeyPair pair, String agentId) throws Exception {
        Path token = harness.dir().resolve(agentId + ".token");
        Files.writeString(token, TestTokens.pki("ES256", kid, pair.getPrivate(), claims(agentId)) + "\n");
        Map<String, String> vars = Harness.agentVars("ws://127.0.0.1:" + hub.port() + "/tunnel", token,
                                                     Map.of("echo", echo.port()));
        vars.put("NC_AGENT_ID", agentId);
        return harness.startAgent(vars);
    }

    private static Map<String, Object> claims(String agentId) {
        Map<String, Object> claims = TestTokens.claims();
        claims.put("agent_id", agentId);
        claims.put("sub", agentId);
        claims.put("jti", agentId + "-" + System.nanoTime());
        claims.put("exp", Instant.now().getEpochSecond() + 3600);
        claims.put("connectors", List.of("echo"));
        return claims;
    }

    private static String readyz(Hub hub) {
        try {
            return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + hub.port()
                    + "/readyz")).build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            return e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    private static Map<String, Object> jwk(KeyPair pair, String kid) {
        return TestTokens.ecJwk((ECPublicKey) pair.getPublic(), kid, "P-256", 32);
    }

    @SafeVarargs
    private static String jwks(Map<String, Object>... keys) {
        List<Map<?, ?>> all = new ArrayList<>(List.of(keys));
        return TestTokens.jwks(all.toArray(Map[]::new));
    }
}
