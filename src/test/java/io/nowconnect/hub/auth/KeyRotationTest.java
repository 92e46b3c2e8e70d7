package io.nowconnect.hub.auth;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import io.nowconnect.log.Event;
import io.nowconnect.testkit.LogCapture;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.nowconnect.hub.auth.TestTokens.AUDIENCE;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Key sets that change under a verifier: several HS256 secrets in one file, JWKS keys added and removed by
 * {@code kid}, a file that turns bad (the last good keys stay, the error names no key), and the revocation list by
 * {@code jti} and by {@code agent_id}. The hub-level behaviour (watched files, live tunnels) is in
 * {@code e2e.KeyRotationEndToEndTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KeyRotationTest {
    private static final String OLD = "old-secret-old-secret-old-secret-0001";
    private static final String NEW = "new-secret-new-secret-new-secret-0002";
    private static KeyPair ec1;
    private static KeyPair ec2;

    @TempDir
    Path dir;

    private LogCapture capture;
    private List<LogRecord> records;

    @BeforeAll
    static void keys() throws Exception {
        ec1 = TestTokens.ec("secp256r1");
        ec2 = TestTokens.ec("secp256r1");
    }

    @BeforeEach
    void listen() {
        capture = new LogCapture();
        records = capture.records;
    }

    @AfterEach
    void stopListening() {
        capture.close();
    }

    @Test
    void secretFileRotation() throws Exception {
        Path file = Files.writeString(dir.resolve("hub.secret"), OLD + "\n");
        FileKeySource secrets = FileKeySource.secretFile(file);
        TokenVerifier verifier = TokenVerifier.create(secrets, Revocations.none(), AUDIENCE, Optional.empty(), false);
        String oldToken = TokenMinter.mintHs256(OLD.getBytes(StandardCharsets.UTF_8), "a", Duration.ofHours(1), AUDIENCE);
        VerifiedToken live = verifier.verifyToken(oldToken);

        // add the new secret, newest first: both verify, and the token command signs with the new one
        Files.writeString(file, NEW + "\r\n\n" + OLD + "\n");
        assertThat(secrets.reload(), is(true));
        assertThat(TokenMinter.readSecret(file), is(NEW.getBytes(StandardCharsets.UTF_8)));
        String newToken = TokenMinter.mintHs256(TokenMinter.readSecret(file), "a", Duration.ofHours(1), AUDIENCE);
        verifier.verify(newToken);
        verifier.verify(oldToken);
        assertThat(verifier.standing(live), is(TokenVerifier.Standing.GOOD));

        // remove the old one: its tokens are refused and the live one has lost its key
        Files.writeString(file, NEW + "\n");
        assertThat(secrets.reload(), is(true));
        VerifiedToken fresh = verifier.verifyToken(newToken);
        AuthException e = assertThrows(AuthException.class, () -> verifier.verify(oldToken));
        assertThat(e.reason(), is("bad_signature"));
        assertThat(verifier.standing(live), is(TokenVerifier.Standing.KEY_REMOVED));
        assertThat(verifier.standing(fresh), is(TokenVerifier.Standing.GOOD));

        // the same secret written again (another order, a blank line) is the same key
        Files.writeString(file, "\n" + NEW + "\n\n");
        secrets.reload();
        assertThat(verifier.standing(fresh), is(TokenVerifier.Standing.GOOD));
    }

    @Test
    void everySecretLineMustBeStrong() throws Exception {
        Path file = Files.writeString(dir.resolve("hub.secret"), NEW + "\nshort-one\n");
        List<String> problems = TokenVerifier.keyProblems(Optional.of(file), Optional.empty());
        assertThat(problems.toString(), problems.size(), is(1));
        assertThat(problems.getFirst(), containsString("NC_HUB_JWT_SECRET_FILE: line 2 of secret file"));
        assertThat(problems.getFirst(), not(containsString("short-one")));
        assertThat(problems.getFirst(), not(containsString(NEW)));
    }

    @Test
    void jwksRotationByKid() throws Exception {
        Path file = dir.resolve("jwks.json");
        Files.writeString(file, TestTokens.jwks(jwk(ec1, "k1")));
        FileKeySource jwks = FileKeySource.jwksFile(file);
        TokenVerifier verifier = TokenVerifier.create(jwks, Revocations.none(), AUDIENCE, Optional.empty(), false);
        String t1 = TestTokens.pki("ES256", "k1", ec1.getPrivate(), TestTokens.claims());
        String t2 = TestTokens.pki("ES256", "k2", ec2.getPrivate(), TestTokens.claims());
        VerifiedToken live = verifier.verifyToken(t1);
        assertThat(assertThrows(AuthException.class, () -> verifier.verify(t2)).reason(), is("unknown_key"));

        Files.writeString(file, TestTokens.jwks(jwk(ec1, "k1"), jwk(ec2, "k2")));
        assertThat(jwks.reload(), is(true));
        VerifiedToken second = verifier.verifyToken(t2);
        assertThat(verifier.standing(live), is(TokenVerifier.Standing.GOOD));

        Files.writeString(file, TestTokens.jwks(jwk(ec2, "k2")));
        assertThat(jwks.reload(), is(true));
        assertThat(assertThrows(AuthException.class, () -> verifier.verify(t1)).reason(), is("unknown_key"));
        assertThat(verifier.standing(live), is(TokenVerifier.Standing.KEY_REMOVED));
        assertThat(verifier.standing(second), is(TokenVerifier.Standing.GOOD));
        LogRecord reloaded = records.stream().filter(r -> "keys_reloaded".equals(field(r, "event"))).toList().getLast();
        assertThat(field(reloaded, "kids"), is("k2"));
        assertThat(field(reloaded, "removed"), is(1));
    }

    @Test
    void aBadNewFileKeepsTheLastGoodKeysAndNamesNoKey() throws Exception {
        Path secretFile = Files.writeString(dir.resolve("hub.secret"), OLD + "\n");
        Path jwksFile = Files.writeString(dir.resolve("jwks.json"), TestTokens.jwks(jwk(ec1, "k1")));
        FileKeySource secrets = FileKeySource.secretFile(secretFile);
        FileKeySource jwks = FileKeySource.jwksFile(jwksFile);
        TokenVerifier verifier = TokenVerifier.create(KeySource.union(List.of(secrets, jwks)), Revocations.none(),
                                                      AUDIENCE, Optional.empty(), false);
        String hsToken = TokenMinter.mintHs256(OLD.getBytes(StandardCharsets.UTF_8), "a", Duration.ofHours(1), AUDIENCE);
        String ecToken = TestTokens.pki("ES256", "k1", ec1.getPrivate(), TestTokens.claims());

        Files.writeString(secretFile, "weak-secret-17-by\n");
        Files.writeString(jwksFile, "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c3VwZXItc2VjcmV0\"}]}");
        assertThat(secrets.reload(), is(false));
        assertThat(jwks.reload(), is(false));
        Files.delete(secretFile);
        assertThat(secrets.reload(), is(false));

        verifier.verify(hsToken);
        verifier.verify(ecToken);
        List<LogRecord> failures = records.stream().filter(r -> "keys_reload_failed".equals(field(r, "event"))).toList();
        assertThat(failures.size(), is(3));
        for (LogRecord r : failures) {
            assertThat(r.getLevel(), is(Level.SEVERE));
            String line = io.nowconnect.log.Logging.formatter(false).format(r);
            System.out.println("[plain] " + line.strip());
            for (String secret : List.of("weak-secret-17-by", OLD, "c3VwZXItc2VjcmV0")) {
                assertThat(line, not(containsString(secret)));
            }
        }
    }

    @Test
    void revocationByJtiAndByAgentId() throws Exception {
        Path file = Files.writeString(dir.resolve("revoked"), "# leaked tokens\n  jti-9   # from the wiki\n\n");
        Revocations revoked = Revocations.read(file);
        Path secretFile = Files.writeString(dir.resolve("hub.secret"), OLD + "\n");
        TokenVerifier verifier = TokenVerifier.create(FileKeySource.secretFile(secretFile), revoked, AUDIENCE,
                                                      Optional.empty(), false);
        byte[] secret = OLD.getBytes(StandardCharsets.UTF_8);
        Map<String, Object> leaked = TestTokens.claims();
        leaked.put("jti", "jti-9");
        AuthException e = assertThrows(AuthException.class, () -> verifier.verify(TestTokens.hs256(secret, leaked)));
        assertThat(e.reason(), is(Revocations.REASON));
        assertThat(e.status(), is(401));

        Map<String, Object> other = TestTokens.claims();
        other.put("agent_id", "agent-2");
        other.put("jti", "jti-10");
        VerifiedToken live = verifier.verifyToken(TestTokens.hs256(secret, other));
        assertThat(verifier.standing(live), is(TokenVerifier.Standing.GOOD));
        Files.writeString(file, "jti-9\nagent-2\n", java.nio.file.StandardOpenOption.APPEND);
        assertThat(revoked.reload(), is(true));
        assertThat(revoked.size(), is(2));
        assertThat(verifier.standing(live), is(TokenVerifier.Standing.REVOKED));

        // a file that grows beyond the bound keeps the last good list
        StringBuilder many = new StringBuilder();
        for (int i = 0; i <= Revocations.MAX_ENTRIES; i++) {
            many.append("j-").append(i).append('\n');
        }
        Files.writeString(file, many);
        assertThat(revoked.reload(), is(false));
        assertThat(verifier.standing(live), is(TokenVerifier.Standing.REVOKED));
        assertThat(Revocations.problems(Optional.of(file)).getFirst(), containsString("NC_HUB_REVOKED_FILE"));
    }

    private static Map<String, Object> jwk(KeyPair pair, String kid) {
        return TestTokens.ecJwk((ECPublicKey) pair.getPublic(), kid, "P-256", 32);
    }

    private static Object field(LogRecord r, String key) {
        Object[] p = r.getParameters();
        return p != null && p.length == 1 && p[0] instanceof Event e ? e.fields().get(key) : null;
    }
}
