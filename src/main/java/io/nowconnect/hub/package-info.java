/**
 * The NowConnect hub: the {@code /tunnel} WebSocket endpoint that agents connect to ({@link
 * io.nowconnect.hub.AgentTunnel}), the registry that picks a tunnel for each new stream, the TCP listeners whose
 * client connections become streams, JWT verification of agents ({@code auth}) and the TLS port's front door
 * ({@code tls}).
 */
package io.nowconnect.hub;
