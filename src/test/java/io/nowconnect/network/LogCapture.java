package io.nowconnect.network;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Captures the agent's log lines (logger {@code io.nowconnect}), formatted exactly as the configured console handler
 * prints them.
 */
final class LogCapture extends Handler implements AutoCloseable {
    private static final Logger OURS = Logger.getLogger("io.nowconnect");

    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Formatter format;

    LogCapture() {
        Formatter ours = new SimpleFormatter();
        for (Handler h : Logger.getLogger("").getHandlers()) {
            if (h.getFormatter() != null && h.getFormatter().getClass().getName().startsWith("io.nowconnect.log.")) {
                ours = h.getFormatter();
            }
        }
        format = ours;
        setLevel(Level.ALL);
        OURS.addHandler(this);
    }

    /** Formatted lines, in order. */
    List<String> lines() {
        return records.stream().map(r -> format.format(r).strip()).toList();
    }

    /** Formatted lines at WARNING or above whose text contains the fragment. */
    List<String> warnings(String fragment) {
        return records.stream().filter(r -> r.getLevel().intValue() >= Level.WARNING.intValue())
                .map(r -> format.format(r).strip()).filter(l -> l.contains(fragment)).toList();
    }

    /** Lines at WARNING or above containing the fragment, formatted as JSON ({@code NC_LOG_FORMAT=json}). */
    List<String> jsonWarnings(String fragment) {
        Formatter json = io.nowconnect.log.Logging.formatter(true);
        return records.stream().filter(r -> r.getLevel().intValue() >= Level.WARNING.intValue())
                .map(r -> json.format(r).strip()).filter(l -> l.contains(fragment)).toList();
    }

    /** Whether any line contains the text. */
    boolean contains(String text) {
        return lines().stream().anyMatch(l -> l.contains(text));
    }

    @Override
    public void publish(LogRecord record) {
        records.add(record);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        OURS.removeHandler(this);
    }
}
