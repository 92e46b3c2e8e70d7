/**
 * Streams: one TCP socket paired with one {@code cid} on a tunnel, shared by the agent and the hub.
 *
 * <p>{@link io.nowconnect.stream.StreamTable} holds the streams of one tunnel and dispatches DATA, WINDOW, FIN and RST
 * to them;
 * each {@link io.nowconnect.stream.Stream} reads its socket on a virtual thread and writes it from a bounded queue on
 * a second one, which exists only from the stream's first received bytes until a quiet second, so the tunnel's reader
 * never blocks on a local socket and a slow peer only ever stalls its own stream. With {@code bin1}
 * ({@link io.nowconnect.stream.StreamTable#enableFlowControl}) each stream also keeps per-direction credit: its reader
 * sends only what the peer granted and its writer returns credit with WINDOW frames as the socket consumes bytes.
 */
package io.nowconnect.stream;
