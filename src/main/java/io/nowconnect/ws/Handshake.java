package io.nowconnect.ws;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The two values of the RFC 6455 opening handshake (section 4): the client's {@code Sec-WebSocket-Key} and the
 * server's {@code Sec-WebSocket-Accept} derived from it. Stateless: any thread, no locks.
 */
public final class Handshake {
    private static final byte[] GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11".getBytes(StandardCharsets.US_ASCII);
    private static final SecureRandom RANDOM = new SecureRandom();

    private Handshake() {
    }

    /**
     * A fresh key: 16 random bytes, base64.
     *
     * @return key
     */
    public static String newKey() {
        byte[] nonce = new byte[16];
        RANDOM.nextBytes(nonce);
        return Base64.getEncoder().encodeToString(nonce);
    }

    /**
     * Whether a key is what section 4.1 requires: base64 of exactly 16 bytes.
     *
     * @param key the header value
     * @return validity
     */
    public static boolean validKey(String key) {
        try {
            return Base64.getDecoder().decode(key.trim()).length == 16;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * The accept value for a key: base64(SHA-1(key + GUID)).
     *
     * @param key the client's key
     * @return accept value
     */
    public static String accept(String key) {
        try {
            MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            sha1.update(key.trim().getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(sha1.digest(GUID));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is required by RFC 6455", e);
        }
    }
}
