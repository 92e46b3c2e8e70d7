package io.nowconnect.hub.auth;

import java.util.List;

/**
 * Where the hub's verification keys come from; {@link TokenVerifier} asks for the current {@link KeySet} on every
 * token and every second for every live tunnel, so a source that changes its set (a key file rewritten, a JWKS
 * fetched again) takes effect at once. Implementations: {@link FileKeySource} ({@code NC_HUB_JWT_SECRET_FILE},
 * {@code NC_HUB_JWKS_FILE}); a source that fetches a JWKS URL (a later {@code NC_HUB_JWKS_URL}) plugs in here the
 * same way: it parses what it fetched with the JWKS reader the file source uses and hands out the last good set.
 *
 * <p>Threads: {@link #keys()} is called from any thread and must not block (return the last set read).
 */
public interface KeySource {
    /**
     * The keys trusted now.
     *
     * @return the current set, never null
     */
    KeySet keys();

    /**
     * A token names a key id that {@link #keys()} lacks: a source that can look again (a JWKS URL whose provider may
     * have rotated) does so, within its own rate limit, and may wait a moment for the answer. Files do not: they are
     * read again when they change.
     *
     * @param kid the key id the token names
     * @return the keys to verify with now
     */
    default KeySet refreshFor(String kid) {
        return keys();
    }

    /**
     * One source holding the keys of several, in order.
     *
     * @param sources the sources
     * @return the union, read afresh from the sources on each call (cached while they hold the same sets)
     */
    static KeySource union(List<? extends KeySource> sources) {
        List<KeySource> all = List.copyOf(sources);
        if (all.size() == 1) {
            return all.getFirst();
        }
        return new KeyRing(all);
    }
}
