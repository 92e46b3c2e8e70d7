package io.nowconnect.hub.auth;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The keys the hub trusts at one moment: an immutable set read from the key files (or, later, fetched from a JWKS
 * URL). A token verifies with the keys of its algorithm that its {@code kid} selects; a live tunnel stays trusted while
 * the set still holds the key that admitted it ({@link #holds}). Immutable and thread safe.
 */
public final class KeySet {
    /** No keys. */
    static final KeySet EMPTY = new KeySet(List.of());

    private final List<VerificationKey> keys;
    private final Set<String> algorithms;
    private final Set<String> fingerprints;

    private KeySet(List<VerificationKey> keys) {
        this.keys = List.copyOf(keys);
        this.algorithms = Set.copyOf(keys.stream().map(VerificationKey::alg).toList());
        this.fingerprints = Set.copyOf(keys.stream().map(VerificationKey::fingerprint).toList());
    }

    static KeySet of(List<VerificationKey> keys) {
        return keys.isEmpty() ? EMPTY : new KeySet(keys);
    }

    /**
     * The keys of both sets, these first.
     *
     * @param other more keys
     * @return the union
     */
    KeySet plus(KeySet other) {
        if (other.keys.isEmpty()) {
            return this;
        }
        List<VerificationKey> all = new ArrayList<>(keys);
        all.addAll(other.keys);
        return new KeySet(all);
    }

    /**
     * Number of keys (one per key and algorithm it may verify).
     *
     * @return count
     */
    public int size() {
        return keys.size();
    }

    /**
     * The key ids in the set (not secret: they are in every token's header), for log lines.
     *
     * @return distinct key ids in order
     */
    public List<String> kids() {
        return List.copyOf(new LinkedHashSet<>(keys.stream().map(VerificationKey::kid).filter(k -> k != null).toList()));
    }

    /**
     * How many distinct keys of this set another set lacks.
     *
     * @param other the other set
     * @return keys here and not there
     */
    public int missingFrom(KeySet other) {
        return (int) fingerprints.stream().filter(f -> !other.fingerprints.contains(f)).count();
    }

    boolean holds(String fingerprint) {
        return fingerprints.contains(fingerprint);
    }

    Set<String> algorithms() {
        return algorithms;
    }

    /**
     * The keys that may verify a token: those of its algorithm that its {@code kid} names; when it names none of them,
     * those of its algorithm without an id; with no {@code kid}, every key of its algorithm.
     */
    List<VerificationKey> candidates(String alg, Optional<String> kid) {
        List<VerificationKey> named = keys.stream()
                .filter(key -> key.alg().equals(alg))
                .filter(key -> kid.isEmpty() || kid.get().equals(key.kid()))
                .toList();
        if (!named.isEmpty()) {
            return named;
        }
        return keys.stream().filter(key -> key.alg().equals(alg) && key.kid() == null).toList();
    }
}
