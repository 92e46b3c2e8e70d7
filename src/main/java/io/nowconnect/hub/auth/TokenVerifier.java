package io.nowconnect.hub.auth;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.helidon.security.jwt.Jwt;
import io.helidon.security.jwt.SignedJwt;
import io.helidon.security.jwt.jwk.Jwk;
import io.helidon.security.jwt.jwk.JwkEC;
import io.helidon.security.jwt.jwk.JwkRSA;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
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
    private static final Set<String> RSA_ALGS = Set.of(JwkRSA.ALG_RS256, JwkRSA.ALG_RS384, JwkRSA.ALG_RS512);
    private static final Set<String> EC_ALGS = Set.of(JwkEC.ALG_ES256, JwkEC.ALG_ES384, JwkEC.ALG_ES512);
    private static final Pattern BEARER = Pattern.compile("(?i)bearer[ \\t]+(\\S+)\\s*");
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

    private final List<Key> keys;
    private final Set<String> algorithms;
    private final String audience;
    private final Optional<String> issuer;
    private final boolean requireConnectorsClaim;
    private final Clock clock;

    private TokenVerifier(List<Key> keys, String audience, Optional<String> issuer, boolean requireConnectorsClaim,
                          Clock clock) {
        this.keys = List.copyOf(keys);
        this.algorithms = Set.copyOf(keys.stream().map(Key::alg).toList());
        this.audience = audience;
        this.issuer = issuer;
        this.requireConnectorsClaim = requireConnectorsClaim;
        this.clock = clock;
    }

    /**
     * Create a verifier from key files; at least one must be given, and both may be.
     *
     * @param hs256SecretFile file holding the HS256 secret, read with {@link TokenMinter#readSecret(Path)}
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
     * Create a verifier from key files that also checks the issuer and may require the {@code connectors} claim.
     *
     * @param hs256SecretFile        file holding the HS256 secret, read with {@link TokenMinter#readSecret(Path)}
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

    static TokenVerifier create(Optional<Path> hs256SecretFile, Optional<Path> jwksOrPemFile, String audience,
                                Clock clock) {
        return create(hs256SecretFile, jwksOrPemFile, audience, Optional.empty(), false, clock);
    }

    static TokenVerifier create(Optional<Path> hs256SecretFile, Optional<Path> jwksOrPemFile, String audience,
                                Optional<String> issuer, boolean requireConnectorsClaim, Clock clock) {
        Objects.requireNonNull(hs256SecretFile, "hs256SecretFile");
        Objects.requireNonNull(jwksOrPemFile, "jwksOrPemFile");
        Objects.requireNonNull(issuer, "issuer");
        if (audience == null || audience.isBlank()) {
            throw new IllegalArgumentException("JWT audience must not be blank");
        }
        if (hs256SecretFile.isEmpty() && jwksOrPemFile.isEmpty()) {
            throw new IllegalArgumentException("no JWT key configured: set " + SECRET_FILE_VAR + " and/or " + JWKS_FILE_VAR);
        }
        List<Key> keys = new ArrayList<>();
        hs256SecretFile.ifPresent(file -> keys.add(secretKey(file)));
        jwksOrPemFile.ifPresent(file -> keys.addAll(publicKeys(file)));
        return new TokenVerifier(keys, audience, issuer.filter(i -> !i.isBlank()), requireConnectorsClaim, clock);
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
            hs256SecretFile.ifPresent(TokenVerifier::secretKey);
        } catch (IllegalArgumentException e) {
            problems.add(e.getMessage());
        }
        try {
            jwksOrPemFile.ifPresent(TokenVerifier::publicKeys);
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
        verifySignature(signed, jwt);
        return checkClaims(jwt);
    }

    private void verifySignature(SignedJwt signed, Jwt jwt) throws AuthException {
        String alg = jwt.algorithm().orElse(Jwk.ALG_NONE);
        if (!algorithms.contains(alg)) {
            throw AuthException.unauthorized("alg_not_allowed", "token algorithm " + printable(alg) + " is not accepted");
        }
        Optional<String> kid = jwt.keyId();
        List<Key> candidates = keys.stream()
                .filter(key -> key.alg().equals(alg))
                .filter(key -> kid.isEmpty() || kid.get().equals(key.kid()))
                .toList();
        if (candidates.isEmpty()) {
            candidates = keys.stream().filter(key -> key.alg().equals(alg) && key.kid() == null).toList();
        }
        if (candidates.isEmpty()) {
            throw AuthException.unauthorized("unknown_key", "no " + alg + " key with the token's key id");
        }
        byte[] signedBytes = signed.getSignedBytes();
        byte[] signature = signed.getSignature();
        for (Key key : candidates) {
            if (verifies(key.jwk(), signedBytes, signature)) {
                return;
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

    private static Key secretKey(Path file) {
        byte[] secret;
        try {
            secret = TokenMinter.readSecret(file);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(SECRET_FILE_VAR + ": " + e.getMessage());
        }
        Optional<String> weak = KeyStrength.secretProblem("secret file " + file, secret.length);
        if (weak.isPresent()) {
            throw new IllegalArgumentException(SECRET_FILE_VAR + ": " + weak.get());
        }
        return new Key(null, TokenMinter.HS256, TokenMinter.hmacKey(secret));
    }

    private static List<Key> publicKeys(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": cannot read " + file + " ("
                                                       + e.getClass().getSimpleName() + ")");
        }
        if (text.isEmpty()) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " is empty");
        }
        List<Key> keys = text.startsWith("{") ? jwksKeys(file, text) : pemKeys(file, text);
        if (keys.isEmpty()) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file
                                                       + " holds no usable RSA or EC signature verification key");
        }
        return keys;
    }

    private static List<Key> jwksKeys(Path file, String text) {
        JsonArray array;
        try {
            JsonObject json = Json.createReader(new StringReader(text)).readObject();
            array = json.getJsonArray("keys");
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file
                                                       + " is not a JWKS JSON document with a \"keys\" array");
        }
        if (array == null) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " has no \"keys\" array");
        }
        List<Key> keys = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            if (!(array.get(i) instanceof JsonObject jwk)) {
                throw new IllegalArgumentException(JWKS_FILE_VAR + ": keys[" + i + "] in " + file + " is not an object");
            }
            keys.addAll(jwkKeys(file, i, jwk));
        }
        return keys;
    }

    /** The usable keys for one JWKS entry: none for encryption or unsupported keys, one per allowed algorithm. */
    private static List<Key> jwkKeys(Path file, int index, JsonObject json) {
        String kty = json.getString(Jwk.PARAM_KEY_TYPE, "");
        if (Jwk.KEY_TYPE_OCT.equals(kty)) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": keys[" + index + "] in " + file
                                                       + " is a symmetric (oct) key; put HS256 secrets in "
                                                       + SECRET_FILE_VAR);
        }
        if (!(Jwk.KEY_TYPE_RSA.equals(kty) || Jwk.KEY_TYPE_EC.equals(kty))
                || Jwk.USE_ENCRYPTION.equals(json.getString(Jwk.PARAM_USE, ""))) {
            return List.of();
        }
        String kid = json.getString(Jwk.PARAM_KEY_ID, null);
        Set<String> family = Jwk.KEY_TYPE_RSA.equals(kty) ? RSA_ALGS : EC_ALGS;
        String declaredAlg = json.getString(Jwk.PARAM_ALGORITHM, null);
        List<String> algs;
        if (declaredAlg != null) {
            algs = family.contains(declaredAlg) ? List.of(declaredAlg) : List.of();
        } else if (Jwk.KEY_TYPE_RSA.equals(kty)) {
            algs = List.copyOf(RSA_ALGS);
        } else {
            algs = List.of(ecAlgorithm(json.getString(JwkEC.PARAM_CURVE, "")));
        }
        List<Key> keys = new ArrayList<>();
        for (String alg : algs) {
            // Helidon requires a kid and defaults alg to RS256 / the curve's ES alg, so both are set explicitly
            JsonObject complete = Json.createObjectBuilder(json)
                    .add(Jwk.PARAM_KEY_ID, kid == null ? "nowconnect-key-" + index : kid)
                    .add(Jwk.PARAM_ALGORITHM, alg)
                    .build();
            Jwk jwk;
            try {
                jwk = Jwk.create(complete);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(JWKS_FILE_VAR + ": keys[" + index + "] in " + file
                                                           + " is not a valid " + kty + " key (" + e.getMessage() + ")");
            }
            if (jwk instanceof JwkRSA rsa && rsa.publicKey() instanceof RSAPublicKey key) {
                KeyStrength.rsaProblem("keys[" + index + "] in " + file, key.getModulus().bitLength())
                        .ifPresent(problem -> {
                            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + problem);
                        });
            }
            keys.add(new Key(kid, alg, jwk));
        }
        return keys;
    }

    private static List<Key> pemKeys(Path file, String text) {
        Matcher matcher = PEM.matcher(text);
        if (!matcher.find()) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file
                                                       + " is neither JWKS JSON nor a PEM public key or certificate");
        }
        String type = matcher.group(1);
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(matcher.group(2));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " has invalid PEM base64");
        }
        PublicKey publicKey = switch (type) {
            case "PUBLIC KEY" -> publicKey(file, der);
            case "CERTIFICATE" -> certificateKey(file, der);
            default -> throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " holds a PEM \""
                                                                  + type + "\"; expected \"PUBLIC KEY\" or \"CERTIFICATE\"");
        };
        if (publicKey instanceof RSAPublicKey rsa) {
            KeyStrength.rsaProblem("the key in " + file, rsa.getModulus().bitLength()).ifPresent(problem -> {
                throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + problem);
            });
            return RSA_ALGS.stream()
                    .map(alg -> new Key(null, alg, JwkRSA.builder().publicKey(rsa).algorithm(alg).build()))
                    .toList();
        }
        if (publicKey instanceof ECPublicKey ec) {
            String alg = switch (ec.getParams().getCurve().getField().getFieldSize()) {
                case 256 -> JwkEC.ALG_ES256;
                case 384 -> JwkEC.ALG_ES384;
                case 521 -> JwkEC.ALG_ES512;
                default -> throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file
                                                                      + " holds an EC key on an unsupported curve");
            };
            return List.of(new Key(null, alg, JwkEC.builder().publicKey(ec).algorithm(alg).build()));
        }
        throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " holds a " + publicKey.getAlgorithm()
                                                   + " key; only RSA and EC are supported");
    }

    private static PublicKey publicKey(Path file, byte[] der) {
        for (String algorithm : List.of("RSA", "EC")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(der));
            } catch (Exception e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " holds no readable RSA or EC public key");
    }

    private static PublicKey certificateKey(Path file, byte[] der) {
        try {
            return CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der))
                    .getPublicKey();
        } catch (Exception e) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " holds no readable X.509 certificate");
        }
    }

    private static String ecAlgorithm(String curve) {
        return switch (curve) {
            case JwkEC.CURVE_P384 -> JwkEC.ALG_ES384;
            case JwkEC.CURVE_P521 -> JwkEC.ALG_ES512;
            default -> JwkEC.ALG_ES256;
        };
    }

    private static String printable(String alg) {
        String clean = alg.length() > 16 ? alg.substring(0, 16) : alg;
        return clean.chars().allMatch(c -> c >= 0x21 && c < 0x7F) ? clean : "(unprintable)";
    }

    /** One verification key: its JWKS id (null if none), the single algorithm it verifies, and the Helidon JWK. */
    private record Key(String kid, String alg, Jwk jwk) {
    }
}
