package io.nowconnect.log;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/** The two line formats: {@code plain} (readable) and {@code json} (one object per line). */
final class LogFormats {
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

    static String stackTrace(Throwable t) {
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sw.toString();
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
            sb.append(shortLogger(r.getLoggerName())).append(" - ").append(message(r));
            for (Map.Entry<String, Object> f : fields(r).entrySet()) {
                sb.append(' ').append(f.getKey()).append('=').append(f.getValue());
            }
            sb.append(System.lineSeparator());
            if (r.getThrown() != null) {
                sb.append(stackTrace(r.getThrown()));
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
            string(sb, message(r));
            for (Map.Entry<String, Object> f : fields(r).entrySet()) {
                sb.append(',');
                string(sb, f.getKey());
                sb.append(':');
                Object v = f.getValue();
                if (v instanceof Number || v instanceof Boolean) {
                    sb.append(v);
                } else {
                    string(sb, String.valueOf(v));
                }
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
                    if (c < 0x20) {
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
