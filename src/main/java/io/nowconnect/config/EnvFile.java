package io.nowconnect.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Parser for env files as systemd's {@code EnvironmentFile}, Docker's {@code --env-file} and compose use them:
 * {@code KEY=VALUE} lines, {@code #} comments, blank lines, an optional {@code export } prefix and optional single
 * or double quotes around the value (double quotes understand {@code \"}, {@code \\} and {@code \n}).
 */
public final class EnvFile {
    private static final Pattern KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*");

    private EnvFile() {
    }

    /**
     * Read and parse an env file.
     *
     * @param file the file
     * @return variables in file order
     * @throws ConfigException when the file cannot be read or has malformed lines (all of them listed)
     */
    public static Map<String, String> read(Path file) {
        return read(file, ConfigLoader.ENV_FILE_VAR);
    }

    /**
     * Read and parse an env file named by a given variable or option.
     *
     * @param file the file
     * @param source what named it ({@code --env-file} or {@code NC_ENV_FILE}), used in the error
     * @return variables in file order
     * @throws ConfigException when the file cannot be read or has malformed lines (all of them listed)
     */
    public static Map<String, String> read(Path file, String source) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(List.of(source + ": cannot read env file " + file + ": " + e.getClass().getSimpleName()));
        }
        return parse(text, file.toString());
    }

    /**
     * Parse env file text.
     *
     * @param text content
     * @param origin name used in error messages
     * @return variables in file order
     * @throws ConfigException listing every malformed line
     */
    public static Map<String, String> parse(String text, String origin) {
        Map<String, String> vars = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        // a UTF-8 byte order mark (Windows editors write one) is not part of the first variable's name
        String body = text.startsWith("\uFEFF") ? text.substring(1) : text;
        String[] lines = body.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("export ") || line.startsWith("export\t")) {
                line = line.substring(7).stripLeading();
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                problems.add(origin + ":" + (i + 1) + ": expected KEY=VALUE");
                continue;
            }
            String key = line.substring(0, eq).strip();
            if (!KEY.matcher(key).matches()) {
                problems.add(origin + ":" + (i + 1) + ": invalid variable name");
                continue;
            }
            String value = line.substring(eq + 1).strip();
            try {
                vars.put(key, unquote(value));
            } catch (IllegalArgumentException e) {
                // the value may be a secret: name the variable only
                problems.add(origin + ":" + (i + 1) + ": " + key + ": " + e.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return vars;
    }

    private static String unquote(String value) {
        if (value.isEmpty()) {
            return value;
        }
        char q = value.charAt(0);
        if (q == '\'' || q == '"') {
            int end = q == '"' ? closingDoubleQuote(value) : value.indexOf('\'', 1);
            if (end < 0) {
                throw new IllegalArgumentException("unterminated quote");
            }
            String rest = value.substring(end + 1).strip();
            if (!rest.isEmpty() && !rest.startsWith("#")) {
                throw new IllegalArgumentException("unexpected text after closing quote");
            }
            String inner = value.substring(1, end);
            return q == '"' ? unescape(inner) : inner;
        }
        // unquoted: an inline comment starts at " #"
        int hash = value.indexOf(" #");
        return hash >= 0 ? value.substring(0, hash).strip() : value;
    }

    private static int closingDoubleQuote(String value) {
        for (int i = 1; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                return i;
            }
        }
        return -1;
    }

    private static String unescape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                default -> sb.append(n);
                }
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
