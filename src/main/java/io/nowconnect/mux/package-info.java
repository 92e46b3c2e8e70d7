/**
 * The tunnel multiplexer shared by both ends: {@link io.nowconnect.mux.Mux} reads and decodes frames, keeps the
 * stream table, sends on the writer's two lanes in the agreed encoding, pings, runs the close handshake and drains.
 * The agent ({@code io.nowconnect.tunnel}) and the hub ({@code io.nowconnect.hub}) each plug in a
 * {@link io.nowconnect.mux.Role}: HELLO and OPEN handling, registries, rotation.
 */
package io.nowconnect.mux;
