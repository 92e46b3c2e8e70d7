package io.nowconnect.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Level;

import io.helidon.config.Config;

/**
 * Logging options shared by every mode (the agent and the hub read the same variables).
 *
 * @param level {@code NC_LOG_LEVEL}: DEBUG, INFO, WARNING or ERROR (default INFO)
 * @param json {@code NC_LOG_FORMAT}: {@code json} for one JSON object per line, {@code plain} (default) otherwise
 * @param access {@code NC_ACCESS_LOG} (true): one INFO line per stream at its end ({@code event=access}: who, which
 *        connector, bytes each way, duration, result; never a payload byte), whatever {@code NC_LOG_LEVEL} says;
 *        {@code false} turns it off
 * @param accessFile {@code NC_ACCESS_LOG_FILE} (none: the access lines go with the other lines to standard error):
 *        a file of their own, in the same format, rotated by size ({@code FILE.0} is the current one, {@code FILE.1}
 *        the one before, ...); its directory must exist
 * @param accessFileBytes {@code NC_ACCESS_LOG_FILE_MB} (100): the size at which the access file is rotated
 * @param accessFileCount {@code NC_ACCESS_LOG_FILE_COUNT} (5): how many access files are kept, the current one
 *        included; the oldest is deleted at rotation, so the access log never takes more than MB x COUNT
 */
public record LogSettings(Level level, boolean json, boolean access, Optional<Path> accessFile, long accessFileBytes,
                          int accessFileCount) {
    private static final Set<String> LEVELS = Set.of("DEBUG", "INFO", "WARNING", "WARN", "ERROR");
    private static final int DEFAULT_FILE_MB = 100;
    private static final int DEFAULT_FILE_COUNT = 5;

    /**
     * Level and format, with the access log on standard error (tests, embedders).
     *
     * @param level level
     * @param json JSON or plain
     */
    public LogSettings(Level level, boolean json) {
        this(level, json, true, Optional.empty(), (long) DEFAULT_FILE_MB << 20, DEFAULT_FILE_COUNT);
    }

    /**
     * Read logging options.
     *
     * @param config merged configuration
     * @return settings
     * @throws ConfigException naming each bad variable
     */
    public static LogSettings create(Config config) {
        Settings s = new Settings(config);
        LogSettings result = read(s);
        s.throwIfProblems();
        return result;
    }

    static LogSettings read(Settings s) {
        Level level = s.oneOf("NC_LOG_LEVEL", Level.INFO, LEVELS, LogSettings::toLevel);
        boolean json = s.oneOf("NC_LOG_FORMAT", "PLAIN", Set.of("PLAIN", "JSON"), v -> v).equals("JSON");
        boolean access = s.bool("NC_ACCESS_LOG", true);
        Optional<Path> file = s.optional("NC_ACCESS_LOG_FILE").map(Path::of);
        file.ifPresent(f -> {
            Path dir = f.toAbsolutePath().getParent();
            if (dir == null || !Files.isDirectory(dir)) {
                s.problem("NC_ACCESS_LOG_FILE: directory " + dir + " does not exist");
            } else if (!Files.isWritable(dir)) {
                s.problem("NC_ACCESS_LOG_FILE: directory " + dir + " is not writable");
            }
        });
        int mb = s.integer("NC_ACCESS_LOG_FILE_MB", DEFAULT_FILE_MB, 1, 100_000);
        int count = s.integer("NC_ACCESS_LOG_FILE_COUNT", DEFAULT_FILE_COUNT, 1, 1000);
        return new LogSettings(level, json, access, file, (long) mb << 20, count);
    }

    private static Level toLevel(String name) {
        return switch (name) {
        case "DEBUG" -> Level.FINE;
        case "WARNING", "WARN" -> Level.WARNING;
        case "ERROR" -> Level.SEVERE;
        default -> Level.INFO;
        };
    }
}
