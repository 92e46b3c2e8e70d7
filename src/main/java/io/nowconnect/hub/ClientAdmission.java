package io.nowconnect.hub;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The client connections the hub's listeners hold, from accept to the end of their stream (waiting for an agent
 * included), against three limits: the process's ({@code NC_HUB_MAX_CONNECTIONS}), each connector's
 * ({@code NC_HUB_MAX_CONNECTIONS_PER_CONNECTOR}) and each client address's ({@code NC_HUB_MAX_CONNECTIONS_PER_CLIENT};
 * IPv6 addresses are grouped by their first {@code NC_HUB_CLIENT_IPV6_PREFIX} bits, since one host usually holds a
 * whole /64). So one client, or the clients of one connector, cannot take every connection of the hub.
 *
 * <p>Bounds: one counter per connector (the fixed listener list) and one per client address that holds a connection
 * now; an address's entry is removed when its count returns to 0, so the map holds at most
 * {@code NC_HUB_MAX_CONNECTIONS} entries.
 *
 * <p>Threads: lock-free; {@link #admit} and {@link Slot#release} run on the listeners' client threads and on stream
 * threads.
 */
final class ClientAdmission {
    /** Refusal reason: the process holds {@code NC_HUB_MAX_CONNECTIONS} (the stream limit's own reason). */
    static final String MAX_CONNECTIONS = "too_many_streams";
    /** Refusal reason: the connector holds {@code NC_HUB_MAX_CONNECTIONS_PER_CONNECTOR}. */
    static final String PER_CONNECTOR = "max_connections_per_connector";
    /** Refusal reason: the client address (or IPv6 prefix) holds {@code NC_HUB_MAX_CONNECTIONS_PER_CLIENT}. */
    static final String PER_CLIENT = "max_connections_per_client";

    private final int max;
    private final int perConnector;
    private final int perClient;
    private final int ipv6Prefix;
    private final AtomicInteger total = new AtomicInteger();
    private final Map<String, AtomicInteger> connectors = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InetAddress, Integer> clients = new ConcurrentHashMap<>();

    /**
     * Limits for a hub.
     *
     * @param max most client connections of the process
     * @param perConnector most of one connector
     * @param perClient most of one client address
     * @param ipv6Prefix prefix length that groups IPv6 client addresses
     * @param connectorNames the hub's connectors
     */
    ClientAdmission(int max, int perConnector, int perClient, int ipv6Prefix, Collection<String> connectorNames) {
        this.max = max;
        this.perConnector = perConnector;
        this.perClient = perClient;
        this.ipv6Prefix = ipv6Prefix;
        connectorNames.forEach(c -> connectors.put(c, new AtomicInteger()));
    }

    /**
     * Take a connection for a client of a connector, if every limit has room.
     *
     * @param connector the listener's connector
     * @param client the client's address
     * @return the slot to release when the connection ends, or a refused slot naming the limit
     */
    Slot admit(String connector, InetAddress client) {
        if (!below(total, max)) {
            return new Slot(this, connector, null, MAX_CONNECTIONS);
        }
        AtomicInteger c = connectors.computeIfAbsent(connector, k -> new AtomicInteger());
        if (!below(c, perConnector)) {
            total.decrementAndGet();
            return new Slot(this, connector, null, PER_CONNECTOR);
        }
        InetAddress key = key(client);
        boolean[] taken = new boolean[1];
        clients.compute(key, (k, n) -> {
            int held = n == null ? 0 : n;
            if (held >= perClient) {
                return n;
            }
            taken[0] = true;
            return held + 1;
        });
        if (!taken[0]) {
            c.decrementAndGet();
            total.decrementAndGet();
            return new Slot(this, connector, null, PER_CLIENT);
        }
        return new Slot(this, connector, key, null);
    }

    /** Client connections held now. */
    int held() {
        return total.get();
    }

    /** Client addresses (or IPv6 prefixes) that hold a connection now: the size of the per-address map. */
    int addresses() {
        return clients.size();
    }

    /** The address a client is counted under: itself, or for IPv6 its first {@code ipv6Prefix} bits. */
    InetAddress key(InetAddress client) {
        if (!(client instanceof Inet6Address) || ipv6Prefix >= 128) {
            return client;
        }
        byte[] a = client.getAddress();
        for (int bit = ipv6Prefix; bit < 128; bit++) {
            a[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        try {
            return InetAddress.getByAddress(a);
        } catch (UnknownHostException e) {
            return client;
        }
    }

    private void release(String connector, InetAddress key) {
        clients.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
        connectors.get(connector).decrementAndGet();
        total.decrementAndGet();
    }

    private static boolean below(AtomicInteger counter, int limit) {
        while (true) {
            int n = counter.get();
            if (n >= limit) {
                return false;
            }
            if (counter.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** One admitted client connection (or a refusal); {@link #release} is idempotent. */
    static final class Slot {
        private final ClientAdmission owner;
        private final String connector;
        private final InetAddress key;
        private final String refusal;
        private final AtomicBoolean released = new AtomicBoolean();

        private Slot(ClientAdmission owner, String connector, InetAddress key, String refusal) {
            this.owner = owner;
            this.connector = connector;
            this.key = key;
            this.refusal = refusal;
        }

        /** The limit that refused the client, or null when it was admitted. */
        String refusal() {
            return refusal;
        }

        /** Give the connection back (once; a refused slot holds nothing). */
        void release() {
            if (refusal == null && released.compareAndSet(false, true)) {
                owner.release(connector, key);
            }
        }
    }
}
