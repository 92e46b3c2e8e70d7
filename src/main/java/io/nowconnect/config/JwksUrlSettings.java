package io.nowconnect.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The identity provider's JWKS URL, whose keys verify agent tokens beside (or instead of) the key files. Present only
 * when {@code NC_HUB_JWKS_URL} is set.
 *
 * @param url {@code NC_HUB_JWKS_URL}: https (http only to a loopback address); fetched at start and kept fresh
 * @param caBundle {@code NC_HUB_JWKS_CA_BUNDLE} (none: the JVM's trust store): PEM CAs trusted for it
 * @param minRefresh {@code NC_HUB_JWKS_MIN_REFRESH_SEC} (5): the shortest time between two fetches, for a
 *                   {@code max-age} below it and for tokens naming an unknown {@code kid}
 * @param timeout {@code NC_HUB_JWKS_TIMEOUT_MS} (5000): deadline of one fetch
 */
public record JwksUrlSettings(URI url, Optional<Path> caBundle, Duration minRefresh, Duration timeout) {

    /**
     * Read the JWKS URL settings.
     *
     * @param s settings with their problem list
     * @return the settings, or empty when {@code NC_HUB_JWKS_URL} is not set
     */
    static Optional<JwksUrlSettings> read(Settings s) {
        Optional<String> raw = s.optional("NC_HUB_JWKS_URL").map(String::strip).filter(v -> !v.isEmpty());
        Optional<Path> ca = s.certificateFile("NC_HUB_JWKS_CA_BUNDLE");
        int minRefresh = s.integer("NC_HUB_JWKS_MIN_REFRESH_SEC", 5, 1, 3600);
        int timeout = s.integer("NC_HUB_JWKS_TIMEOUT_MS", 5000, 100, 60_000);
        return raw.flatMap(v -> s.serviceUrl("NC_HUB_JWKS_URL", v))
                .map(u -> new JwksUrlSettings(u, ca, Duration.ofSeconds(minRefresh), Duration.ofMillis(timeout)));
    }
}
