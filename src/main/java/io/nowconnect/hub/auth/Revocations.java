package io.nowconnect.hub.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * The revocation list ({@value #VARIABLE}): token ids ({@code jti}) and agent ids whose tokens the hub refuses
 * (401, reason {@value #REASON}) even before they expire, and whose live tunnels it closes within seconds. One value
 * per line (the first word of the line); blank lines and lines starting with {@code #} are ignored. At most
 * {@value #MAX_ENTRIES} values in at most {@value #MAX_BYTES} bytes; a file beyond that, unreadable or gone keeps the
 * last good list and is logged as an error.
 *
 * <p>Threads: {@link #revoked} from any thread; {@link #reload()} from one thread at a time (the file watch). The list
 * is one volatile reference to an immutable set.
 */
public final class Revocations {
    /** The variable naming the file. */
    public static final String VARIABLE = "NC_HUB_REVOKED_FILE";
    /** The refusal and close reason. */
    public static final String REASON = "revoked";
    /** Most values in the file. */
    public static final int MAX_ENTRIES = 100_000;
    /** Largest file read, in bytes. */
    public static final int MAX_BYTES = 8 << 20;

    private static final Logger LOGGER = Logger.getLogger(Revocations.class.getName());

    private final Optional<Path> file;
    private volatile Set<String> revoked;

    private Revocations(Optional<Path> file, Set<String> revoked) {
        this.file = file;
        this.revoked = revoked;
    }

    /**
     * No revocation list.
     *
     * @return an empty list that never changes
     */
    public static Revocations none() {
        return new Revocations(Optional.empty(), Set.of());
    }

    /**
     * The revocation list of a file, read now.
     *
     * @param file the file
     * @return the list
     * @throws IllegalArgumentException naming {@value #VARIABLE} when the file cannot be used
     */
    public static Revocations read(Path file) {
        return new Revocations(Optional.of(file), parse(file));
    }

    /**
     * The problem with a revocation file, for configuration validation.
     *
     * @param file the file, if configured
     * @return the problems, empty when it is usable
     */
    public static List<String> problems(Optional<Path> file) {
        try {
            file.ifPresent(Revocations::parse);
            return List.of();
        } catch (IllegalArgumentException e) {
            return List.of(e.getMessage());
        }
    }

    /**
     * Whether a token is revoked: its {@code jti} or its {@code agent_id} is on the list.
     *
     * @param claims the token's claims
     * @return true when revoked
     */
    public boolean revoked(Claims claims) {
        Set<String> set = revoked;
        return !set.isEmpty() && (set.contains(claims.agentId()) || claims.jti().map(set::contains).orElse(false));
    }

    /**
     * Number of values on the list.
     *
     * @return count
     */
    public int size() {
        return revoked.size();
    }

    /**
     * The file, if there is one.
     *
     * @return file
     */
    public Optional<Path> file() {
        return file;
    }

    /**
     * Read the file again; when it is not usable the last good list stays and the problem is logged
     * ({@code revocations_reload_failed}, ERROR).
     *
     * @return whether the list was replaced
     */
    public boolean reload() {
        if (file.isEmpty()) {
            return false;
        }
        Set<String> read;
        try {
            read = parse(file.get());
        } catch (IllegalArgumentException e) {
            Event.of("revocations_reload_failed").with("file", file.get().toString()).with("problem", e.getMessage())
                    .with("revoked", revoked.size())
                    .log(LOGGER, Level.SEVERE, "Revocation list changed but is not usable: keeping the last good list");
            return false;
        }
        int before = revoked.size();
        revoked = read;
        Event.of("revocations_reloaded").with("file", file.get().toString()).with("revoked", read.size())
                .with("before", before)
                .log(LOGGER, Level.INFO, "Revocation list read again: matching tunnels are closed, their upgrades refused");
        return true;
    }

    private static Set<String> parse(Path file) {
        byte[] bytes;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new IllegalArgumentException(VARIABLE + ": " + file + " is larger than " + MAX_BYTES + " bytes");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException | SecurityException e) {
            throw new IllegalArgumentException(VARIABLE + ": cannot read " + file + " (" + e.getClass().getSimpleName()
                                                       + ")");
        }
        Set<String> values = new HashSet<>();
        for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
            String value = line.strip();
            if (value.isEmpty() || value.startsWith("#")) {
                continue;
            }
            value = value.split("\\s", 2)[0];
            values.add(value);
            if (values.size() > MAX_ENTRIES) {
                throw new IllegalArgumentException(VARIABLE + ": " + file + " holds more than " + MAX_ENTRIES + " values");
            }
        }
        return Set.copyOf(values);
    }
}
