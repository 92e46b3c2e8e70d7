package io.nowconnect.hub.auth;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * Keys read from one file, read again on {@link #reload()} (the hub calls it when the file changes): the HS256
 * secret file ({@value TokenVerifier#SECRET_FILE_VAR}, one secret per line, newest first) or the JWKS or PEM file
 * ({@value TokenVerifier#JWKS_FILE_VAR}, several keys with {@code kid}). A file that has become unusable (unreadable,
 * malformed, no key, a weak key) leaves the last good set in place and is logged as an error naming the variable and
 * the problem, never key material.
 *
 * <p>Threads: {@link #keys()} from any thread; {@link #reload()} from one thread at a time (the file watch). The set is
 * one volatile reference.
 */
public final class FileKeySource implements KeySource {
    private static final Logger LOGGER = Logger.getLogger(FileKeySource.class.getName());

    private final String variable;
    private final Path file;
    private final Function<Path, List<VerificationKey>> reader;
    private volatile KeySet keys;

    private FileKeySource(String variable, Path file, Function<Path, List<VerificationKey>> reader) {
        this.variable = variable;
        this.file = Objects.requireNonNull(file, "file");
        this.reader = reader;
        this.keys = KeySet.of(reader.apply(file));
    }

    /**
     * The HS256 secrets of a secret file, read now.
     *
     * @param file the file ({@value TokenVerifier#SECRET_FILE_VAR})
     * @return the source
     * @throws IllegalArgumentException naming the variable when the file is not usable
     */
    public static FileKeySource secretFile(Path file) {
        return new FileKeySource(TokenVerifier.SECRET_FILE_VAR, file, KeyFiles::secrets);
    }

    /**
     * The public keys of a JWKS or PEM file, read now.
     *
     * @param file the file ({@value TokenVerifier#JWKS_FILE_VAR})
     * @return the source
     * @throws IllegalArgumentException naming the variable when the file is not usable
     */
    public static FileKeySource jwksFile(Path file) {
        return new FileKeySource(TokenVerifier.JWKS_FILE_VAR, file, KeyFiles::publicKeys);
    }

    @Override
    public KeySet keys() {
        return keys;
    }

    /**
     * The file this source reads.
     *
     * @return file
     */
    public Path file() {
        return file;
    }

    /**
     * Read the file again: its keys replace the current set when it is usable; otherwise the current set stays and
     * the problem is logged ({@code keys_reload_failed}, ERROR).
     *
     * @return whether the set was replaced
     */
    public boolean reload() {
        List<VerificationKey> read;
        try {
            read = reader.apply(file);
        } catch (IllegalArgumentException e) {
            Event.of("keys_reload_failed").with("variable", variable).with("file", file.toString())
                    .with("problem", e.getMessage()).with("keys", keys.size())
                    .log(LOGGER, Level.SEVERE, "Key file changed but is not usable: keeping the last good keys");
            return false;
        }
        KeySet before = keys;
        KeySet after = KeySet.of(read);
        keys = after;
        Event.of("keys_reloaded").with("variable", variable).with("file", file.toString()).with("keys", after.size())
                .with("added", after.missingFrom(before)).with("removed", before.missingFrom(after))
                .with("kids", after.kids().isEmpty() ? null : String.join(",", after.kids()))
                .log(LOGGER, Level.INFO, "Key file read again: new tokens verify with its keys; tunnels admitted by a "
                        + "removed key get no new streams and are closed");
        return true;
    }
}
