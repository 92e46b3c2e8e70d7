package io.nowconnect.hub.auth;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.helidon.security.jwt.Jwt;
import io.helidon.security.jwt.SignedJwt;
import io.helidon.security.jwt.jwk.Jwk;

import jakarta.json.JsonArray;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

/**
 * Verifies the bearer JWT a premise agent presents to the hub, so that only agents holding a token from a trusted key
 * can open a tunnel.
 *
 * <p>Keys: an HS256 shared secret ({@code NC_HUB_JWT_SECRET_FILE}) and/or public keys ({@code NC_HUB_JWKS_FILE}: a
 * JWKS document or a PEM public key / certificate, RSA or EC). A token's {@code alg} decides which keys may verify
 * it and every key verifies only its own family: HS256 only with the secret; RS256/384/512 only with RSA keys;
 * ES256/384/512 only with EC keys of the matching curve. {@code alg=none}, any other algorithm, and HS256 when no
 * secret is configured are refused, which rules out algorithm confusion (an HS256 token MACed with a public key).
 *
 * <p>Key choice: a token {@code kid} that names JWKS keys selects those; an unknown {@code kid} falls back to keys
 * without an id (the PEM key, kid-less JWKS keys, the secret); a token without {@code kid} may be verified by any
 * configured key of its algorithm.
 *
 * <p>Claims: {@code exp} is required, {@code nbf} is honoured when present, both with a {@value #LEEWAY_SECONDS}
 * second leeway for clock skew; {@code iat} is not required; {@code aud} (string or array) must contain the
 * configured audience; {@code iss} must equal the configured issuer when one is configured; {@code agent_id} must be
 * a non-blank string; {@code connectors}, when present, must be an array of strings (the connectors the agent may
 * serve, see {@link ConnectorScope}), and may be required. Instances are immutable and thread safe.
 *
 * <p>Key strength: an HS256 secret under {@value KeyStrength#MIN_SECRET_BYTES} bytes and RSA keys under
 * {@value KeyStrength#MIN_RSA_BITS} bits are refused when the verifier is created.
 *
 * <p>Rotation and revocation: the keys come from a {@link KeySource} asked on every token, so a key file the hub reads
 * again ({@link FileKeySource}) takes effect for the next upgrade; the secret file may hold several secrets (one per
 * line, newest first) and the JWKS several keys with {@code kid}. {@link #standing} tells a live tunnel whether the key
 * that admitted it is still there and whether its token was revoked ({@link Revocations}).
 */
public final class TokenVerifier {
    /** Variable naming the HS256 secret file, used in configuration error messages. */
    public static final String SECRET_FILE_VAR = "NC_HUB_JWT_SECRET_FILE";
    /** Variable naming the JWKS or PEM file, used in configuration error messages. */
    public static final String JWKS_FILE_VAR = "NC_HUB_JWKS_FILE";
    /** Clock skew tolerated when checking {@code exp} and {@code nbf}, in seconds. */
    public static final long LEEWAY_SECONDS = 30;

    private static final Duration LEEWAY = Duration.ofSeconds(LEEWAY_SECONDS);
    private static final int MAX_TOKEN_CHARS = 16 * 1024;
    private static final Pattern BEARER = Pattern.compile("(?i)bearer[ \\t]+(\\S+)\\s*");

    /** What a live tunnel's token is worth now. */
    public enum Standing {
        /** Its key is trusted and it is not revoked. */
        GOOD,
        /** The key that verified it is no longer in the key set: the tunnel ends as if its token had expired. */
        KEY_REMOVED,
        /** Its {@code jti} or {@code agent_id} is on the revocation list: the tunnel ends now. */
        REVOKED
    }

    private final KeySource keys;
    private final Revocations revocations;
    private final String audience;
    private final Optional<String> issuer;
    private final boolean requireConnectorsClaim;
    private final Clock clock;

    private TokenVerifier(KeySource keys, Revocations revocations, String audience, Optional<String> issuer,
                          boolean requireConnectorsClaim, Clock clock) {
        this.keys = keys;
        this.revocations = revocations;
        this.audience = audience;
        this.issuer = issuer;
        this.requireConnectorsClaim = requireConnectorsClaim;
        this.clock = clock;
    }

