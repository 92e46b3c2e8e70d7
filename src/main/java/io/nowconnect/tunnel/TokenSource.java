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
public final class TokenSource {
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

    /** The token file cannot be used; the message names the file, never its content. */
    public static final class TokenException extends Exception {
        TokenException(String message) {
            super(message);
        }
    }
}
