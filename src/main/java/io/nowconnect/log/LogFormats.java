package io.nowconnect.log;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * The two line formats: {@code plain} (readable) and {@code json} (one object per line).
 *
 * <p>Every record is exactly one line, whatever it carries: values may come from peers (a HELLO's {@code ver}, close
 * and reset reasons, cids, a proxy's answer), so the message, every field value and error text are escaped for all C0
 * and C1 control characters (a newline becomes {@code \n}, U+009B {@code \u009b}) and for the invisible and bidi
 * format characters that make a line read other than it is (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069, U+2028,
 * U+2029, U+061C, U+FEFF), and capped ({@link #MAX_MESSAGE}, {@link #MAX_VALUE} characters, then
 * {@code ...(N more)}). In the plain format a value with a space, quote or {@code =} is quoted so that it cannot pose
 * as another field, and so is a message with a quote or {@code =} (a message that embeds a peer's text cannot pose as
 * fields either). A stack trace (DEBUG, or a library's error) is the one exception: {@code stack} in JSON, indented
 * lines after the record in plain, each line escaped and capped the same way.
 */
final class LogFormats {
    /** Longest message kept, in characters. */
    static final int MAX_MESSAGE = 1024;
    /** Longest field value kept, in characters. */
    static final int MAX_VALUE = 256;
    private static final int MAX_FRAMES = 60;
    private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    private LogFormats() {
    }

    static String levelName(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return "ERROR";
        }
        if (v >= Level.WARNING.intValue()) {
            return "WARNING";
        }
        if (v >= Level.INFO.intValue()) {
            return "INFO";
        }
        return "DEBUG";
    }

    static Map<String, Object> fields(LogRecord r) {
        Object[] params = r.getParameters();
        if (params != null && params.length == 1 && params[0] instanceof Event e) {
            return e.fields();
        }
        return Map.of();
    }

    static String message(LogRecord r) {
        Object[] params = r.getParameters();
        String msg = r.getMessage() == null ? "" : r.getMessage();
        if (params != null && params.length > 0 && !(params[0] instanceof Event) && msg.contains("{")) {
            try {
                return java.text.MessageFormat.format(msg, params);
            } catch (IllegalArgumentException e) {
                return msg;
            }
        }
        return msg;
    }

    /**
     * Whether a character is escaped in log lines: C0 and C1 controls, DEL, the line and paragraph separators and the
     * invisible or bidi format characters (zero-width spaces and joiners, direction marks, embeddings, overrides and
     * isolates, the Arabic letter mark, the byte order mark).
     *
     * @param c character
     * @return true when it must not reach a log line as is
     */
    static boolean unsafe(char c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f)
                || (c >= '\u200b' && c <= '\u200f') || (c >= '\u2028' && c <= '\u202e')
                || (c >= '\u2066' && c <= '\u2069') || c == '\u061c' || c == '\ufeff';
    }

    /**
     * A value made safe for one log line: the {@linkplain #unsafe unsafe} characters escaped as {@code \n},
     * {@code \r}, {@code \t} or {@code \}{@code uXXXX}, then cut at {@code max} characters with a
     * {@code ...(N more)} marker.
     *
     * @param s value, possibly from a peer
     * @param max longest result before the marker
     * @return the escaped, capped value
     */
    static String clean(String s, int max) {
        if (s == null) {
            return "null";
        }
        int limit = Math.min(s.length(), max);
        StringBuilder sb = null;
        for (int i = 0; i < limit; i++) {
            char c = s.charAt(i);
            if (unsafe(c)) {
                if (sb == null) {
                    sb = new StringBuilder(limit + 16).append(s, 0, i);
                }
                switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> sb.append(String.format("\\u%04x", (int) c));
                }
            } else if (sb != null) {
                sb.append(c);
            }
        }
        String out = sb == null ? s.substring(0, limit) : sb.toString();
        return s.length() > max ? out + "...(" + (s.length() - max) + " more)" : out;
    }

    /**
     * A stack trace with one line per frame: each throwable's class and message escaped and capped, at most
     * {@value #MAX_FRAMES} frames each.
     *
     * @param t throwable
     * @return lines separated by {@code \n}
     */
    static String stackTrace(Throwable t) {
        StringBuilder sb = new StringBuilder(512);
        java.util.Set<Throwable> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Throwable c = t; c != null && seen.add(c); c = c.getCause()) {
            if (c != t) {
                sb.append("Caused by: ");
            }
            sb.append(clean(c.getClass().getName() + (c.getMessage() == null ? "" : ": " + c.getMessage()), MAX_VALUE))
                    .append('\n');
            StackTraceElement[] frames = c.getStackTrace();
            for (int i = 0; i < Math.min(frames.length, MAX_FRAMES); i++) {
                sb.append("\tat ").append(clean(frames[i].toString(), MAX_VALUE)).append('\n');
            }
            if (frames.length > MAX_FRAMES) {
                sb.append("\t... ").append(frames.length - MAX_FRAMES).append(" more\n");
            }
        }
        return sb.toString();
    }

    /**
     * The {@code error} text of a record: the event's own {@code error} field, else the thrown exception's class and
     * message (a library's failure).
     */
    static String error(LogRecord r, Map<String, Object> fields) {
        Object e = fields.get("error");
        if (e != null) {
            return String.valueOf(e);
        }
        Throwable t = r.getThrown();
        if (t == null) {
            return null;
        }
        return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
    }

    /** A plain-format value: escaped, capped, and quoted when it holds a space, quote or equals sign. */
    static String plainValue(Object v) {
        String s = clean(String.valueOf(v), MAX_VALUE);
        if (s.isEmpty() || s.indexOf(' ') >= 0 || s.indexOf('"') >= 0 || s.indexOf('=') >= 0) {
            return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
        }
        return s;
    }

    /**
     * A plain-format message: escaped, capped, and quoted when it holds a quote or equals sign, because a message may
     * embed a peer's text and must not pose as fields.
     */
    static String plainMessage(String message) {
        String s = clean(message, MAX_MESSAGE);
        if (s.indexOf('"') >= 0 || s.indexOf('=') >= 0) {
            return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
        }
        return s;
    }

    static String shortLogger(String name) {
        if (name == null) {
            return "";
        }
        int dot = name.lastIndexOf('.');
        return dot < 0 ? name : name.substring(dot + 1);
    }

    /** {@code 2026-11-28T11:00:00.000Z INFO  Tunnel - Tunnel ready event=connected agent_id=a1}. */
    static final class Plain extends Formatter {
        @Override
        public String format(LogRecord r) {
            StringBuilder sb = new StringBuilder(160);
            sb.append(TS.format(r.getInstant())).append(' ');
            String level = levelName(r.getLevel());
            sb.append(level).append(" ".repeat(Math.max(1, 8 - level.length())));
            sb.append(shortLogger(r.getLoggerName())).append(" - ").append(plainMessage(message(r)));
            Map<String, Object> fields = fields(r);
            for (Map.Entry<String, Object> f : fields.entrySet()) {
                sb.append(' ').append(f.getKey()).append('=').append(plainValue(f.getValue()));
            }
            String error = fields.containsKey("error") ? null : error(r, fields);
            if (error != null) {
                sb.append(" error=").append(plainValue(error));
            }
            sb.append(System.lineSeparator());
            if (r.getThrown() != null) {
                for (String line : stackTrace(r.getThrown()).split("\n")) {
                    sb.append("    ").append(line).append(System.lineSeparator());
                }
            }
            return sb.toString();
        }
    }

    /** {@code {"ts":"…","level":"INFO","logger":"…","msg":"…","event":"connected",…}}. */
    static final class Json extends Formatter {
        @Override
        public String format(LogRecord r) {
            StringBuilder sb = new StringBuilder(200);
            sb.append("{\"ts\":");
            string(sb, TS.format(r.getInstant() == null ? Instant.now() : r.getInstant()));
            sb.append(",\"level\":");
            string(sb, levelName(r.getLevel()));
            sb.append(",\"logger\":");
            string(sb, r.getLoggerName() == null ? "" : r.getLoggerName());
            sb.append(",\"msg\":");
            string(sb, clean(message(r), MAX_MESSAGE));
            Map<String, Object> fields = fields(r);
            for (Map.Entry<String, Object> f : fields.entrySet()) {
                sb.append(',');
                string(sb, f.getKey());
                sb.append(':');
                Object v = f.getValue();
                if (v instanceof Number || v instanceof Boolean) {
                    sb.append(v);
                } else {
                    string(sb, clean(String.valueOf(v), MAX_VALUE));
                }
            }
            String error = fields.containsKey("error") ? null : error(r, fields);
            if (error != null) {
                sb.append(",\"error\":");
                string(sb, clean(error, MAX_VALUE));
            }
            if (r.getThrown() != null) {
                sb.append(",\"stack\":");
                string(sb, stackTrace(r.getThrown()));
            }
            return sb.append('}').append('\n').toString();
        }

        private static void string(StringBuilder sb, String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (unsafe(c)) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
                }
            }
            sb.append('"');
        }
    }
}
