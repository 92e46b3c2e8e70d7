package io.nowconnect.testkit;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Captures the log records of the project's loggers ({@code io.nowconnect}, agent and hub of this JVM) from creation
 * until {@link #close}: as records (with a mark, {@link #since}), as short texts with the event's fields
 * ({@link #text}), or formatted exactly as the configured console handler prints them ({@link #lines}).
 *
 * <p>Threads: any thread may log while the test reads; the records are a copy-on-write list.
 */
public final class LogCapture extends Handler implements AutoCloseable {
    private static final Logger OURS = Logger.getLogger("io.nowconnect");

    /** Every record so far, in order. */
    public final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Formatter format;

    /** Start capturing. */
    public LogCapture() {
        // the test logging first: its reset would take this handler away
        Harness.configureLogging();
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

    /**
     * Records logged since a mark (a size of {@link #records} taken earlier), as a snapshot.
     *
     * @param mark earlier size
     * @return records
     */
    public List<LogRecord> since(int mark) {
        List<LogRecord> all = List.copyOf(records);
        return all.subList(Math.min(mark, all.size()), all.size());
    }

    /** Short texts ({@link #text}) of the records at WARNING or above. */
    public List<String> warnings() {
        return records.stream().filter(LogCapture::warning).map(LogCapture::text).toList();
    }

    /** Short texts ({@link #text}) of every record. */
    public List<String> all() {
        return records.stream().map(LogCapture::text).toList();
    }

    /** Formatted lines, in order. */
    public List<String> lines() {
        return records.stream().map(r -> format.format(r).strip()).toList();
    }

    /**
     * Formatted lines at WARNING or above whose text contains the fragment.
     *
     * @param fragment text to find
     * @return lines
     */
    public List<String> warnings(String fragment) {
        return records.stream().filter(LogCapture::warning).map(r -> format.format(r).strip())
                .filter(l -> l.contains(fragment)).toList();
    }

    /**
     * Lines at WARNING or above containing the fragment, formatted as JSON ({@code NC_LOG_FORMAT=json}).
     *
     * @param fragment text to find
     * @return lines
     */
    public List<String> jsonWarnings(String fragment) {
        Formatter json = io.nowconnect.log.Logging.formatter(true);
        return records.stream().filter(LogCapture::warning).map(r -> json.format(r).strip())
                .filter(l -> l.contains(fragment)).toList();
    }

    /**
     * Whether any formatted line contains the text.
     *
     * @param text text to find
     * @return true when one does
     */
    public boolean contains(String text) {
        return lines().stream().anyMatch(l -> l.contains(text));
    }

    /**
     * A record as level, logger, message and the event's fields (and the thrown exception).
     *
     * @param r record
     * @return text
     */
    public static String text(LogRecord r) {
        String m = r.getMessage();
        if (r.getParameters() != null && r.getParameters().length > 0
                && r.getParameters()[0] instanceof io.nowconnect.log.Event e) {
            m = m + " " + e.fields();
        }
        return r.getLevel() + " " + r.getLoggerName() + ": " + m + (r.getThrown() == null ? "" : " " + r.getThrown());
    }

    /**
     * Whether a record is at WARNING or above.
     *
     * @param r record
     * @return true for WARNING and SEVERE
     */
    public static boolean warning(LogRecord r) {
        return r.getLevel().intValue() >= Level.WARNING.intValue();
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
