/**
 * Streams: one TCP socket paired with one {@code cid} on a tunnel, shared by the agent and the hub.
 *
 * <p>{@link io.nowconnect.stream.StreamTable} holds the streams of one tunnel and dispatches DATA, FIN and RST to them;
 * each {@link io.nowconnect.stream.Stream} pumps its socket on two virtual threads behind a bounded queue, so the
 * tunnel's reader never blocks on a local socket and a slow peer only ever stalls its own stream.
 */
package io.nowconnect.stream;
