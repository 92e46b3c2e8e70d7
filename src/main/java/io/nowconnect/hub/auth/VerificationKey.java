package io.nowconnect.hub.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

import io.helidon.security.jwt.jwk.Jwk;

/**
 * One verification key: its JWKS id (null if none), the single algorithm it verifies, the Helidon JWK, and a
 * fingerprint that stays the same when the same key is read again from a changed file, so that a live tunnel can tell
 * whether the key that admitted it is still trusted. The fingerprint is a digest, never logged and never the key.
 *
 * @param kid         the key id, or null
 * @param alg         the algorithm this key verifies
 * @param jwk         the key
 * @param fingerprint SHA-256 (hex, first 128 bits) of the kid, the algorithm and the key material
 */
record VerificationKey(String kid, String alg, Jwk jwk, String fingerprint) {
    /**
     * A key with its fingerprint.
     *
     * @param kid      key id, or null
     * @param alg      algorithm
     * @param jwk      the key
     * @param material the key's bytes (the secret, or the encoded public key)
     * @return the key
     */
    static VerificationKey of(String kid, String alg, Jwk jwk, byte[] material) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update((kid == null ? "" : kid).getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(alg.getBytes(StandardCharsets.US_ASCII));
            sha.update((byte) 0);
            sha.update(material);
            return new VerificationKey(kid, alg, jwk, HexFormat.of().formatHex(sha.digest(), 0, 16));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    @Override
    public String toString() {
        return "VerificationKey[kid=" + kid + ", alg=" + alg + "]";
    }
}
