package io.nowconnect.tunnel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Reads the bearer token from {@code NC_TOKEN_FILE} at every connect (never cached across connects). The token itself
 * never appears in a message of this class.
 */
final class TokenSource {
    private static final int MAX_TOKEN_BYTES = 64 * 1024;
    private final Optional<Path> file;

    private TokenSource(Optional<Path> file) {
        this.file = file;
    }

    /**
     * Create a source.
     *
     * @param file token file, empty for no authentication
     * @return source
     */
    public static TokenSource create(Optional<Path> file) {
        return new TokenSource(file);
    }

    /**
     * Whether a token file is configured.
     *
     * @return true with a file
     */
    public boolean configured() {
        return file.isPresent();
    }

    /**
     * Read the token now, trimmed.
     *
     * @return the token, or empty when no file is configured
     * @throws TokenException when the file is missing, unreadable, empty, too large or not a single-line token
     */
    public Optional<String> read() throws TokenException {
        if (file.isEmpty()) {
            return Optional.empty();
        }
        Path p = file.get();
        byte[] bytes;
        try {
            if (Files.size(p) > MAX_TOKEN_BYTES) {
                throw new TokenException("token file " + p + " is larger than " + MAX_TOKEN_BYTES + " bytes");
            }
            bytes = Files.readAllBytes(p);
        } catch (IOException e) {
            throw new TokenException("cannot read token file " + p + " (" + e.getClass().getSimpleName() + ")");
        }
        String token = new String(bytes, StandardCharsets.UTF_8).strip();
        if (token.isEmpty()) {
            throw new TokenException("token file " + p + " is empty");
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                throw new TokenException("token file " + p + " does not hold a single token (whitespace or control characters)");
            }
        }
        return Optional.of(token);
    }

    /**
     * The file being read, if any.
     *
     * @return token file
     */
    public Optional<Path> file() {
        return file;
    }

    /**
     * A fingerprint of a token, to tell tokens apart without keeping or logging them.
     *
     * @param token token
     * @return SHA-256 of the token, hex
     */
    public static String fingerprint(String token) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(d);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required", e);
        }
    }

    /**
     * The {@code exp} and {@code iat} claims of a JWT, read from its payload without checking the signature (the hub
     * does that); used only to reconnect before the token expires.
     *
     * @param token compact JWT
     * @return expiry and, when present, issue time; empty when the token is not a JWT or has no {@code exp}
     */
    public static Optional<Lifetime> lifetime(String token) {
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3) {
            return Optional.empty();
        }
        try {
            byte[] json = java.util.Base64.getUrlDecoder().decode(parts[1]);
            com.fasterxml.jackson.databind.JsonNode claims = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
            if (claims == null || !claims.path("exp").canConvertToLong()) {
                return Optional.empty();
            }
            java.time.Instant exp = java.time.Instant.ofEpochSecond(claims.get("exp").asLong());
            Optional<java.time.Instant> iat = claims.path("iat").canConvertToLong()
                    ? Optional.of(java.time.Instant.ofEpochSecond(claims.get("iat").asLong()))
                    : Optional.empty();
            return Optional.of(new Lifetime(exp, iat));
        } catch (IllegalArgumentException | IOException e) {
            return Optional.empty();
        }
    }

    /**
     * When a token stops being valid.
     *
     * @param expiresAt the {@code exp} claim
     * @param issuedAt the {@code iat} claim, if present
     */
    public record Lifetime(java.time.Instant expiresAt, Optional<java.time.Instant> issuedAt) {
        /**
         * When to move to a fresh token: 60 s before expiry, or at 90 % of the lifetime for tokens shorter than 10 min.
         *
         * @param now current time (when the token was read, if {@code iat} is absent)
         * @return refresh time
         */
        public java.time.Instant refreshAt(java.time.Instant now) {
            java.time.Instant start = issuedAt.orElse(now);
            java.time.Duration life = java.time.Duration.between(start, expiresAt);
            if (life.compareTo(java.time.Duration.ofMinutes(10)) < 0) {
                return start.plus(life.multipliedBy(9).dividedBy(10));
            }
            return expiresAt.minusSeconds(60);
        }
    }

    /** The token file cannot be used; the message names the file, never its content. */
    public static final class TokenException extends Exception {
        TokenException(String message) {
            super(message);
        }
    }
}
