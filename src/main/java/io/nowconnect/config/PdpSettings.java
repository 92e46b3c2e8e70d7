package io.nowconnect.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The hub's policy decision point (OpenID AuthZEN Authorization API 1.0), asked before each client connection becomes a
 * stream. Present only when {@code NC_HUB_PDP_URL} is set.
 *
 * @param url {@code NC_HUB_PDP_URL}: the PDP's base URL; requests go to {@code {url}/access/v1/evaluation}. https, or
 *            http only to a loopback address (a sidecar)
 * @param caBundle {@code NC_HUB_PDP_CA_BUNDLE} (none: the JVM's trust store): PEM CAs trusted for an https PDP
 * @param timeout {@code NC_HUB_PDP_TIMEOUT_MS} (500): the longest wait for a decision, connection included; past it
 *                the decision is an error
 * @param failOpen {@code NC_HUB_PDP_FAIL_OPEN} (false): when the PDP cannot answer (down, slow, malformed), allow the
 *                 client instead of refusing it
 * @param cacheTtl {@code NC_HUB_PDP_CACHE_TTL_MS} (5000; 0 = no cache): how long a decision is reused for a request
 *                 with the same client address, connector, agent, replica and listener
 * @param cacheEntries {@code NC_HUB_PDP_CACHE_ENTRIES} (10000): most decisions kept; the least recently used goes first
 */
public record PdpSettings(URI url, Optional<Path> caBundle, Duration timeout, boolean failOpen, Duration cacheTtl,
                          int cacheEntries) {

    /**
     * Read the PDP settings.
     *
     * @param s settings with their problem list
     * @return the settings, or empty when {@code NC_HUB_PDP_URL} is not set
     */
    static Optional<PdpSettings> read(Settings s) {
        Optional<String> raw = s.optional("NC_HUB_PDP_URL").map(String::strip).filter(v -> !v.isEmpty());
        Optional<Path> ca = s.certificateFile("NC_HUB_PDP_CA_BUNDLE");
        int timeout = s.integer("NC_HUB_PDP_TIMEOUT_MS", 500, 10, 60_000);
        boolean failOpen = s.bool("NC_HUB_PDP_FAIL_OPEN", false);
        int ttl = s.integer("NC_HUB_PDP_CACHE_TTL_MS", 5000, 0, 3_600_000);
        int entries = s.integer("NC_HUB_PDP_CACHE_ENTRIES", 10_000, 1, 1_000_000);
        if (raw.isEmpty()) {
            return Optional.empty();
        }
        Optional<URI> url = s.serviceUrl("NC_HUB_PDP_URL", raw.get());
        return url.map(u -> new PdpSettings(u, ca, Duration.ofMillis(timeout), failOpen, Duration.ofMillis(ttl), entries));
    }
}