    /**
     * Create a verifier from key files read once; at least one must be given, and both may be.
     *
     * @param hs256SecretFile file holding the HS256 secrets, one per line (see {@link TokenMinter#readSecrets(Path)})
     * @param jwksOrPemFile   JWKS JSON file ({@code {"keys":[...]}}) or PEM public key/certificate (RSA or EC)
     * @param audience        audience every token's {@code aud} must contain
     * @return a new verifier
     * @throws IllegalArgumentException if neither file is given, or one cannot be read or holds no usable key; the
     *                                  message names the variable ({@value #SECRET_FILE_VAR} or {@value #JWKS_FILE_VAR})
     */
    public static TokenVerifier create(Optional<Path> hs256SecretFile, Optional<Path> jwksOrPemFile, String audience) {
        return create(hs256SecretFile, jwksOrPemFile, audience, Optional.empty(), false, Clock.systemUTC());
    }

    /**
     * Create a verifier from key files read once that also checks the issuer and may require the {@code connectors}
     * claim.
     *
     * @param hs256SecretFile        file holding the HS256 secrets, one per line
     * @param jwksOrPemFile          JWKS JSON file or PEM public key/certificate (RSA or EC)
     * @param audience               audience every token's {@code aud} must contain
     * @param issuer                 when present, every token's {@code iss} must equal it ({@code NC_HUB_ISSUER})
     * @param requireConnectorsClaim whether a token without a {@code connectors} claim is refused with 403
     *                               ({@code NC_HUB_REQUIRE_CONNECTORS_CLAIM})
     * @return a new verifier
     * @throws IllegalArgumentException as {@link #create(Optional, Optional, String)}
     */
    public static TokenVerifier create(Optional<Path> hs256SecretFile, Optional<Path> jwksOrPemFile, String audience,
                                       Optional<String> issuer, boolean requireConnectorsClaim) {
        return create(hs256SecretFile, jwksOrPemFile, audience, issuer, requireConnectorsClaim, Clock.systemUTC());
    }

    /**
     * Create a verifier over key sources that may change (files the hub watches, later a JWKS URL) and a revocation
     * list.
     *
     * @param keys                   the trusted keys, asked for on every token and every live-tunnel check
     * @param revocations            revoked {@code jti} and {@code agent_id} values
     * @param audience               audience every token's {@code aud} must contain
     * @param issuer                 when present, every token's {@code iss} must equal it
     * @param requireConnectorsClaim whether a token without a {@code connectors} claim is refused with 403
     * @return a new verifier
     */
    public static TokenVerifier create(KeySource keys, Revocations revocations, String audience, Optional<String> issuer,
                                       boolean requireConnectorsClaim) {
        return create(keys, revocations, audience, issuer, requireConnectorsClaim, Clock.systemUTC());
    }

    static TokenVerifier create(Optional<Path> hs256SecretFile, Optional<Path> jwksOrPemFile, String audience,
                                Clock clock) {
        return create(hs256SecretFile, jwksOrPemFile, audience, Optional.empty(), false, clock);
    }

    static TokenVerifier create(Optional<Path> hs256SecretFile, Optional<Path> jwksOrPemFile, String audience,
                                Optional<String> issuer, boolean requireConnectorsClaim, Clock clock) {
        Objects.requireNonNull(hs256SecretFile, "hs256SecretFile");
        Objects.requireNonNull(jwksOrPemFile, "jwksOrPemFile");
        if (hs256SecretFile.isEmpty() && jwksOrPemFile.isEmpty()) {
            throw new IllegalArgumentException("no JWT key configured: set " + SECRET_FILE_VAR + " and/or " + JWKS_FILE_VAR);
        }
        List<KeySource> sources = new ArrayList<>();
        hs256SecretFile.ifPresent(file -> sources.add(FileKeySource.secretFile(file)));
        jwksOrPemFile.ifPresent(file -> sources.add(FileKeySource.jwksFile(file)));
        return create(KeySource.union(sources), Revocations.none(), audience, issuer, requireConnectorsClaim, clock);
    }

    static TokenVerifier create(KeySource keys, Revocations revocations, String audience, Optional<String> issuer,
                                boolean requireConnectorsClaim, Clock clock) {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(revocations, "revocations");
        Objects.requireNonNull(issuer, "issuer");
        if (audience == null || audience.isBlank()) {
            throw new IllegalArgumentException("JWT audience must not be blank");
        }
        return new TokenVerifier(keys, revocations, audience, issuer.filter(i -> !i.isBlank()), requireConnectorsClaim,
                                 clock);
    }

