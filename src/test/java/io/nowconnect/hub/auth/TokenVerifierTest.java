package io.nowconnect.hub.auth;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static io.nowconnect.hub.auth.TestTokens.AUDIENCE;
import static io.nowconnect.hub.auth.TestTokens.claims;
import static io.nowconnect.hub.auth.TestTokens.hs256;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertThrows;

@Timeout(60)
class TokenVerifierTest {
    private static final byte[] SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
            .getBytes(StandardCharsets.UTF_8);
    private static KeyPair rsa;
    private static KeyPair otherRsa;
    private static KeyPair ec256;

    @TempDir
    Path dir;

    @BeforeAll
    static void keys() throws Exception {
        rsa = TestTokens.rsa();
        otherRsa = TestTokens.rsa();
        ec256 = TestTokens.ec("secp256r1");
    }

    @Test
    void hs256RoundTrip() throws Exception {
        TokenVerifier verifier = hsVerifier();
        String token = TokenMinter.mintHs256(SECRET, "agent-7", Duration.ofMinutes(5), AUDIENCE);

        Claims claims = verifier.verify(token);

        assertThat(claims.agentId(), is("agent-7"));
        assertThat(claims.subject(), is(Optional.of("agent-7")));
        assertThat(claims.jti().isPresent(), is(true));
        assertThat(claims.audience(), is(List.of(AUDIENCE)));
        long left = Duration.between(Instant.now(), claims.expiresAt()).toSeconds();
        assertThat(left > 240 && left <= 300, is(true));
    }

    @Test
    void handBuiltHs256WithStringAudienceAndNoIat() throws Exception {
        Map<String, Object> claims = claims();
        claims.remove("iat");
        claims.remove("sub");
        claims.remove("jti");

        Claims verified = hsVerifier().verify(hs256(SECRET, claims));

        assertThat(verified.agentId(), is("agent-1"));
        assertThat(verified.subject(), is(Optional.empty()));
        assertThat(verified.jti(), is(Optional.empty()));
        assertThat(verified.audience(), is(List.of(AUDIENCE)));
    }

    @Test
    void audienceArrayContainingOursIsAccepted() throws Exception {
        Map<String, Object> claims = claims();
        claims.put("aud", List.of("other", AUDIENCE));

        assertThat(hsVerifier().verify(hs256(SECRET, claims)).audience(), is(List.of("other", AUDIENCE)));
    }

    @Test
    void secretFileIsTrimmedAndNotBase64Decoded() throws Exception {
        Path file = dir.resolve("secret");
        Files.writeString(file, "  " + new String(SECRET, StandardCharsets.UTF_8) + "\r\n\n");
        TokenVerifier verifier = TokenVerifier.create(Optional.of(file), Optional.empty(), AUDIENCE);

        assertThat(TokenMinter.readSecret(file), is(SECRET));
        assertThat(verifier.verify(hs256(SECRET, claims())).agentId(), is("agent-1"));
        byte[] decoded = Base64.getDecoder().decode(SECRET);
        assertReason(verifier, hs256(decoded, claims()), "bad_signature");
    }

    @Test
    void expiredIsRefused() throws Exception {
        Map<String, Object> claims = claims();
        claims.put("exp", Instant.now().getEpochSecond() - 120);

        AuthException e = assertReason(hsVerifier(), hs256(SECRET, claims), "expired");
        assertThat(e.status(), is(401));
    }

    @Test
    void expiryHonoursLeeway() throws Exception {
        Map<String, Object> claims = claims();
        long exp = Instant.now().getEpochSecond();
        claims.put("exp", exp);
        String token = hs256(SECRET, claims);
        Path file = secretFile();

        Clock within = Clock.fixed(Instant.ofEpochSecond(exp + 29), ZoneOffset.UTC);
        Clock beyond = Clock.fixed(Instant.ofEpochSecond(exp + 30), ZoneOffset.UTC);
        assertThat(TokenVerifier.create(Optional.of(file), Optional.empty(), AUDIENCE, within).verify(token).agentId(),
                   is("agent-1"));
        assertReason(TokenVerifier.create(Optional.of(file), Optional.empty(), AUDIENCE, beyond), token, "expired");
    }

