package io.nowconnect.hub.authz;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Decisions of the PDP kept for a short time, least recently used first out, never more than a fixed number: what a
 * flood of clients from many addresses can make it hold is bounded by {@code NC_HUB_PDP_CACHE_ENTRIES}. Only real
 * answers (allow and deny) are kept, never errors.
 *
 * <p>Threads: any; one lock (this object) guards the map, held for a map operation only.
 */
final class DecisionCache {
    private final long ttlNanos;
    private final int maxEntries;
    private final LinkedHashMap<AccessRequest, Entry> entries = new LinkedHashMap<>(64, 0.75f, true);

    DecisionCache(long ttlNanos, int maxEntries) {
        this.ttlNanos = ttlNanos;
        this.maxEntries = maxEntries;
    }

    /**
     * The decision for a request, if one younger than the TTL is kept.
     *
     * @param request the request (its every field is the key)
     * @param nowNanos {@link System#nanoTime()}
     * @return the kept decision
     */
    synchronized Optional<Decision> get(AccessRequest request, long nowNanos) {
        Entry e = entries.get(request);
        if (e == null) {
            return Optional.empty();
        }
        if (nowNanos - e.expiresNanos >= 0) {
            entries.remove(request);
            return Optional.empty();
        }
        return Optional.of(e.decision);
    }

    synchronized void put(AccessRequest request, Decision decision, long nowNanos) {
        if (ttlNanos <= 0) {
            return;
        }
        entries.put(request, new Entry(decision, nowNanos + ttlNanos));
        if (entries.size() > maxEntries) {
            Iterator<Map.Entry<AccessRequest, Entry>> eldest = entries.entrySet().iterator();
            eldest.next();
            eldest.remove();
        }
    }

    synchronized int size() {
        return entries.size();
    }

    /**
     * A PDP's answer.
     *
     * @param allowed its decision
     * @param reason its reason, if it gave one
     */
    record Decision(boolean allowed, Optional<String> reason) {
    }

    private record Entry(Decision decision, long expiresNanos) {
    }
}