    /**
     * Every problem with the key files, each naming its variable, without building a verifier: for configuration
     * validation, which lists all problems at once. Unreadable files, files without a usable key and weak keys
     * (see {@link KeyStrength}) are problems.
     *
     * @param hs256SecretFile the HS256 secret file, if configured
     * @param jwksOrPemFile   the JWKS or PEM file, if configured
     * @return the problems, empty when both files are usable
     */
    public static List<String> keyProblems(Optional<Path> hs256SecretFile, Optional<Path> jwksOrPemFile) {
        List<String> problems = new ArrayList<>();
        try {
            hs256SecretFile.ifPresent(KeyFiles::secrets);
        } catch (IllegalArgumentException e) {
            problems.add(e.getMessage());
        }
        try {
            jwksOrPemFile.ifPresent(KeyFiles::publicKeys);
        } catch (IllegalArgumentException e) {
            problems.add(e.getMessage());
        }
        return problems;
    }

    /**
     * Extract the token from an {@code Authorization} header value of the form {@code Bearer <token>}; the scheme is
     * matched case-insensitively.
     *
     * @param authorizationHeaderValue header value, may be {@code null}
     * @return the token, or empty if the value is absent, uses another scheme or has no token
     */
    public static Optional<String> bearer(String authorizationHeaderValue) {
        if (authorizationHeaderValue == null) {
            return Optional.empty();
        }
        Matcher matcher = BEARER.matcher(authorizationHeaderValue.strip());
        return matcher.matches() ? Optional.of(matcher.group(1)) : Optional.empty();
    }

    /**
     * Verify a compact JWT and return its claims.
     *
     * @param token the compact token, without the {@code Bearer} prefix
     * @return the verified claims
     * @throws AuthException with status 401 and a {@link AuthException#reason()} if the token is missing, malformed,
     *                       signed with a disallowed algorithm or unknown key, badly signed, expired, not yet valid,
     *                       for another audience or issuer, without {@code agent_id} or with a malformed
     *                       {@code connectors} claim; with status 403 ({@code connectors_claim_required}) if the
     *                       {@code connectors} claim is required and absent
     */
    public Claims verify(String token) throws AuthException {
        return verifyToken(token).claims();
    }

    /**
     * Verify a compact JWT and return its claims with the key that verified it, and refuse a revoked one.
     *
     * @param token the compact token, without the {@code Bearer} prefix
     * @return the verified token
     * @throws AuthException as {@link #verify(String)}, and with status 401 and reason {@value Revocations#REASON}
     *                       when its {@code jti} or {@code agent_id} is on the revocation list
     */
    public VerifiedToken verifyToken(String token) throws AuthException {
        if (token == null || token.isBlank()) {
            throw AuthException.unauthorized("missing_token", "no bearer token");
        }
        if (token.length() > MAX_TOKEN_CHARS) {
            throw AuthException.unauthorized("malformed", "token too long");
        }
        SignedJwt signed;
        Jwt jwt;
        try {
            // Helidon's parse errors quote the token, so they are dropped, not wrapped
            signed = SignedJwt.parseToken(token);
            jwt = signed.getJwt();
        } catch (RuntimeException e) {
            throw AuthException.unauthorized("malformed", "token is not a well-formed signed JWT");
        }
        if (jwt.headerClaim("crit").isPresent()) {
            throw AuthException.unauthorized("malformed", "critical JWT header extensions are not supported");
        }
        VerificationKey key = verifySignature(signed, jwt);
        Claims claims = checkClaims(jwt);
        if (revocations.revoked(claims)) {
            throw AuthException.unauthorized(Revocations.REASON, "token revoked: its jti or agent_id is on "
                    + Revocations.VARIABLE);
        }
        return new VerifiedToken(claims, key.fingerprint());
    }

    /**
     * What a token that verified earlier (a live tunnel's) is worth now: revoked, verified by a key that has since
     * been removed, or still good. Cheap (set lookups): called every second for every tunnel.
     *
     * @param token the token as it verified
     * @return its standing
     */
    public Standing standing(VerifiedToken token) {
        if (revocations.revoked(token.claims())) {
            return Standing.REVOKED;
        }
        return keys.keys().holds(token.key()) ? Standing.GOOD : Standing.KEY_REMOVED;
    }

