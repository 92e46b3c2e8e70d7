package io.nowconnect.hub.auth;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code token} command line: mints an HS256 agent token from the hub's secret file, so an operator can hand an
 * agent its credential without an identity provider.
 *
 * <pre>token --secret-file F --agent-id ID [--ttl 1h] [--audience nowconnect]</pre>
 *
 * <p>The TTL is a number with unit {@code s}, {@code m}, {@code h} or {@code d} ({@code 30s}, {@code 15m},
 * {@code 1h}, {@code 2d}) or an ISO-8601 duration ({@code PT1H}). Options may also be written {@code --name=value}.
 */
public final class TokenCommand {
    /** Audience used when {@code --audience} is not given. */
    public static final String DEFAULT_AUDIENCE = "nowconnect";
    /** Lifetime used when {@code --ttl} is not given. */
    public static final Duration DEFAULT_TTL = Duration.ofHours(1);

    static final String USAGE = "Usage: token --secret-file FILE --agent-id ID [--ttl 1h] [--audience "
            + DEFAULT_AUDIENCE + "]\n"
            + "  --ttl accepts 30s, 15m, 1h, 2d or ISO-8601 (PT1H); default 1h";

    private static final Set<String> OPTIONS = Set.of("--secret-file", "--agent-id", "--ttl", "--audience");
    private static final Pattern SIMPLE_TTL = Pattern.compile("(\\d{1,9})([smhd])");

    private TokenCommand() {
    }

    /**
     * Run the command. A leading {@code token} argument (the command name) is skipped if present.
     *
     * @param args command line arguments
     * @param out  receives the token, one line
     * @param err  receives error and usage messages
     * @return exit code: 0 on success, 2 on a usage error or a secret file that cannot be used
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Map<String, String> options = new HashMap<>();
        int start = args.length > 0 && "token".equals(args[0]) ? 1 : 0;
        for (int i = start; i < args.length; i++) {
            String arg = args[i];
            if ("-h".equals(arg) || "--help".equals(arg)) {
                out.println(USAGE);
                return 0;
            }
            String name = arg;
            String value;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                name = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                value = null;
            }
            if (!OPTIONS.contains(name)) {
                return usage(err, "unknown argument " + arg);
            }
            if (value == null || value.isBlank()) {
                return usage(err, name + " needs a value");
            }
            if (options.put(name, value) != null) {
                return usage(err, name + " given more than once");
            }
        }
        String secretFile = options.get("--secret-file");
        String agentId = options.get("--agent-id");
        if (secretFile == null || agentId == null) {
            return usage(err, secretFile == null ? "--secret-file is required" : "--agent-id is required");
        }
        Duration ttl;
        try {
            ttl = options.containsKey("--ttl") ? parseTtl(options.get("--ttl")) : DEFAULT_TTL;
        } catch (IllegalArgumentException e) {
            return usage(err, e.getMessage());
        }
        String audience = options.getOrDefault("--audience", DEFAULT_AUDIENCE);
        byte[] secret;
        try {
            secret = TokenMinter.readSecret(Path.of(secretFile));
        } catch (IllegalArgumentException e) {
            err.println("token: --secret-file: " + e.getMessage());
            return 2;
        } catch (RuntimeException e) {
            err.println("token: invalid --secret-file path");
            return 2;
        }
        out.println(TokenMinter.mintHs256(secret, agentId, ttl, audience));
        return 0;
    }

    /**
     * Parse a TTL such as {@code 30s}, {@code 15m}, {@code 1h}, {@code 2d} or {@code PT1H}.
     *
     * @param text TTL text
     * @return the positive duration
     * @throws IllegalArgumentException if the text is not a positive duration in one of these forms
     */
    static Duration parseTtl(String text) {
        String value = text.strip();
        Duration ttl;
        Matcher matcher = SIMPLE_TTL.matcher(value);
        if (matcher.matches()) {
            long amount = Long.parseLong(matcher.group(1));
            ttl = switch (matcher.group(2)) {
                case "s" -> Duration.ofSeconds(amount);
                case "m" -> Duration.ofMinutes(amount);
                case "h" -> Duration.ofHours(amount);
                default -> Duration.ofDays(amount);
            };
        } else {
            try {
                ttl = Duration.parse(value);
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("invalid --ttl " + value + " (use 30s, 15m, 1h, 2d or PT1H)");
            }
        }
        if (ttl.isZero() || ttl.isNegative()) {
            throw new IllegalArgumentException("--ttl must be positive");
        }
        return ttl;
    }

    private static int usage(PrintStream err, String problem) {
        err.println("token: " + problem + "\n" + USAGE);
        return 2;
    }
}
