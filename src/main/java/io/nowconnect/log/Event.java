package io.nowconnect.log;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * A structured log event: a stable event name plus a few low-cardinality fields, logged through JUL.
 *
 * <p>Usage: {@code Event.of("connected").with("agent_id", id).log(LOGGER, Level.INFO, "Tunnel ready")}.
 */
public final class Event {
    private final Map<String, Object> fields = new LinkedHashMap<>();

    private Event(String name) {
        fields.put("event", name);
    }

    private Event(Map<String, Object> copyOf) {
        fields.putAll(copyOf);
    }

    /**
     * Start an event.
     *
     * @param name stable event name, e.g. {@code connecting}
     * @return the event
     */
    public static Event of(String name) {
        return new Event(name);
    }

    /**
     * Add a field; null values are left out.
     *
     * @param key field name ({@code agent_id}, {@code cid}, {@code connector}, {@code reason}, ...)
     * @param value value; must never be a secret or payload
     * @return this event
     */
    public Event with(String key, Object value) {
        if (value != null) {
            fields.put(key, value);
        }
        return this;
    }

    /**
     * Fields of this event, {@code event} first.
     *
     * @return fields
     */
    public Map<String, Object> fields() {
        return fields;
    }

    /**
     * Log the event if the level is enabled.
     *
     * @param logger logger
     * @param level level
     * @param message human readable message
     */
    public void log(Logger logger, Level level, String message) {
        log(logger, level, message, null);
    }

    /**
     * Log the event with a throwable's class and message (never its stack trace below DEBUG).
     *
     * @param logger logger
     * @param level level
     * @param message human readable message
     * @param error optional error
     */
    public void log(Logger logger, Level level, String message, Throwable error) {
        if (!logger.isLoggable(level)) {
            return;
        }
        LogRecord record = new LogRecord(level, message);
        record.setLoggerName(logger.getName());
        if (error != null) {
            if (logger.isLoggable(Level.FINE)) {
                record.setThrown(error);
            }
            fields.putIfAbsent("error", error.getClass().getSimpleName()
                    + (error.getMessage() == null ? "" : ": " + error.getMessage()));
        }
        // a copy: the line is formatted later, on the log writer's thread (AsyncHandler), and says what was true now
        Event snapshot = new Event(fields);
        record.setParameters(new Object[] {snapshot});
        logger.log(record);
    }
}
