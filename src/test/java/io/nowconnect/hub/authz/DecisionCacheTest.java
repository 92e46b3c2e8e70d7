package io.nowconnect.hub.authz;

import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The PDP decision cache: its bound, its TTL, and what makes two requests the same. */
@Timeout(10)
class DecisionCacheTest {
    private static final DecisionCache.Decision ALLOW = new DecisionCache.Decision(true, Optional.empty());

    @Test
    void neverHoldsMoreThanItsBoundAndDropsTheLeastRecentlyUsed() {
        DecisionCache cache = new DecisionCache(60_000_000_000L, 100);
        AccessRequest kept = request("10.0.0.1");
        cache.put(kept, ALLOW, 0);
        for (int i = 0; i < 10_000; i++) {
            cache.put(request("10.1." + (i / 256) + "." + (i % 256)), ALLOW, 0);
            cache.get(kept, 0); // used again and again: never the eldest
        }
        assertEquals(100, cache.size());
        assertTrue(cache.get(kept, 0).isPresent(), "the recently used entry stays");
        assertTrue(cache.get(request("10.1.0.0"), 0).isEmpty(), "the least recently used went");
    }

    @Test
    void anEntryExpiresAfterItsTtl() {
        DecisionCache cache = new DecisionCache(1000, 10);
        cache.put(request("10.0.0.1"), ALLOW, 0);
        assertTrue(cache.get(request("10.0.0.1"), 999).isPresent());
        assertTrue(cache.get(request("10.0.0.1"), 1000).isEmpty());
        assertEquals(0, cache.size(), "an expired entry is dropped when seen");
    }

    @Test
    void aZeroTtlKeepsNothing() {
        DecisionCache cache = new DecisionCache(0, 10);
        cache.put(request("10.0.0.1"), ALLOW, 0);
        assertEquals(0, cache.size());
    }

    @Test
    void everyFieldOfTheRequestIsPartOfTheKey() {
        DecisionCache cache = new DecisionCache(60_000_000_000L, 10);
        cache.put(new AccessRequest("10.0.0.1", "ldap", "a", "hub-0", "0.0.0.0:1389"), ALLOW, 0);
        assertTrue(cache.get(new AccessRequest("10.0.0.1", "ldap", "a", "hub-0", "0.0.0.0:1389"), 0).isPresent());
        assertTrue(cache.get(new AccessRequest("10.0.0.1", "ldap", "b", "hub-0", "0.0.0.0:1389"), 0).isEmpty(), "agent");
        assertTrue(cache.get(new AccessRequest("10.0.0.1", "db", "a", "hub-0", "0.0.0.0:1389"), 0).isEmpty(), "connector");
        assertTrue(cache.get(new AccessRequest("10.0.0.1", "ldap", "a", "hub-1", "0.0.0.0:1389"), 0).isEmpty(), "replica");
    }

    private static AccessRequest request(String address) {
        return new AccessRequest(address, "ldap", "site-a", "hub-0", "0.0.0.0:1389");
    }
}