    @Test
    void missingExpIsRefused() throws Exception {
        Map<String, Object> claims = claims();
        claims.remove("exp");

        assertReason(hsVerifier(), hs256(SECRET, claims), "missing_exp");
    }

    @Test
    void notBeforeInTheFutureIsRefused() throws Exception {
        Map<String, Object> claims = claims();
        claims.put("nbf", Instant.now().getEpochSecond() + 300);
        assertReason(hsVerifier(), hs256(SECRET, claims), "not_yet_valid");

        claims.put("nbf", Instant.now().getEpochSecond() + 10);
        assertThat(hsVerifier().verify(hs256(SECRET, claims)).agentId(), is("agent-1"));
    }

    @Test
    void wrongOrMissingAudienceIsRefused() throws Exception {
        Map<String, Object> claims = claims();
        claims.put("aud", "someone-else");
        assertReason(hsVerifier(), hs256(SECRET, claims), "wrong_audience");

        claims.put("aud", List.of("a", "b"));
        assertReason(hsVerifier(), hs256(SECRET, claims), "wrong_audience");

        claims.remove("aud");
        assertReason(hsVerifier(), hs256(SECRET, claims), "wrong_audience");

        String minted = TokenMinter.mintHs256(SECRET, "agent-1", Duration.ofMinutes(1), "other-hub");
        assertReason(hsVerifier(), minted, "wrong_audience");
    }

    @Test
    void otherSecretIsRefused() throws Exception {
        String token = TokenMinter.mintHs256("another-secret-0123456789abcdef-xyz".getBytes(StandardCharsets.UTF_8), "agent-1",
                                             Duration.ofMinutes(1), AUDIENCE);

        assertReason(hsVerifier(), token, "bad_signature");
    }

