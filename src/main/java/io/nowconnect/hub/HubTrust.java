package io.nowconnect.hub;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.metrics.api.Metrics;

import io.nowconnect.config.ConfigException;
import io.nowconnect.config.HubConfig;
import io.nowconnect.hub.auth.FileKeySource;
import io.nowconnect.hub.auth.KeySource;
import io.nowconnect.hub.auth.Revocations;
import io.nowconnect.hub.auth.TokenVerifier;
import io.nowconnect.hub.auth.UrlKeySource;
import io.nowconnect.log.Event;
import io.nowconnect.watch.FileWatch;

/**
 * What the hub trusts, kept current without a restart: the verification keys ({@code NC_HUB_JWT_SECRET_FILE},
 * {@code NC_HUB_JWKS_FILE}) and the revocation list ({@code NC_HUB_REVOKED_FILE}), each read again when its file
 * changes, and the {@link TokenVerifier} over them. A file that changes into something unusable keeps the last good
 * content (logged as an error). With {@code NC_HUB_REQUIRE_CONNECTORS_CLAIM=false} it says once at start that unscoped
 * tokens may serve any connector.
 *
 * <p>Threads: one {@link FileWatch} (a virtual thread) reloads the files; {@link #verifier()} is used from any thread.
 * The watch is registered before the files are first read, so a change at start-up is not missed.
 */
final class HubTrust implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(HubTrust.class.getName());
    /** Quiet time after the last file event before the files are compared (a rename or a write in steps). */
    private static final Duration DEBOUNCE = Duration.ofMillis(200);
    /** Backup poll for file systems without events. */
    private static final Duration POLL = Duration.ofSeconds(5);

    private final TokenVerifier verifier;
    private final FileWatch watch;
    private final Optional<UrlKeySource> jwksUrl;

    private HubTrust(TokenVerifier verifier, FileWatch watch, Optional<UrlKeySource> jwksUrl) {
        this.verifier = verifier;
        this.watch = watch;
        this.jwksUrl = jwksUrl;
    }

    /**
     * Read the key files and the revocation list and watch them.
     *
     * @param config hub configuration
     * @return the running trust
     * @throws ConfigException when a file cannot be used or watched
     */
    static HubTrust start(HubConfig config) {
        List<Path> files = new ArrayList<>();
        config.jwtSecretFile().ifPresent(files::add);
        config.jwksFile().ifPresent(files::add);
        config.revokedFile().ifPresent(files::add);
        // file (absolute) -> its reload; filled once the files are read, read by the watch thread
        Map<Path, Runnable> reloads = new ConcurrentHashMap<>();
        FileWatch watch;
        try {
            // the watch first: a change between reading a file and watching it would otherwise be missed
            watch = FileWatch.start(files, changed -> reloads.getOrDefault(changed, () -> { }).run(), DEBOUNCE, POLL);
        } catch (IOException e) {
            throw new ConfigException(List.of("NC_HUB_JWT_SECRET_FILE/NC_HUB_JWKS_FILE/NC_HUB_REVOKED_FILE: cannot watch "
                                                      + files + " (" + e.getMessage() + ")"));
        }
        try {
            List<KeySource> sources = new ArrayList<>();
            List<String> problems = new ArrayList<>();
            Optional<FileKeySource> secret = source(config.jwtSecretFile(), FileKeySource::secretFile, problems);
            Optional<FileKeySource> jwks = source(config.jwksFile(), FileKeySource::jwksFile, problems);
            Revocations revocations = Revocations.none();
            try {
                revocations = config.revokedFile().map(Revocations::read).orElse(revocations);
            } catch (IllegalArgumentException e) {
                problems.add(e.getMessage());
            }
            if (!problems.isEmpty()) {
                throw new ConfigException(problems);
            }
            for (FileKeySource s : List.of(secret, jwks).stream().flatMap(Optional::stream).toList()) {
                sources.add(s);
                reloads.put(s.file().toAbsolutePath(), s::reload);
            }
            Optional<UrlKeySource> url = config.jwksUrl().map(u -> UrlKeySource.start(
                    u.url(), u.caBundle(), u.minRefresh(), u.timeout(), Metrics.globalRegistry()));
            url.ifPresent(sources::add);
            Revocations revoked = revocations;
            revoked.file().ifPresent(f -> reloads.put(f.toAbsolutePath(), revoked::reload));
            TokenVerifier verifier = TokenVerifier.create(KeySource.union(sources), revoked, config.audience(),
                                                          config.issuer(), config.requireConnectorsClaim());
            if (!config.requireConnectorsClaim()) {
                Event.of("connectors_claim_not_required")
                        .log(LOGGER, Level.WARNING, "NC_HUB_REQUIRE_CONNECTORS_CLAIM=false: a token without a connectors "
                                + "claim may serve any connector; mint scoped tokens (token --connectors) and remove "
                                + "this setting");
            }
            return new HubTrust(verifier, watch, url);
        } catch (RuntimeException e) {
            watch.close();
            throw e;
        }
    }

    private static Optional<FileKeySource> source(Optional<Path> file, Function<Path, FileKeySource> read,
                                                  List<String> problems) {
        try {
            return file.map(read);
        } catch (IllegalArgumentException e) {
            problems.add(e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * The verifier over the current keys and revocation list.
     *
     * @return verifier
     */
    TokenVerifier verifier() {
        return verifier;
    }

    /**
     * Whether the hub holds keys to verify agents with: false only while a JWKS URL has never been fetched.
     *
     * @return readiness of the keys
     */
    boolean keysReady() {
        return jwksUrl.map(u -> u.status().fetched()).orElse(true);
    }

    /**
     * The JWKS URL's freshness, when one is configured.
     *
     * @return its status
     */
    Optional<UrlKeySource.Status> jwksStatus() {
        return jwksUrl.map(UrlKeySource::status);
    }

    @Override
    public void close() {
        watch.close();
        jwksUrl.ifPresent(UrlKeySource::close);
    }
}
