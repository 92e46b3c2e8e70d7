package io.nowconnect.log;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.FileHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.config.ConfigException;
import io.nowconnect.config.LogSettings;
import io.nowconnect.stream.StreamEnd;

/**
 * The access log: one INFO line per stream at its end ({@code event=access}), on its own logger
 * ({@value #LOGGER_NAME}) so that it stays on whatever {@code NC_LOG_LEVEL} says and can go to a file of its own
 * ({@code NC_ACCESS_LOG_FILE}, rotated by size: a {@link FileHandler} of {@code NC_ACCESS_LOG_FILE_MB} x
 * {@code NC_ACCESS_LOG_FILE_COUNT}). The line names the stream's parties, connector, bytes each way, duration and
 * result; never a payload byte, never a token.
 *
 * <p>Threads: {@link #log} is called on stream threads and never waits for the output: lines are written by a
 * writer thread ({@link AsyncHandler}).
 */
public final class AccessLog {
    /** The access log's logger. */
    public static final String LOGGER_NAME = "io.nowconnect.access";
    /** The event name of every access line. */
    public static final String EVENT = "access";
    // JUL holds loggers weakly: keep the configured one
    private static final Logger LOGGER = Logger.getLogger(LOGGER_NAME);

    private AccessLog() {
    }

    /**
     * Set the access logger up after {@link Logging} configured JUL: its level (INFO, or OFF when
     * {@code NC_ACCESS_LOG=false}) and, with {@code NC_ACCESS_LOG_FILE}, its own rotating file in the same format.
     *
     * @param settings logging options
     * @throws ConfigException when the file cannot be opened
     */
    static void configure(LogSettings settings) {
        for (Handler h : LOGGER.getHandlers()) {
            LOGGER.removeHandler(h);
            h.close();
        }
        LOGGER.setUseParentHandlers(true);
        LOGGER.setLevel(settings.access() ? Level.INFO : Level.OFF);
        if (!settings.access() || settings.accessFile().isEmpty()) {
            return;
        }
        Path file = settings.accessFile().get();
        try {
            // FileHandler patterns treat % specially; with more than one file it appends .N (.0 is the current one)
            FileHandler handler = new FileHandler(file.toAbsolutePath().toString().replace("%", "%%"),
                                                  settings.accessFileBytes(), settings.accessFileCount(), true);
            handler.setFormatter(Logging.formatter(settings.json()));
            handler.setLevel(Level.ALL);
            LOGGER.addHandler(new AsyncHandler(handler, "nc-access-log"));
            LOGGER.setUseParentHandlers(false);
        } catch (IOException | RuntimeException e) {
            throw new ConfigException(List.of("NC_ACCESS_LOG_FILE: cannot open " + file + " (" + e.getMessage() + ")"));
        }
    }

    /** Write the access lines logged so far to the access file, when there is one. */
    static void flush() {
        for (Handler h : LOGGER.getHandlers()) {
            h.flush();
        }
    }

    /**
     * Log one stream's end.
     *
     * @param end what the stream did
     * @param event the fields of the side that logs it (client and agent on the hub, target on the agent)
     */
    public static void log(StreamEnd end, Event event) {
        if (!LOGGER.isLoggable(Level.INFO)) {
            return;
        }
        event.with("cid", end.cid()).with("bytes_c2a", end.c2aBytes()).with("bytes_a2c", end.a2cBytes())
                .with("duration_ms", end.duration().toMillis()).with("result", end.result())
                .log(LOGGER, Level.INFO, "Stream ended");
    }

    /**
     * Log a client refused by the policy decision point before any stream existed: one access line with
     * {@code result=pdp_denied} (or {@code pdp_error}) and the PDP's reason when it gave one, so that the record of who
     * reached what also holds who was turned away.
     *
     * @param event the side's fields (connector, client, agent, replica)
     * @param result {@code pdp_denied} or {@code pdp_error}
     * @param reason the PDP's reason, or what went wrong
     */
    public static void refused(Event event, String result, String reason) {
        if (!LOGGER.isLoggable(Level.INFO)) {
            return;
        }
        event.with("bytes_c2a", 0).with("bytes_a2c", 0).with("duration_ms", 0).with("result", result)
                .with("reason", reason).log(LOGGER, Level.INFO, "Client refused");
    }

    /**
     * An access event, fields in the order every line has them.
     *
     * @param connector the stream's connector
     * @return the event, for the side's fields
     */
    public static Event event(String connector) {
        return Event.of(EVENT).with("connector", connector);
    }
}
