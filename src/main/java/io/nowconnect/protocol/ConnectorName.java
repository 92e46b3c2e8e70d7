package io.nowconnect.protocol;

import java.util.regex.Pattern;

/**
 * The one rule for connector names, wherever they come from (agent and hub configuration, HELLO, tokens): 1 to 63
 * letters, digits, {@code _} and {@code -}, starting with a letter or digit. Such names are safe as metric labels
 * and in environment variable names ({@code NC_TARGET_<name>_HOST}).
 */
public final class ConnectorName {
    private static final Pattern PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");

    private ConnectorName() {
    }

    /**
     * Whether a string is a valid connector name.
     *
     * @param name candidate
     * @return true when valid
     */
    public static boolean isValid(String name) {
        return name != null && PATTERN.matcher(name).matches();
    }

    /**
     * The rule in words, for error messages.
     *
     * @return description
     */
    public static String rule() {
        return "1 to 63 letters, digits, '_' or '-', starting with a letter or digit";
    }
}
