package io.nowconnect.mux;

/**
 * Which end of the tunnel this is. Immutable.
 *
 * @param server whether this is the hub's end (frames unmasked, the WebSocket server)
 * @param peer the peer's name in messages ({@code hub} or {@code agent})
 * @param threadName prefix of the writer thread's name
 * @param maxTickMillis longest period of the timer task (a quarter of the ping interval, at least 20 ms, at most
 *                      this): short on the agent (one tunnel, drains end promptly), longer on a hub with thousands
 */
public record Side(boolean server, String peer, String threadName, long maxTickMillis) {
    /** The agent's end: talks to a hub. */
    public static final Side AGENT = new Side(false, "hub", "nc-tunnel-writer", 250);
    /** The hub's end: talks to an agent. */
    public static final Side HUB = new Side(true, "agent", "nc-hub-writer", 1000);
}