    private VerificationKey verifySignature(SignedJwt signed, Jwt jwt) throws AuthException {
        String alg = jwt.algorithm().orElse(Jwk.ALG_NONE);
        KeySet trusted = keys.keys();
        if (trusted.size() == 0) {
            // a JWKS URL not fetched yet: /readyz says DOWN meanwhile, so a balancer sends agents elsewhere
            throw AuthException.unauthorized("no_keys", "the hub holds no verification keys yet");
        }
        if (!trusted.algorithms().contains(alg)) {
            throw AuthException.unauthorized("alg_not_allowed", "token algorithm " + printable(alg) + " is not accepted");
        }
        List<VerificationKey> candidates = trusted.candidates(alg, jwt.keyId());
        if (candidates.isEmpty() && jwt.keyId().isPresent()) {
            // a provider that rotated: its JWKS may name the key by now (a JWKS URL looks again, rate limited)
            candidates = keys.refreshFor(jwt.keyId().get()).candidates(alg, jwt.keyId());
        }
        if (candidates.isEmpty()) {
            throw AuthException.unauthorized("unknown_key", "no " + alg + " key with the token's key id");
        }
        byte[] signedBytes = signed.getSignedBytes();
        byte[] signature = signed.getSignature();
        for (VerificationKey key : candidates) {
            if (verifies(key.jwk(), signedBytes, signature)) {
                return key;
            }
        }
        throw AuthException.unauthorized("bad_signature", "token signature is not valid");
    }

    private Claims checkClaims(Jwt jwt) throws AuthException {
        Instant now = clock.instant();
        Instant expiresAt = jwt.expirationTime()
                .orElseThrow(() -> AuthException.unauthorized("missing_exp", "token has no exp claim"));
        if (!now.isBefore(expiresAt.plus(LEEWAY))) {
            throw AuthException.unauthorized("expired", "token expired at " + expiresAt);
        }
        Optional<Instant> notBefore = jwt.notBefore();
        if (notBefore.isPresent() && now.plus(LEEWAY).isBefore(notBefore.get())) {
            throw AuthException.unauthorized("not_yet_valid", "token not valid before " + notBefore.get());
        }
        List<String> aud = jwt.audience().orElse(List.of());
        if (!aud.contains(audience)) {
            throw AuthException.unauthorized("wrong_audience", "token audience does not include the hub's audience");
        }
        Optional<String> iss = jwt.issuer();
        if (issuer.isPresent()) {
            if (iss.isEmpty()) {
                throw AuthException.unauthorized("missing_issuer", "token has no iss claim");
            }
            if (!issuer.get().equals(iss.get())) {
                throw AuthException.unauthorized("wrong_issuer", "token issuer is not the hub's issuer");
            }
        }
        Optional<JsonValue> agentId = jwt.payloadClaim(TokenMinter.AGENT_ID_CLAIM);
        if (agentId.isEmpty() || !(agentId.get() instanceof JsonString agent) || agent.getString().isBlank()) {
            throw AuthException.unauthorized("missing_agent_id", "token has no agent_id string claim");
        }
        Optional<List<String>> connectors = connectors(jwt);
        if (connectors.isEmpty() && requireConnectorsClaim) {
            throw AuthException.forbidden("connectors_claim_required",
                                          "token has no connectors claim and the hub requires one");
        }
        return new Claims(agent.getString(), jwt.subject(), jwt.jwtId(), expiresAt, aud, iss, connectors);
    }

    /** The {@code connectors} claim: absent, or an array of non-blank strings. */
    private static Optional<List<String>> connectors(Jwt jwt) throws AuthException {
        Optional<JsonValue> claim = jwt.payloadClaim(Claims.CONNECTORS_CLAIM);
        if (claim.isEmpty() || claim.get().getValueType() == JsonValue.ValueType.NULL) {
            return Optional.empty();
        }
        if (!(claim.get() instanceof JsonArray array)) {
            throw AuthException.unauthorized("bad_connectors_claim", "token connectors claim is not an array");
        }
        List<String> names = new ArrayList<>();
        for (JsonValue value : array) {
            if (!(value instanceof JsonString name) || name.getString().isBlank()) {
                throw AuthException.unauthorized("bad_connectors_claim",
                                                 "token connectors claim holds something other than names");
            }
            names.add(name.getString());
        }
        return Optional.of(names);
    }

    private static boolean verifies(Jwk jwk, byte[] signedBytes, byte[] signature) {
        try {
            return jwk.verifySignature(signedBytes, signature);
        } catch (RuntimeException e) {
            // e.g. an ECDSA signature of the wrong length, or a key whose "use"/"key_ops" forbid verification
            return false;
        }
    }

    private static String printable(String alg) {
        String clean = alg.length() > 16 ? alg.substring(0, 16) : alg;
        return clean.chars().allMatch(c -> c >= 0x21 && c < 0x7F) ? clean : "(unprintable)";
    }
}
