package io.nowconnect.hub.auth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

import io.helidon.security.jwt.Jwt;
import io.helidon.security.jwt.SignedJwt;
import io.helidon.security.jwt.jwk.Jwk;
import io.helidon.security.jwt.jwk.JwkOctet;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;

/**
 * Mints HS256 agent tokens from the hub's shared secret, so operators can issue credentials without an identity
 * provider; {@link TokenVerifier} accepts what this produces.
 *
 * <p>The secret is used as raw bytes exactly as {@link #readSecret(Path)} returns them (not base64-decoded), so a
 * secret generated with {@code openssl rand -base64 32 > secret} works as-is on both sides. A secret shorter than
 * {@value KeyStrength#MIN_SECRET_BYTES} bytes is refused.
 */
public final class TokenMinter {
    /** Claim naming the agent; required by the hub. */
    public static final String AGENT_ID_CLAIM = "agent_id";
    /** The only algorithm this class signs with. */
    static final String HS256 = "HS256";

    private TokenMinter() {
    }

    /**
     * Mint a compact HS256 JWT for an agent.
     *
     * <p>Header {@code {"alg":"HS256","typ":"JWT"}}; claims {@code agent_id} and {@code sub} (both the agent id),
     * {@code aud} (as a one-element array), {@code iat}, {@code exp} ({@code iat + ttl}, whole seconds) and a random
     * UUID {@code jti}.
     *
     * @param secret   HMAC key bytes, at least {@value KeyStrength#MIN_SECRET_BYTES}
     * @param agentId  agent id, not blank
     * @param ttl      lifetime, positive
     * @param audience audience the hub expects, not blank
     * @return the token
     * @throws IllegalArgumentException if an argument is invalid
     */
    public static String mintHs256(byte[] secret, String agentId, Duration ttl, String audience) {
        return mintHs256(secret, agentId, ttl, audience, List.of(), Optional.empty(), Instant.now());
    }

    /**
     * Mint a compact HS256 JWT for an agent, scoped to connectors and optionally naming an issuer.
     *
     * <p>As {@link #mintHs256(byte[], String, Duration, String)}, plus the {@code connectors} claim (a JSON array of
     * the names, when {@code connectors} is not empty: the hub then routes only these connectors to the agent) and
     * {@code iss} (when {@code issuer} is present).
     *
     * @param secret     HMAC key bytes, at least {@value KeyStrength#MIN_SECRET_BYTES}
     * @param agentId    agent id, not blank
     * @param ttl        lifetime, positive
     * @param audience   audience the hub expects, not blank
     * @param connectors connectors the agent may serve; empty for a token without the claim
     * @param issuer     the {@code iss} claim, if any
     * @return the token
     * @throws IllegalArgumentException if an argument is invalid
     */
    public static String mintHs256(byte[] secret, String agentId, Duration ttl, String audience, List<String> connectors,
                                   Optional<String> issuer) {
        return mintHs256(secret, agentId, ttl, audience, connectors, issuer, Instant.now());
    }

    /**
     * Read the newest shared secret, the one to sign with: the first of {@link #readSecrets(Path)}.
     *
     * @param file secret file
     * @return secret bytes, never empty
     * @throws IllegalArgumentException as {@link #readSecrets(Path)}
     */
    public static byte[] readSecret(Path file) {
        List<byte[]> secrets = readSecrets(file);
        for (int i = 1; i < secrets.size(); i++) {
            Arrays.fill(secrets.get(i), (byte) 0);
        }
        return secrets.getFirst();
    }

