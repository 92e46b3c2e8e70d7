package io.nowconnect.hub.auth;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code token} command line: mints an HS256 agent token from the hub's secret file, so an operator can hand an
 * agent its credential without an identity provider.
 *
 * <pre>token --secret-file F --agent-id ID --connectors a,b [--ttl 1h] [--audience A] [--issuer I]</pre>
 *
 * <p>The TTL is a number with unit {@code s}, {@code m}, {@code h} or {@code d} ({@code 30s}, {@code 15m},
 * {@code 1h}, {@code 2d}) or an ISO-8601 duration ({@code PT1H}). {@code --connectors} puts the {@code connectors}
 * claim in the token: the hub then routes only these connectors to the agent. It is required, since a hub refuses
 * unscoped tokens by default ({@code NC_HUB_REQUIRE_CONNECTORS_CLAIM=true}); {@code --unscoped} mints a token without
 * the claim, for a hub that still allows them. The token is signed with the first (newest) secret of the file. {@code --issuer} sets {@code iss}
 * (for a hub with {@code NC_HUB_ISSUER}). Options may also be written {@code --name=value}. A secret shorter than
 * {@value KeyStrength#MIN_SECRET_BYTES} bytes is refused (exit 2).
 */
public final class TokenCommand {
    /** Audience used when {@code --audience} is not given. */
    public static final String DEFAULT_AUDIENCE = "nowconnect";
    /** Lifetime used when {@code --ttl} is not given. */
    public static final Duration DEFAULT_TTL = Duration.ofHours(1);

    static final String USAGE = "Usage: token --secret-file FILE --agent-id ID --connectors a,b [--ttl 1h] [--audience "
            + DEFAULT_AUDIENCE + "] [--issuer ISS]\n"
            + "  --ttl accepts 30s, 15m, 1h, 2d or ISO-8601 (PT1H); default 1h\n"
            + "  --connectors: the only connectors the hub will route to this agent (required)\n"
            + "  --unscoped instead of --connectors: a token for any connector (only for a hub with\n"
            + "    NC_HUB_REQUIRE_CONNECTORS_CLAIM=false)\n"
            + "  the token is signed with the first (newest) secret of the file";

    private static final Set<String> OPTIONS = Set.of("--secret-file", "--agent-id", "--ttl", "--audience",
                                                      "--connectors", "--issuer");
    private static final String UNSCOPED = "--unscoped";
    private static final Pattern SIMPLE_TTL = Pattern.compile("(\\d{1,9})([smhd])");
    private static final Pattern CONNECTOR = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");

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
        boolean unscoped = false;
        int start = args.length > 0 && "token".equals(args[0]) ? 1 : 0;
        for (int i = start; i < args.length; i++) {
            String arg = args[i];
            if ("-h".equals(arg) || "--help".equals(arg)) {
                out.println(USAGE);
                return 0;
            }
            if (UNSCOPED.equals(arg)) {
                unscoped = true;
                continue;
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
        if (unscoped == options.containsKey("--connectors")) {
            return usage(err, unscoped ? "--connectors and --unscoped exclude each other"
                    : "--connectors is required (hubs refuse tokens without it unless NC_HUB_REQUIRE_CONNECTORS_CLAIM=false;"
                            + " --unscoped mints one for such a hub)");
        }
        String audience = options.getOrDefault("--audience", DEFAULT_AUDIENCE);
        List<String> connectors;
        try {
            connectors = options.containsKey("--connectors") ? parseConnectors(options.get("--connectors")) : List.of();
        } catch (IllegalArgumentException e) {
            return usage(err, e.getMessage());
        }
        Optional<String> issuer = Optional.ofNullable(options.get("--issuer")).map(String::strip);
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
        Optional<String> weak = KeyStrength.secretProblem("--secret-file " + secretFile, secret.length);
        if (weak.isPresent()) {
            err.println("token: " + weak.get());
            return 2;
        }
        out.println(TokenMinter.mintHs256(secret, agentId, ttl, audience, connectors, issuer));
        return 0;
    }

    /**
     * Parse {@code a,b}: connector names (letters, digits, {@code _} or {@code -}, as in {@code NC_CONNECTORS}).
     *
     * @param text the option's value
     * @return the names in order, without duplicates, never empty
     * @throws IllegalArgumentException naming the first bad name, or when the list is empty
     */
    static List<String> parseConnectors(String text) {
        List<String> names = new ArrayList<>();
        for (String raw : text.split(",")) {
            String name = raw.strip();
            if (name.isEmpty()) {
                continue;
            }
            if (!CONNECTOR.matcher(name).matches()) {
                throw new IllegalArgumentException("--connectors: \"" + name + "\" is not a connector name "
                                                           + "(letters, digits, _ or -)");
            }
            if (!names.contains(name)) {
                names.add(name);
            }
        }
        if (names.isEmpty()) {
            throw new IllegalArgumentException("--connectors needs at least one connector name");
        }
        return names;
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
