package io.nowconnect.hub.auth;

import java.util.Optional;

/**
 * The weakest keys the hub and the {@code token} command accept: an HS256 secret of at least
 * {@value #MIN_SECRET_BYTES} bytes (RFC 7518 3.2: a key as long as the hash) and RSA keys of at least
 * {@value #MIN_RSA_BITS} bits (RFC 7518 3.3). A shorter secret can be brute-forced offline from any one token.
 */
public final class KeyStrength {
    /** Fewest bytes of an HS256 secret. */
    public static final int MIN_SECRET_BYTES = 32;
    /** Fewest bits of an RSA modulus. */
    public static final int MIN_RSA_BITS = 2048;
    /** How to make a good secret, for error messages. */
    static final String SECRET_HINT = "make one with: openssl rand -base64 32 > FILE";

    private KeyStrength() {
    }

    /**
     * Check the length of an HS256 secret.
     *
     * @param what   the secret's origin for the message, e.g. {@code "secret file /etc/hub.secret"}
     * @param length its length in bytes
     * @return the problem, or empty when it is long enough
     */
    public static Optional<String> secretProblem(String what, int length) {
        if (length >= MIN_SECRET_BYTES) {
            return Optional.empty();
        }
        return Optional.of(what + " holds a " + length + "-byte secret; HS256 needs at least " + MIN_SECRET_BYTES
                                   + " bytes (" + SECRET_HINT + ")");
    }

    /**
     * Check the size of an RSA key.
     *
     * @param what the key's origin for the message
     * @param bits its modulus length in bits
     * @return the problem, or empty when it is large enough
     */
    public static Optional<String> rsaProblem(String what, int bits) {
        if (bits >= MIN_RSA_BITS) {
            return Optional.empty();
        }
        return Optional.of(what + " is a " + bits + "-bit RSA key; at least " + MIN_RSA_BITS + " bits are required");
    }
}