    /**
     * Read the shared secrets of a secret file: one per line, newest first (during a rotation the hub verifies with
     * all of them; the {@code token} command signs with the first). Each line's bytes with surrounding ASCII whitespace
     * (space, tab, CR, FF, VT) removed are used unchanged (text is taken as its UTF-8 bytes; nothing is
     * base64-decoded); blank lines are skipped. A secret therefore cannot contain a line feed.
     *
     * @param file secret file
     * @return the secrets in file order, at least one, none empty
     * @throws IllegalArgumentException if the file cannot be read or holds only whitespace; the message names the
     *                                  file, never its content
     */
    public static List<byte[]> readSecrets(Path file) {
        Objects.requireNonNull(file, "file");
        byte[] raw;
        try {
            raw = Files.readAllBytes(file);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot read secret file " + file + " (" + e.getClass().getSimpleName() + ")");
        }
        List<byte[]> secrets = new ArrayList<>();
        int lineStart = 0;
        for (int i = 0; i <= raw.length; i++) {
            if (i == raw.length || raw[i] == '\n') {
                int start = lineStart;
                int end = i;
                while (start < end && isAsciiSpace(raw[start])) {
                    start++;
                }
                while (end > start && isAsciiSpace(raw[end - 1])) {
                    end--;
                }
                if (end > start) {
                    secrets.add(Arrays.copyOfRange(raw, start, end));
                }
                lineStart = i + 1;
            }
        }
        Arrays.fill(raw, (byte) 0);
        if (secrets.isEmpty()) {
            throw new IllegalArgumentException("secret file " + file + " has no secret contents");
        }
        return secrets;
    }

    static String mintHs256(byte[] secret, String agentId, Duration ttl, String audience, Instant now) {
        return mintHs256(secret, agentId, ttl, audience, List.of(), Optional.empty(), now);
    }

    static String mintHs256(byte[] secret, String agentId, Duration ttl, String audience, List<String> connectors,
                            Optional<String> issuer, Instant now) {
        if (secret == null || secret.length == 0) {
            throw new IllegalArgumentException("secret must not be empty");
        }
        KeyStrength.secretProblem("the secret", secret.length).ifPresent(problem -> {
            throw new IllegalArgumentException(problem);
        });
        if (connectors.stream().anyMatch(c -> c == null || c.isBlank())) {
            throw new IllegalArgumentException("connector names must not be blank");
        }
        if (issuer.isPresent() && issuer.get().isBlank()) {
            throw new IllegalArgumentException("issuer must not be blank");
        }
        if (agentId == null || agentId.isBlank()) {
            throw new IllegalArgumentException("agentId must not be blank");
        }
        if (ttl == null || ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl must be positive");
        }
        if (audience == null || audience.isBlank()) {
            throw new IllegalArgumentException("audience must not be blank");
        }
        Instant issuedAt = Instant.ofEpochSecond(now.getEpochSecond());
        Jwt.Builder builder = Jwt.builder()
                .algorithm(HS256)
                .type("JWT")
                .addPayloadClaim(AGENT_ID_CLAIM, agentId)
                .subject(agentId)
                .addAudience(audience)
                .issueTime(issuedAt)
                .expirationTime(issuedAt.plus(ttl))
                .jwtId(UUID.randomUUID().toString());
        if (!connectors.isEmpty()) {
            JsonArrayBuilder names = Json.createArrayBuilder();
            connectors.stream().distinct().forEach(names::add);
            builder.addPayloadClaim(Claims.CONNECTORS_CLAIM, names.build());
        }
        issuer.ifPresent(builder::issuer);
        return SignedJwt.sign(builder.build(), hmacKey(secret)).tokenContent();
    }

    /**
     * A Helidon HS256 JWK whose HMAC key is exactly {@code secret}. Helidon only builds octet keys from JSON, where
     * {@code k} is the base64url of the key bytes and {@code kid} is mandatory.
     */
    static Jwk hmacKey(byte[] secret) {
        return JwkOctet.create(Json.createObjectBuilder()
                                       .add(Jwk.PARAM_KEY_TYPE, Jwk.KEY_TYPE_OCT)
                                       .add(Jwk.PARAM_KEY_ID, "nowconnect-hs256")
                                       .add(Jwk.PARAM_ALGORITHM, HS256)
                                       .add(JwkOctet.PARAM_OCTET_KEY,
                                            Base64.getUrlEncoder().withoutPadding().encodeToString(secret))
                                       .build());
    }

    private static boolean isAsciiSpace(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == 0x0B;
    }
}