    @Test
    void tamperedPayloadIsRefused() throws Exception {
        String token = hs256(SECRET, claims());
        Map<String, Object> claims = claims();
        claims.put("agent_id", "agent-evil");
        String[] parts = token.split("\\.");
        String forged = parts[0] + "." + TestTokens.b64(TestTokens.json(claims)) + "." + parts[2];

        assertReason(hsVerifier(), forged, "bad_signature");
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "None", "NONE", ""})
    void algNoneIsRefused(String alg) throws Exception {
        String header = TestTokens.b64("{\"alg\":\"" + alg + "\",\"typ\":\"JWT\"}");
        String payload = TestTokens.b64(TestTokens.json(claims()));

        assertReason(hsVerifier(), header + "." + payload + ".", "alg_not_allowed");
        assertReason(bothVerifier(), header + "." + payload + ".", "alg_not_allowed");
    }

    @Test
    void algNoneWithoutAlgHeaderIsRefused() throws Exception {
        String token = "eyJ0eXAiOiJKV1QifQ." + TestTokens.b64(TestTokens.json(claims())) + ".";

        assertReason(bothVerifier(), token, "alg_not_allowed");
    }

    @Test
    void otherHmacAlgorithmsAreRefused() throws Exception {
        String token = TestTokens.hmac("HS512", SECRET, TestTokens.header("HS512", null), claims());

        assertReason(hsVerifier(), token, "alg_not_allowed");
    }

    @Test
    void algorithmConfusionIsRefused() throws Exception {
        byte[] der = rsa.getPublic().getEncoded();
        byte[] pem = TestTokens.pem("PUBLIC KEY", der).getBytes(StandardCharsets.US_ASCII);
        TokenVerifier pemOnly = TokenVerifier.create(Optional.empty(), Optional.of(rsaPemFile()), AUDIENCE);
        TokenVerifier jwksOnly = TokenVerifier.create(Optional.empty(), Optional.of(rsaJwksFile()), AUDIENCE);
        TokenVerifier both = bothVerifier();

        for (byte[] hmacKey : List.of(der, pem, TestTokens.pem("PUBLIC KEY", der).strip()
                .getBytes(StandardCharsets.US_ASCII))) {
            String token = hs256(hmacKey, claims());
            assertReason(pemOnly, token, "alg_not_allowed");
            assertReason(jwksOnly, token, "alg_not_allowed");
            assertReason(both, token, "bad_signature");
        }
        String withKid = TestTokens.hmac("HS256", der, TestTokens.header("HS256", "rsa-1"), claims());
        assertReason(jwksOnly, withKid, "alg_not_allowed");
        assertReason(both, withKid, "bad_signature");
    }

    @Test
    void missingAgentIdIsRefused() throws Exception {
        Map<String, Object> claims = claims();
        claims.remove("agent_id");
        assertReason(hsVerifier(), hs256(SECRET, claims), "missing_agent_id");

        claims.put("agent_id", " ");
        assertReason(hsVerifier(), hs256(SECRET, claims), "missing_agent_id");

        claims.put("agent_id", 42);
        assertReason(hsVerifier(), hs256(SECRET, claims), "missing_agent_id");
    }

    @Test
    void rs256ViaJwksWithKid() throws Exception {
        TokenVerifier verifier = TokenVerifier.create(Optional.empty(), Optional.of(rsaJwksFile()), AUDIENCE);

        assertThat(verifier.verify(TestTokens.pki("RS256", "rsa-1", rsa.getPrivate(), claims())).agentId(),
                   is("agent-1"));
        assertThat(verifier.verify(TestTokens.pki("RS256", null, rsa.getPrivate(), claims())).agentId(),
                   is("agent-1"));
        assertReason(verifier, TestTokens.pki("RS256", "rsa-1", otherRsa.getPrivate(), claims()), "bad_signature");
        assertReason(verifier, TestTokens.pki("RS256", "unknown", rsa.getPrivate(), claims()), "unknown_key");
        assertReason(verifier, TestTokens.pki("RS384", "rsa-1", rsa.getPrivate(), claims()), "alg_not_allowed");
    }

    @Test
    void jwksKeyWithoutAlgOrKidVerifiesAllRsaAlgorithms() throws Exception {
        Path file = dir.resolve("jwks.json");
        Files.writeString(file, TestTokens.jwks(TestTokens.rsaJwk((RSAPublicKey) rsa.getPublic(), null, null)));
        TokenVerifier verifier = TokenVerifier.create(Optional.empty(), Optional.of(file), AUDIENCE);

        for (String alg : List.of("RS256", "RS384", "RS512")) {
            assertThat(verifier.verify(TestTokens.pki(alg, null, rsa.getPrivate(), claims())).agentId(), is("agent-1"));
            assertThat(verifier.verify(TestTokens.pki(alg, "whatever", rsa.getPrivate(), claims())).agentId(),
                       is("agent-1"));
        }
    }

    @Test
    void rs256ViaPemWithoutKid() throws Exception {
        TokenVerifier verifier = TokenVerifier.create(Optional.empty(), Optional.of(rsaPemFile()), AUDIENCE);

        assertThat(verifier.verify(TestTokens.pki("RS256", null, rsa.getPrivate(), claims())).agentId(), is("agent-1"));
        assertThat(verifier.verify(TestTokens.pki("RS512", "any", rsa.getPrivate(), claims())).agentId(), is("agent-1"));
        assertReason(verifier, TestTokens.pki("RS256", null, otherRsa.getPrivate(), claims()), "bad_signature");
        assertReason(verifier, TestTokens.pki("ES256", null, ec256.getPrivate(), claims()), "alg_not_allowed");
    }

    @Test
    void es256ViaPemCertificate() throws Exception {
        // throwaway test-only P-256 key and its self-signed certificate, made with keytool
        String privateKey = "MEECAQAwEwYHKoZIzj0CAQYIKoZIzj0DAQcEJzAlAgEBBCBmXvULjrwn1UeuLhLhebPGjrK/XmAKhxHlOkyTUoGG6Q==";
        String certificate = "MIIBTTCB9KADAgECAgkAwTfpy4YwuzAwCgYIKoZIzj0EAwMwGjEYMBYGA1UEAxMPbm93Y29ubmVjdC10ZXN0MCAXDTI2MT"
                + "EyODExMTM0MloYDzIxMjYxMTA0MTExMzQyWjAaMRgwFgYDVQQDEw9ub3djb25uZWN0LXRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC"
                + "AATzERRkmOgvxLbmPRp5n6TMGxnGDcmMxXMvwVODZnoo7UxlSq5qwCLm9IPDGyizfVe6ZOxJ+fI8KabrP/4L96SVoyEwHzAdBgNVHQ4EFgQU"
                + "H6958rGVutHLvh9ueNH+s6ZO6/wwCgYIKoZIzj0EAwMDSAAwRQIgVqwyD2FDobdf4RvWj+yWI/rHIG9K81Fn8g1t7EdK9l8CIQDB6SFE+MoM"
                + "Hm+eXSbiqbLlAzK6+IvSVotBoZc9lZJkQA==";
        Path file = Files.writeString(dir.resolve("cert.pem"),
                                      TestTokens.pem("CERTIFICATE", Base64.getDecoder().decode(certificate)));
        PrivateKey key = KeyFactory.getInstance("EC")
                .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(privateKey)));
        TokenVerifier verifier = TokenVerifier.create(Optional.empty(), Optional.of(file), AUDIENCE);

        assertThat(verifier.verify(TestTokens.pki("ES256", null, key, claims())).agentId(), is("agent-1"));
        assertReason(verifier, TestTokens.pki("ES256", null, ec256.getPrivate(), claims()), "bad_signature");
    }

    @Test
    void certificatePemIsRefusedWhenNotACertificate() throws Exception {
        Path file = dir.resolve("cert.pem");
        Files.writeString(file, TestTokens.pem("CERTIFICATE", rsa.getPublic().getEncoded()));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TokenVerifier.create(Optional.empty(), Optional.of(file), AUDIENCE));
        assertThat(e.getMessage(), containsString("NC_HUB_JWKS_FILE"));
    }

    @Test
    void es256ViaJwks() throws Exception {
        Path file = dir.resolve("ec.json");
        Files.writeString(file, TestTokens.jwks(TestTokens.ecJwk((ECPublicKey) ec256.getPublic(), "ec-1", "P-256", 32),
                                                TestTokens.rsaJwk((RSAPublicKey) rsa.getPublic(), "rsa-1", "RS256")));
        TokenVerifier verifier = TokenVerifier.create(Optional.empty(), Optional.of(file), AUDIENCE);

        assertThat(verifier.verify(TestTokens.pki("ES256", "ec-1", ec256.getPrivate(), claims())).agentId(),
                   is("agent-1"));
        assertThat(verifier.verify(TestTokens.pki("RS256", "rsa-1", rsa.getPrivate(), claims())).agentId(),
                   is("agent-1"));
        assertReason(verifier, TestTokens.pki("ES256", "rsa-1", ec256.getPrivate(), claims()), "unknown_key");
        KeyPair otherEc = TestTokens.ec("secp256r1");
        assertReason(verifier, TestTokens.pki("ES256", "ec-1", otherEc.getPrivate(), claims()), "bad_signature");
    }

    @Test
    void es384ViaPem() throws Exception {
        KeyPair ec384 = TestTokens.ec("secp384r1");
        Path file = dir.resolve("ec.pem");
        Files.writeString(file, TestTokens.pem("PUBLIC KEY", ec384.getPublic().getEncoded()));
        TokenVerifier verifier = TokenVerifier.create(Optional.empty(), Optional.of(file), AUDIENCE);

        assertThat(verifier.verify(TestTokens.pki("ES384", null, ec384.getPrivate(), claims())).agentId(), is("agent-1"));
        assertReason(verifier, TestTokens.pki("ES256", null, ec256.getPrivate(), claims()), "alg_not_allowed");
    }

    @Test
    void bothKeysConfiguredAcceptEither() throws Exception {
        TokenVerifier verifier = bothVerifier();

        assertThat(verifier.verify(hs256(SECRET, claims())).agentId(), is("agent-1"));
        assertThat(verifier.verify(TestTokens.pki("RS256", "rsa-1", rsa.getPrivate(), claims())).agentId(),
                   is("agent-1"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "a.b", "a.b.c", "a.b.c.d", "...", "!!!.@@@.###", "eyJhbGciOiJIUzI1NiJ9.bm90anNvbg.c2ln",
        "bm90anNvbg.eyJhIjoxfQ.c2ln", "eyJhbGciOiJIUzI1NiJ9.WzEsMl0.c2ln", "eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.%%%",
        "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOiJzb29uIn0.c2ln", "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOlsxLDJdfQ.c2ln",
        " eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.c2ln", "eyJhbGciOjQyfQ.eyJhIjoxfQ.c2ln", "eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.c2ln=="})
    void malformedTokensAreRefusedCleanly(String token) throws Exception {
        AuthException e = assertThrows(AuthException.class, () -> bothVerifier().verify(token));

        assertThat(e.status(), is(401));
        assertThat(e.getMessage(), not(containsString(token.strip())));
    }

    @Test
    void missingAndOversizedTokens() throws Exception {
        assertReason(hsVerifier(), "", "missing_token");
        assertReason(hsVerifier(), "   ", "missing_token");
        assertReason(hsVerifier(), null, "missing_token");
        assertReason(hsVerifier(), "a".repeat(20_000) + ".b.c", "malformed");
    }

    @Test
    void signatureFromOtherKeyOfWrongLengthIsRefused() throws Exception {
        String token = TestTokens.pki("RS256", null, rsa.getPrivate(), claims());
        String[] parts = token.split("\\.");

        assertReason(bothVerifier(), parts[0] + "." + parts[1] + ".AAAA", "bad_signature");
        assertReason(bothVerifier(), parts[0] + "." + parts[1] + ".", "bad_signature");
    }

    @Test
    void criticalHeaderIsRefused() throws Exception {
        Map<String, Object> header = TestTokens.header("HS256", null);
        header.put("crit", List.of("exp"));

        assertReason(hsVerifier(), TestTokens.hmac("HS256", SECRET, header, claims()), "malformed");
    }

    @Test
    void bearerExtractsToken() {
        assertThat(TokenVerifier.bearer("Bearer abc.def.ghi"), is(Optional.of("abc.def.ghi")));
        assertThat(TokenVerifier.bearer("bearer abc"), is(Optional.of("abc")));
        assertThat(TokenVerifier.bearer("  BEARER   abc  "), is(Optional.of("abc")));
        assertThat(TokenVerifier.bearer("Basic dXNlcjpwYXNz"), is(Optional.empty()));
        assertThat(TokenVerifier.bearer("Bearer"), is(Optional.empty()));
        assertThat(TokenVerifier.bearer("Bearer "), is(Optional.empty()));
        assertThat(TokenVerifier.bearer("Bearer a b"), is(Optional.empty()));
        assertThat(TokenVerifier.bearer("Bearerabc"), is(Optional.empty()));
        assertThat(TokenVerifier.bearer(""), is(Optional.empty()));
        assertThat(TokenVerifier.bearer(null), is(Optional.empty()));
    }

    @Test
    void badConfigurationNamesTheVariable() throws Exception {
        Path missing = dir.resolve("missing");
        Path blank = Files.writeString(dir.resolve("blank"), " \n\t\n");
        Path garbage = Files.writeString(dir.resolve("garbage"), "not a key");
        Path badJson = Files.writeString(dir.resolve("bad.json"), "{\"keys\": [");
        Path noKeys = Files.writeString(dir.resolve("nokeys.json"), "{\"foo\": 1}");
        Path emptyKeys = Files.writeString(dir.resolve("empty.json"), "{\"keys\": []}");
        Path octKey = Files.writeString(dir.resolve("oct.json"),
                                        "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}]}");
        Path badRsa = Files.writeString(dir.resolve("badrsa.json"), "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\"}]}");
        Path encOnly = Files.writeString(dir.resolve("enc.json"), TestTokens.jwks(
                withUse(TestTokens.rsaJwk((RSAPublicKey) rsa.getPublic(), "r", null), "enc")));
        Path privatePem = Files.writeString(dir.resolve("private.pem"),
                                            TestTokens.pem("PRIVATE KEY", rsa.getPrivate().getEncoded()));
        Path badPem = Files.writeString(dir.resolve("bad.pem"), TestTokens.pem("PUBLIC KEY", new byte[] {1, 2, 3}));

        assertConfigError(Optional.empty(), Optional.empty(), "NC_HUB_JWT_SECRET_FILE");
        assertConfigError(Optional.of(missing), Optional.empty(), "NC_HUB_JWT_SECRET_FILE");
        assertConfigError(Optional.of(blank), Optional.empty(), "NC_HUB_JWT_SECRET_FILE");
        assertThat(assertConfigError(Optional.of(blank), Optional.empty(), "NC_HUB_JWT_SECRET_FILE").getMessage(),
                   containsString("no secret contents"));
        assertConfigError(Optional.of(dir), Optional.empty(), "NC_HUB_JWT_SECRET_FILE");
        for (Path jwks : List.of(missing, blank, garbage, badJson, noKeys, emptyKeys, octKey, badRsa, encOnly, privatePem,
                                 badPem)) {
            assertConfigError(Optional.empty(), Optional.of(jwks), "NC_HUB_JWKS_FILE");
            assertConfigError(Optional.of(secretFile()), Optional.of(jwks), "NC_HUB_JWKS_FILE");
        }
    }

    @Test
    void secretNeverAppearsInConfigErrors() throws Exception {
        Path jwks = Files.writeString(dir.resolve("oct.json"),
                                      "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c3VwZXItc2VjcmV0\"}]}");

        IllegalArgumentException e = assertConfigError(Optional.empty(), Optional.of(jwks), "NC_HUB_JWKS_FILE");
        assertThat(e.getMessage(), not(containsString("c3VwZXItc2VjcmV0")));
    }

    @Test
    void connectorsClaimIsReadAsTheAgentsScope() throws Exception {
        Map<String, Object> scoped = claims();
        scoped.put("connectors", List.of("ldap", "db", "ldap"));
        assertThat(hsVerifier().verify(hs256(SECRET, scoped)).connectors(), is(Optional.of(List.of("ldap", "db"))));
        assertThat(hsVerifier().verify(hs256(SECRET, claims())).connectors(), is(Optional.empty()));
        Map<String, Object> none = claims();
        none.put("connectors", List.of());
        assertThat("an empty claim allows nothing", hsVerifier().verify(hs256(SECRET, none)).connectors(),
                   is(Optional.of(List.of())));

        for (Object bad : List.of("ldap", 7, List.of(1), List.of(""), List.of("ldap", List.of("db")), Map.of("a", 1))) {
            Map<String, Object> c = claims();
            c.put("connectors", bad);
            assertReason(hsVerifier(), hs256(SECRET, c), "bad_connectors_claim");
        }
    }

    @Test
    void requiredConnectorsClaimRefusesTokensWithoutItWith403() throws Exception {
        TokenVerifier strict = TokenVerifier.create(Optional.of(secretFile()), Optional.empty(), AUDIENCE,
                                                    Optional.empty(), true);
        String unscoped = hs256(SECRET, claims());
        AuthException e = assertThrows(AuthException.class, () -> strict.verify(unscoped));
        assertThat(e.status(), is(403));
        assertThat(e.reason(), is("connectors_claim_required"));

        Map<String, Object> scoped = claims();
        scoped.put("connectors", List.of("ldap"));
        assertThat(strict.verify(hs256(SECRET, scoped)).connectors(), is(Optional.of(List.of("ldap"))));
        // the control: without the flag the same unscoped token passes
        assertThat(hsVerifier().verify(unscoped).agentId(), is("agent-1"));
    }

    @Test
    void configuredIssuerIsRequiredAndMustMatch() throws Exception {
        TokenVerifier withIssuer = TokenVerifier.create(Optional.of(secretFile()), Optional.empty(), AUDIENCE,
                                                        Optional.of("https://issuer.example"), false);
        assertReason(withIssuer, hs256(SECRET, claims()), "missing_issuer");
        Map<String, Object> other = claims();
        other.put("iss", "https://other.example");
        assertReason(withIssuer, hs256(SECRET, other), "wrong_issuer");
        Map<String, Object> right = claims();
        right.put("iss", "https://issuer.example");
        assertThat(withIssuer.verify(hs256(SECRET, right)).issuer(), is(Optional.of("https://issuer.example")));
        // without NC_HUB_ISSUER any iss (or none) passes
        assertThat(hsVerifier().verify(hs256(SECRET, other)).issuer(), is(Optional.of("https://other.example")));
    }

    @Test
    void mintedScopedTokenCarriesConnectorsAndIssuer() throws Exception {
        String token = TokenMinter.mintHs256(SECRET, "agent-3", Duration.ofMinutes(5), AUDIENCE, List.of("ldap", "db"),
                                             Optional.of("hub-issuer"));
        assertThat(TestTokens.decodePart(token, 1).get("connectors"), is(List.of("ldap", "db")));
        TokenVerifier verifier = TokenVerifier.create(Optional.of(secretFile()), Optional.empty(), AUDIENCE,
                                                      Optional.of("hub-issuer"), true);
        Claims claims = verifier.verify(token);
        assertThat(claims.connectors(), is(Optional.of(List.of("ldap", "db"))));
        assertThat(claims.issuer(), is(Optional.of("hub-issuer")));
    }

    @Test
    void shortSecretIsRefusedAndNotQuoted() throws Exception {
        String weak = "only-thirty-one-bytes-of-secret";
        assertThat(weak.length(), is(31));
        Path file = Files.writeString(dir.resolve("weak.secret"), weak + "\n");
        IllegalArgumentException e = assertConfigError(Optional.of(file), Optional.empty(), "NC_HUB_JWT_SECRET_FILE");
        assertThat(e.getMessage(), containsString("31-byte secret"));
        assertThat(e.getMessage(), containsString("at least 32 bytes"));
        assertThat(e.getMessage(), not(containsString(weak)));
        // 32 bytes is enough
        Path enough = Files.writeString(dir.resolve("ok.secret"), weak + "!");
        assertThat(TokenVerifier.keyProblems(Optional.of(enough), Optional.empty()), is(List.of()));
    }

    @Test
    void rsaKeyUnder2048BitsIsRefused() throws Exception {
        java.security.KeyPairGenerator generator = java.security.KeyPairGenerator.getInstance("RSA");
        generator.initialize(1024);
        RSAPublicKey small = (RSAPublicKey) generator.generateKeyPair().getPublic();
        Path pem = Files.writeString(dir.resolve("small.pem"), TestTokens.pem("PUBLIC KEY", small.getEncoded()));
        Path jwks = Files.writeString(dir.resolve("small.json"),
                                      TestTokens.jwks(TestTokens.rsaJwk(small, "small", "RS256")));
        for (Path file : List.of(pem, jwks)) {
            IllegalArgumentException e = assertConfigError(Optional.empty(), Optional.of(file), "NC_HUB_JWKS_FILE");
            assertThat(e.getMessage(), containsString("1024-bit RSA key"));
        }
        // both files' problems are listed together, for configuration validation
        Path weakSecret = Files.writeString(dir.resolve("weak.secret"), "short");
        List<String> problems = TokenVerifier.keyProblems(Optional.of(weakSecret), Optional.of(jwks));
        assertThat(problems.toString(), problems.size(), is(2));
        assertThat(problems.get(0), containsString("NC_HUB_JWT_SECRET_FILE"));
        assertThat(problems.get(1), containsString("NC_HUB_JWKS_FILE"));
        // the 2048-bit keys of the other tests pass
        assertThat(TokenVerifier.keyProblems(Optional.empty(), Optional.of(rsaJwksFile())), is(List.of()));
    }

    private static Map<String, Object> withUse(Map<String, Object> jwk, String use) {
        jwk.put("use", use);
        return jwk;
    }

    private IllegalArgumentException assertConfigError(Optional<Path> secret, Optional<Path> jwks, String variable) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                                                  () -> TokenVerifier.create(secret, jwks, AUDIENCE));
        assertThat(e.getMessage(), containsString(variable));
        return e;
    }

    private static AuthException assertReason(TokenVerifier verifier, String token, String reason) {
        AuthException e = assertThrows(AuthException.class, () -> verifier.verify(token));
        assertThat(e.getMessage(), e.reason(), is(reason));
        assertThat(e.status(), is(401));
        if (token != null && !token.isBlank()) {
            assertThat(e.getMessage(), not(containsString(token)));
        }
        return e;
    }

    private Path secretFile() throws Exception {
        return Files.write(dir.resolve("hs.secret"), SECRET);
    }

    private Path rsaPemFile() throws Exception {
        return Files.writeString(dir.resolve("rsa.pem"), TestTokens.pem("PUBLIC KEY", rsa.getPublic().getEncoded()));
    }

    private Path rsaJwksFile() throws Exception {
        return Files.writeString(dir.resolve("rsa.json"),
                                 TestTokens.jwks(TestTokens.rsaJwk((RSAPublicKey) rsa.getPublic(), "rsa-1", "RS256")));
    }

    private TokenVerifier hsVerifier() throws Exception {
        return TokenVerifier.create(Optional.of(secretFile()), Optional.empty(), AUDIENCE);
    }

    private TokenVerifier bothVerifier() throws Exception {
        return TokenVerifier.create(Optional.of(secretFile()), Optional.of(rsaJwksFile()), AUDIENCE);
    }
}
