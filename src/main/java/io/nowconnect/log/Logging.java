package io.nowconnect.log;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

import io.nowconnect.config.LogSettings;

/** Configures JUL once at start: one handler on standard error, the chosen format and level. */
public final class Logging {
    // JUL holds loggers weakly: keep a reference or the level set below is lost at the next GC
    private static final Logger HELIDON = Logger.getLogger("io.helidon");
    private static final Logger OURS = Logger.getLogger("io.nowconnect");

    private Logging() {
    }

    /**
     * Replace the JUL configuration with ours.
     *
     * @param settings level and format
     */
    public static void configure(LogSettings settings) {
        configure(settings, System.err);
    }

    /**
     * Replace the JUL configuration, writing to the given stream (tests capture it).
     *
     * @param settings level and format
     * @param out where log lines go
     * @throws io.nowconnect.config.ConfigException when the access log's file cannot be opened
     */
    public static void configure(LogSettings settings, OutputStream out) {
        // Helidon re-reads logging.properties when a server starts, which would undo this configuration
        System.setProperty("io.helidon.logging.config.disabled", "true");
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        Handler console = new ConsoleHandler(out instanceof PrintStream ps ? ps : new PrintStream(out, true),
                                             formatter(settings.json()));
        console.setLevel(Level.ALL);
        // the writer thread flushes once per batch; no thread that logs ever waits for the output
        root.addHandler(new AsyncHandler(console, "nc-log"));
        // DEBUG is ours: libraries (the JDK's TLS and security loggers above all) stay at INFO
        boolean debug = settings.level().intValue() < Level.INFO.intValue();
        root.setLevel(debug ? Level.INFO : settings.level());
        OURS.setLevel(settings.level());
        // Helidon's own start-up chatter stays out of the way unless DEBUG is asked for
        HELIDON.setLevel(settings.level().intValue() <= Level.FINE.intValue()
                                                         ? Level.INFO : Level.WARNING);
        // the access log keeps its own level (and maybe its own file)
        AccessLog.configure(settings);
    }

    /**
     * A formatter of one of the two line formats (tests format captured records exactly as the console would).
     *
     * @param json JSON or plain
     * @return a new formatter
     */
    public static java.util.logging.Formatter formatter(boolean json) {
        return json ? new LogFormats.Json() : new LogFormats.Plain();
    }

    /**
     * Write every line logged so far (they are written by a writer thread, {@link AsyncHandler}): for what must be on
     * the console or in the access file before it goes on (tests reading them, an exit).
     */
    public static void flush() {
        for (Handler h : Logger.getLogger("").getHandlers()) {
            h.flush();
        }
        AccessLog.flush();
    }

    /**
     * One formatted line, for what is written before logging is configured (configuration errors).
     *
     * @param json JSON or plain format
     * @param level level
     * @param logger logger name
     * @param message message
     * @param event event and fields
     * @return the line, with its line separator
     */
    public static String format(boolean json, Level level, String logger, String message, Event event) {
        java.util.logging.LogRecord r = new java.util.logging.LogRecord(level, message);
        r.setLoggerName(logger);
        r.setParameters(new Object[] {event});
        return (json ? new LogFormats.Json() : new LogFormats.Plain()).format(r);
    }

    /** Standard error (or the tests' stream) as a handler: closing it flushes, never closes the stream. */
    private static final class ConsoleHandler extends StreamHandler {
        ConsoleHandler(PrintStream out, java.util.logging.Formatter formatter) {
            super(out, formatter);
        }

        @Override
        public synchronized void close() {
            flush();
        }
    }
}
