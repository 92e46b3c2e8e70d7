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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.helidon.security.jwt.jwk.Jwk;
import io.helidon.security.jwt.jwk.JwkEC;
import io.helidon.security.jwt.jwk.JwkRSA;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;

import static io.nowconnect.hub.auth.TokenVerifier.JWKS_FILE_VAR;
import static io.nowconnect.hub.auth.TokenVerifier.SECRET_FILE_VAR;

/**
 * Reads verification keys from the hub's key files: the HS256 secret file ({@value TokenVerifier#SECRET_FILE_VAR}:
 * one secret per line, newest first) and the JWKS or PEM file ({@value TokenVerifier#JWKS_FILE_VAR}). Every problem
 * is an {@link IllegalArgumentException} whose message names the variable and the file, never key material. Stateless.
 */
final class KeyFiles {
    /** Most secrets in the secret file: a rotation needs two; a long list is a mistake. */
    static final int MAX_SECRETS = 16;
    static final Set<String> RSA_ALGS = Set.of(JwkRSA.ALG_RS256, JwkRSA.ALG_RS384, JwkRSA.ALG_RS512);
    static final Set<String> EC_ALGS = Set.of(JwkEC.ALG_ES256, JwkEC.ALG_ES384, JwkEC.ALG_ES512);
    /** Largest key file read (a JWKS of a few dozen RSA keys is well under it). */
    private static final long MAX_FILE_BYTES = 1 << 20;
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

    private KeyFiles() {
    }

    /**
     * The HS256 secrets of a secret file: one per line (surrounding ASCII whitespace removed, blank lines skipped),
     * newest first, each at least {@value KeyStrength#MIN_SECRET_BYTES} bytes; a secret cannot contain a line break.
     *
     * @param file the secret file
     * @return one key per secret, in file order
     * @throws IllegalArgumentException if the file cannot be read, holds no secret, more than {@value #MAX_SECRETS}
     *                                  or a weak one (the message names the line, never its content)
     */
    static List<VerificationKey> secrets(Path file) {
        List<byte[]> secrets;
        try {
            secrets = TokenMinter.readSecrets(file);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(SECRET_FILE_VAR + ": " + e.getMessage());
        }
        if (secrets.size() > MAX_SECRETS) {
            throw new IllegalArgumentException(SECRET_FILE_VAR + ": secret file " + file + " holds " + secrets.size()
                                                       + " secrets; at most " + MAX_SECRETS);
        }
        List<VerificationKey> keys = new ArrayList<>();
        for (int i = 0; i < secrets.size(); i++) {
            byte[] secret = secrets.get(i);
            String what = secrets.size() == 1 ? "secret file " + file : "line " + (i + 1) + " of secret file " + file;
            KeyStrength.secretProblem(what, secret.length).ifPresent(problem -> {
                throw new IllegalArgumentException(SECRET_FILE_VAR + ": " + problem);
            });
            keys.add(VerificationKey.of(null, TokenMinter.HS256, TokenMinter.hmacKey(secret), secret));
            Arrays.fill(secret, (byte) 0);
        }
        return keys;
    }

    static List<VerificationKey> publicKeys(Path file) {
        String text;
        long size;
        try {
            size = Files.size(file);
            text = size > MAX_FILE_BYTES ? "" : Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": cannot read " + file + " ("
                                                       + e.getClass().getSimpleName() + ")");
        }
        if (size > MAX_FILE_BYTES) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " is larger than " + MAX_FILE_BYTES + " bytes");
        }
        if (text.isEmpty()) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file + " is empty");
        }
        List<VerificationKey> keys = text.startsWith("{") ? jwks(JWKS_FILE_VAR, file, text) : pemKeys(file, text);
        if (keys.isEmpty()) {
            throw new IllegalArgumentException(JWKS_FILE_VAR + ": " + file
                                                       + " holds no usable RSA or EC signature verification key");
        }
        return keys;
    }

    /**
     * The keys of a JWKS document: one per key and allowed algorithm; encryption keys and unsupported key types are
     * left out, symmetric keys and weak RSA keys are refused.
     *
     * @param variable the variable the document comes from, named in messages (a file's, or later a URL's)
     * @param origin   where the document comes from (a file or URL), named in messages
     * @param text     the document
     * @return the keys, possibly empty
     * @throws IllegalArgumentException naming the variable and the first problem
     */
    static List<VerificationKey> jwks(String variable, Object origin, String text) {
        Object file = origin;
        JsonArray array;
        try {
            JsonObject json = Json.createReader(new StringReader(text)).readObject();
            array = json.getJsonArray("keys");
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(variable + ": " + file
                                                       + " is not a JWKS JSON document with a \"keys\" array");
        }
        if (array == null) {
            throw new IllegalArgumentException(variable + ": " + file + " has no \"keys\" array");
        }
        List<VerificationKey> keys = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            if (!(array.get(i) instanceof JsonObject jwk)) {
                throw new IllegalArgumentException(variable + ": keys[" + i + "] in " + file + " is not an object");
            }
            keys.addAll(jwkKeys(variable, file, i, jwk));
        }
        return keys;
    }

    /** The usable keys for one JWKS entry: none for encryption or unsupported keys, one per allowed algorithm. */
    private static List<VerificationKey> jwkKeys(String variable, Object file, int index, JsonObject json) {
        String kty = json.getString(Jwk.PARAM_KEY_TYPE, "");
        if (Jwk.KEY_TYPE_OCT.equals(kty)) {
            throw new IllegalArgumentException(variable + ": keys[" + index + "] in " + file
                                                       + " is a symmetric (oct) key; put HS256 secrets in "
                                                       + TokenVerifier.SECRET_FILE_VAR);
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
        List<VerificationKey> keys = new ArrayList<>();
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
                throw new IllegalArgumentException(variable + ": keys[" + index + "] in " + file
                                                           + " is not a valid " + kty + " key (" + e.getMessage() + ")");
            }
            if (jwk instanceof JwkRSA rsa && rsa.publicKey() instanceof RSAPublicKey key) {
                KeyStrength.rsaProblem("keys[" + index + "] in " + file, key.getModulus().bitLength())
                        .ifPresent(problem -> {
                            throw new IllegalArgumentException(variable + ": " + problem);
                        });
            }
            keys.add(VerificationKey.of(kid, alg, jwk, publicKeyBytes(jwk)));
        }
        return keys;
    }

    private static List<VerificationKey> pemKeys(Path file, String text) {
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
                    .map(alg -> VerificationKey.of(null, alg, JwkRSA.builder().publicKey(rsa).algorithm(alg).build(),
                                                  rsa.getEncoded()))
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
            return List.of(VerificationKey.of(null, alg, JwkEC.builder().publicKey(ec).algorithm(alg).build(),
                                              ec.getEncoded()));
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

    private static byte[] publicKeyBytes(Jwk jwk) {
        PublicKey key = jwk instanceof JwkRSA rsa ? rsa.publicKey() : jwk instanceof JwkEC ec ? ec.publicKey() : null;
        return key == null ? new byte[0] : key.getEncoded();
    }

    private static String ecAlgorithm(String curve) {
        return switch (curve) {
            case JwkEC.CURVE_P384 -> JwkEC.ALG_ES384;
            case JwkEC.CURVE_P521 -> JwkEC.ALG_ES512;
            default -> JwkEC.ALG_ES256;
        };
    }
}
