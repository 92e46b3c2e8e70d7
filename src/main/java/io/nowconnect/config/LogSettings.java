package io.nowconnect.config;

import java.util.Set;
import java.util.logging.Level;

import io.helidon.config.Config;

/**
 * Logging options shared by every mode.
 *
 * @param level {@code NC_LOG_LEVEL}: DEBUG, INFO, WARNING or ERROR (default INFO)
 * @param json {@code NC_LOG_FORMAT}: {@code json} for one JSON object per line, {@code plain} (default) otherwise
 */
public record LogSettings(Level level, boolean json) {
    private static final Set<String> LEVELS = Set.of("DEBUG", "INFO", "WARNING", "WARN", "ERROR");

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
        return new LogSettings(level, json);
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
