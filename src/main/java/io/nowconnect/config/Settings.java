package io.nowconnect.config;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

import io.helidon.config.Config;

/**
 * Reads typed variables from a {@link Config} and collects every problem instead of failing at the first one.
 * One instance per validation pass; not thread-safe.
 */
final class Settings {
    private final Config config;
    private final List<String> problems = new ArrayList<>();

    Settings(Config config) {
        this.config = config;
    }

    Optional<String> optional(String name) {
        return config.get(name).asString().asOptional().map(String::strip).filter(s -> !s.isEmpty());
    }

    String required(String name, String meaning) {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            problems.add(name + " is required (" + meaning + ")");
            return "";
        }
        return v.get();
    }

    String string(String name, String defaultValue) {
        return optional(name).orElse(defaultValue);
    }

    int integer(String name, int defaultValue, int min, int max) {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            return defaultValue;
        }
        try {
            int n = Integer.parseInt(v.get());
            if (n < min || n > max) {
                problems.add(name + " must be between " + min + " and " + max + ", got " + n);
                return defaultValue;
            }
            return n;
        } catch (NumberFormatException e) {
            problems.add(name + " must be an integer, got \"" + clip(v.get()) + "\"");
            return defaultValue;
        }
    }

    int port(String name, int defaultValue) {
        return integer(name, defaultValue, 0, 65535);
    }

    Optional<Integer> optionalPort(String name) {
        return optional(name).isEmpty() ? Optional.empty() : Optional.of(integer(name, 0, 0, 65535));
    }

    boolean bool(String name, boolean defaultValue) {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            return defaultValue;
        }
        return switch (v.get().toLowerCase(Locale.ROOT)) {
        case "true", "1", "yes", "on" -> true;
        case "false", "0", "no", "off" -> false;
        default -> {
            problems.add(name + " must be true or false, got \"" + clip(v.get()) + "\"");
            yield defaultValue;
        }
        };
    }

    <T> T oneOf(String name, T defaultValue, Set<String> allowed, Function<String, T> mapper) {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            return defaultValue;
        }
        String value = v.get().toUpperCase(Locale.ROOT);
        for (String a : allowed) {
            if (a.equalsIgnoreCase(value)) {
                return mapper.apply(a);
            }
        }
        problems.add(name + " must be one of " + String.join("|", allowed) + ", got \"" + clip(v.get()) + "\"");
        return defaultValue;
    }

    String host(String name, String defaultValue) {
        String h = string(name, defaultValue);
        if (h.isEmpty() || h.contains(" ") || h.contains("/")) {
            problems.add(name + " must be a host name or IP address, got \"" + clip(h) + "\"");
        }
        return h;
    }

    Optional<Path> readableFile(String name) {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            return Optional.empty();
        }
        Path p = Path.of(v.get());
        if (!Files.isRegularFile(p)) {
            problems.add(name + ": file " + p + " does not exist or is not a regular file");
        } else if (!Files.isReadable(p)) {
            problems.add(name + ": file " + p + " is not readable");
        }
        return Optional.of(p);
    }

    /**
     * A readable PEM file holding at least one X.509 certificate.
     *
     * @param name variable
     * @return the path, if set
     */
    Optional<Path> certificateFile(String name) {
        Optional<Path> file = readableFile(name);
        if (file.isPresent() && Files.isReadable(file.get())) {
            try (var in = Files.newInputStream(file.get())) {
                if (java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                    problems.add(name + ": " + file.get() + " holds no PEM certificate");
                }
            } catch (java.io.IOException | java.security.cert.CertificateException e) {
                problems.add(name + ": " + file.get() + " is not a PEM certificate file (" + e.getClass().getSimpleName() + ")");
            }
        }
        return file;
    }

    /**
     * An https URL of a service the hub calls (identity provider, policy decision point), or http to a loopback
     * address; checked, with a trailing slash removed.
     *
     * @param name variable
     * @param value its value
     * @return the URL, or empty after a problem was recorded
     */
    Optional<URI> serviceUrl(String name, String value) {
        URI url;
        try {
            url = new URI(value.endsWith("/") ? value.substring(0, value.length() - 1) : value);
        } catch (URISyntaxException e) {
            problem(name + ": \"" + value + "\" is not a URL");
            return Optional.empty();
        }
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        if (url.getHost() == null || !(scheme.equals("https") || scheme.equals("http"))) {
            problem(name + ": \"" + value + "\" must be an https:// URL (or http:// to a loopback address)");
            return Optional.empty();
        }
        if (scheme.equals("http") && !isLoopback(url.getHost())) {
            problem(name + ": http:// is allowed only to a loopback address (127.0.0.1, ::1, localhost); use https://");
            return Optional.empty();
        }
        if (url.getRawQuery() != null || url.getRawFragment() != null || url.getRawUserInfo() != null) {
            problem(name + ": \"" + value + "\" must not carry a query, fragment or credentials");
            return Optional.empty();
        }
        return Optional.of(url);
    }

    void problem(String problem) {
        problems.add(problem);
    }

    void throwIfProblems() {
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
    }

    static boolean isLoopback(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (h.equalsIgnoreCase("localhost")) {
            return true;
        }
        if (h.matches("[0-9.]+") || h.contains(":")) {
            try {
                return InetAddress.getByName(h).isLoopbackAddress();
            } catch (Exception e) {
                return false;
            }
        }
        return false;
    }

    private static String clip(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "…" : s;
    }
}
