package io.nowconnect.config;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Proxy settings taken from the environment when {@code NC_TRUST_ENV=true}, with curl's conventions.
 *
 * <ul>
 *     <li>{@code https_proxy}/{@code HTTPS_PROXY} for {@code wss://}, {@code http_proxy}/{@code HTTP_PROXY} for
 *     {@code ws://}, {@code all_proxy}/{@code ALL_PROXY} when the scheme's own variable is unset; the lower-case
 *     variable wins when both are set.</li>
 *     <li>Proxy URL {@code http://[user[:password]@]host[:port][/]} (port 80 when absent; a bare {@code host:port} is
 *     taken as {@code http://}); user and password are percent-decoded (UTF-8).</li>
 *     <li>{@code no_proxy}/{@code NO_PROXY}: comma (or blank) separated; {@code *} (everything), a host name (matches
 *     itself and its sub-domains, with or without a leading {@code .} or {@code *.}), an IP literal, a CIDR range,
 *     each optionally with {@code :port}. Host names are compared, never resolved.</li>
 * </ul>
 *
 * <p>{@link #toString()} never shows a password.
 *
 * @param https proxy for {@code wss://}
 * @param http proxy for {@code ws://}
 * @param all fallback proxy for both
 * @param noProxy hosts reached directly
 */
public record ProxySettings(Optional<Server> https, Optional<Server> http, Optional<Server> all, List<NoProxyRule> noProxy) {

    /** No proxy at all ({@code NC_TRUST_ENV} false or unset). */
    public static final ProxySettings NONE = new ProxySettings(Optional.empty(), Optional.empty(), Optional.empty(), List.of());

    public ProxySettings {
        noProxy = List.copyOf(noProxy);
    }

    /**
     * One proxy server.
     *
     * @param variable the environment variable it came from (for logs and errors)
     * @param host host name or IP literal (IPv6 without brackets)
     * @param port port
     * @param username Basic user name, percent-decoded
     * @param password Basic password, percent-decoded; never logged
     */
    public record Server(String variable, String host, int port, Optional<String> username, Optional<String> password) {
        /**
         * {@code host:port} for logs and errors ({@code [v6]:port} for IPv6).
         *
         * @return address without credentials
         */
        public String address() {
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }

        @Override
        public String toString() {
            return "http://" + (username.isPresent() ? username.get() + ":***@" : "") + address() + " (" + variable + ")";
        }
    }

    /**
     * One {@code NO_PROXY} entry.
     *
     * @param any {@code *}: everything bypasses the proxy
     * @param domain lower-case host name (no leading dot), matching itself and its sub-domains; null when not a name
     * @param range IP literal or CIDR range; null when not an address
     * @param port required port, 0 for any
     */
    public record NoProxyRule(boolean any, String domain, Cidr range, int port) {
        boolean matches(String host, int hubPort) {
            if (port != 0 && port != hubPort) {
                return false;
            }
            if (any) {
                return true;
            }
            if (domain != null) {
                return host.equals(domain) || host.endsWith("." + domain);
            }
            Optional<InetAddress> address = ipLiteral(host);
            return address.isPresent() && range.contains(address.get());
        }
    }

    /**
     * Read the settings.
     *
     * @param env variable lookup (empty or blank values count as unset)
     * @param problems receives one message per invalid variable, naming it (never its value: it may hold a password)
     * @return settings (invalid variables are left out)
     */
    public static ProxySettings read(Function<String, Optional<String>> env, List<String> problems) {
        Optional<Server> https = server(env, problems, "https_proxy", "HTTPS_PROXY");
        Optional<Server> http = server(env, problems, "http_proxy", "HTTP_PROXY");
        Optional<Server> all = server(env, problems, "all_proxy", "ALL_PROXY");
        List<NoProxyRule> rules = new ArrayList<>();
        Optional<String> variable = pick(env, "no_proxy", "NO_PROXY");
        if (variable.isPresent()) {
            String raw = env.apply(variable.get()).orElseThrow();
            for (String entry : raw.split("[,\\s]+")) {
                if (!entry.isBlank()) {
                    noProxyRule(entry.strip(), variable.get(), problems).ifPresent(rules::add);
                }
            }
        }
        return new ProxySettings(https, http, all, rules);
    }

    /**
     * Read the settings from a plain map (tests, tools).
     *
     * @param env variables
     * @return settings
     * @throws ConfigException listing every invalid variable
     */
    public static ProxySettings fromMap(Map<String, String> env) {
        List<String> problems = new ArrayList<>();
        ProxySettings settings = read(name -> Optional.ofNullable(env.get(name)).map(String::strip)
                .filter(s -> !s.isEmpty()), problems);
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return settings;
    }

    /**
     * The proxy to use for the hub URL, if any: by scheme, then {@code ALL_PROXY}, unless {@code NO_PROXY} matches.
     *
     * @param hub hub URL ({@code ws}, {@code wss}, {@code http} or {@code https})
     * @return the proxy, empty to connect directly
     */
    public Optional<Server> forUrl(URI hub) {
        String scheme = hub.getScheme() == null ? "" : hub.getScheme().toLowerCase(Locale.ROOT);
        boolean secure = scheme.equals("wss") || scheme.equals("https");
        Optional<Server> server = (secure ? https : http).or(() -> all);
        if (server.isEmpty() || hub.getHost() == null) {
            return Optional.empty();
        }
        int port = hub.getPort() > 0 ? hub.getPort() : secure ? 443 : 80;
        return bypass(hub.getHost(), port) ? Optional.empty() : server;
    }

    /**
     * Whether {@code NO_PROXY} sends this host directly.
     *
     * @param host host name or IP literal (IPv6 with or without brackets)
     * @param port port
     * @return true when a rule matches
     */
    public boolean bypass(String host, int port) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        while (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        for (NoProxyRule rule : noProxy) {
            if (rule.matches(h, port)) {
                return true;
            }
        }
        return false;
    }

    /** The variable to read: the lower-case one when set (curl's rule), else the upper-case one. */
    private static Optional<String> pick(Function<String, Optional<String>> env, String lower, String upper) {
        if (env.apply(lower).isPresent()) {
            return Optional.of(lower);
        }
        return env.apply(upper).isPresent() ? Optional.of(upper) : Optional.empty();
    }

    private static Optional<Server> server(Function<String, Optional<String>> env, List<String> problems, String lower,
                                           String upper) {
        Optional<String> variable = pick(env, lower, upper);
        if (variable.isEmpty()) {
            return Optional.empty();
        }
        String name = variable.get();
        String raw = env.apply(name).orElseThrow().strip();
        String usage = name + " must be a proxy URL http://[user:password@]host[:port]";
        if (!raw.contains("://")) {
            raw = "http://" + raw;
        }
        URI uri;
        try {
            uri = new URI(raw);
        } catch (URISyntaxException e) {
            problems.add(usage + " (percent-encode special characters in the user name and password)");
            return Optional.empty();
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http")) {
            problems.add(usage + "; scheme \"" + clip(scheme) + "\" is not supported (only http:// proxies, "
                                 + "which tunnel TLS with CONNECT)");
            return Optional.empty();
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            problems.add(usage + " (no host, or special characters in the user name or password that are not "
                                 + "percent-encoded)");
            return Optional.empty();
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (!(path.isEmpty() || path.equals("/")) || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            problems.add(usage + " (no path or query)");
            return Optional.empty();
        }
        int port = uri.getPort() < 0 ? 80 : uri.getPort();
        if (port == 0 || port > 65535) {
            problems.add(usage + " (port must be between 1 and 65535)");
            return Optional.empty();
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        Optional<String> user = Optional.empty();
        Optional<String> password = Optional.empty();
        String info = uri.getRawUserInfo();
        if (info != null) {
            int colon = info.indexOf(':');
            try {
                user = Optional.of(percentDecode(colon < 0 ? info : info.substring(0, colon)));
                password = colon < 0 ? Optional.empty() : Optional.of(percentDecode(info.substring(colon + 1)));
            } catch (IllegalArgumentException e) {
                problems.add(name + ": the user name or password holds an invalid percent-escape");
                return Optional.empty();
            }
            if (user.get().isEmpty()) {
                problems.add(usage + " (empty user name)");
                return Optional.empty();
            }
        }
        return Optional.of(new Server(name, host, port, user, password));
    }

    private static Optional<NoProxyRule> noProxyRule(String entry, String variable, List<String> problems) {
        String e = entry.toLowerCase(Locale.ROOT);
        if (e.equals("*")) {
            return Optional.of(new NoProxyRule(true, null, null, 0));
        }
        int port = 0;
        String host = e;
        if (e.startsWith("[")) {
            int close = e.indexOf(']');
            if (close < 0) {
                problems.add(variable + ": \"" + clip(entry) + "\" is not a valid entry");
                return Optional.empty();
            }
            host = e.substring(1, close);
            String rest = e.substring(close + 1);
            if (rest.startsWith("/")) {
                // [v6]/prefix
                host = host + rest;
                rest = "";
            }
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    problems.add(variable + ": \"" + clip(entry) + "\" is not a valid entry");
                    return Optional.empty();
                }
                port = parsePort(rest.substring(1));
            }
        } else if (e.indexOf(':') >= 0 && e.indexOf(':') == e.lastIndexOf(':')) {
            // exactly one colon: host:port (more colons: an IPv6 literal without port)
            int colon = e.indexOf(':');
            host = e.substring(0, colon);
            port = parsePort(e.substring(colon + 1));
        }
        if (port < 0) {
            problems.add(variable + ": \"" + clip(entry) + "\" has an invalid port");
            return Optional.empty();
        }
        if (host.contains("/")) {
            Optional<Cidr> range = Cidr.parse(host);
            if (range.isEmpty()) {
                problems.add(variable + ": \"" + clip(entry) + "\" is not a valid CIDR range");
                return Optional.empty();
            }
            return Optional.of(new NoProxyRule(false, null, range.get(), port));
        }
        Optional<InetAddress> literal = ipLiteral(host);
        if (literal.isPresent()) {
            return Optional.of(new NoProxyRule(false, null, Cidr.parse(host).orElseThrow(), port));
        }
        if (host.startsWith("*.")) {
            host = host.substring(2);
        }
        while (host.startsWith(".")) {
            host = host.substring(1);
        }
        while (host.endsWith(".")) {
            host = host.substring(0, host.length() - 1);
        }
        if (host.isEmpty()) {
            // "." or ":8080" alone: nothing to match, as curl
            return Optional.empty();
        }
        return Optional.of(new NoProxyRule(false, host, null, port));
    }

    private static int parsePort(String s) {
        try {
            int p = Integer.parseInt(s);
            return p >= 1 && p <= 65535 ? p : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** An IPv4 dotted quad or IPv6 literal (no brackets), never resolved. */
    static Optional<InetAddress> ipLiteral(String host) {
        boolean v4 = host.matches("\\d{1,3}(\\.\\d{1,3}){3}");
        boolean v6 = host.contains(":") && host.matches("[0-9a-f:.]+");
        if (!v4 && !v6) {
            return Optional.empty();
        }
        try {
            return Optional.of(InetAddress.getByName(host));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    /** RFC 3986 percent-decoding as UTF-8; {@code +} stays a plus. */
    static String percentDecode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length()) {
                    throw new IllegalArgumentException("truncated escape");
                }
                int hi = Character.digit(s.charAt(i + 1), 16);
                int lo = Character.digit(s.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new IllegalArgumentException("bad escape");
                }
                out.write(hi * 16 + lo);
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                if (Character.isHighSurrogate(c) && i + 1 < s.length()) {
                    b = s.substring(i, i + 2).getBytes(StandardCharsets.UTF_8);
                    i++;
                }
                out.writeBytes(b);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(out.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("not UTF-8");
        }
    }

    private static String clip(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "…" : s;
    }
}
