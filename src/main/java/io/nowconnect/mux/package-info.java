/**
 * The tunnel multiplexer shared by both ends: {@link io.nowconnect.mux.Mux} reads and decodes frames, keeps the
 * stream table, pings, runs the close handshake and drains; {@link io.nowconnect.mux.MuxSink} is its one send path,
 * in the agreed encoding, onto the writer's two lanes.
 * The agent ({@code io.nowconnect.tunnel}) and the hub ({@code io.nowconnect.hub}) each plug in a
 * {@link io.nowconnect.mux.Role}: HELLO and OPEN handling, registries, rotation.
 */
package io.nowconnect.mux;
