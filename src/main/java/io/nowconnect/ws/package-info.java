/**
 * RFC 6455 framing on a connection that Helidon upgraded: {@link io.nowconnect.ws.WsReader} reads frames and
 * reassembles messages, {@link io.nowconnect.ws.WsWriter} writes them. The agent uses both on the client side of its
 * tunnel, the hub on the server side.
 *
 * <p>Why not Helidon's own WebSocket layer (4.2.0): it masks and unmasks payloads one byte at a time (about 3 % of a
 * plain socket's throughput from client to server, half the CPU in the masking loop), its sends share a buffer without
 * a lock, and it gives no signal when the TCP connection just ends. Helidon still does everything around the frames:
 * the HTTP upgrade, TLS, proxies and, on the hub, routing.
 */
package io.nowconnect.ws;
