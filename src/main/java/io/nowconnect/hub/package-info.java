/**
 * The NowConnect hub: the {@code /tunnel} WebSocket endpoint that agents connect to ({@link
 * io.nowconnect.hub.AgentTunnel}), the registry that picks a tunnel for each new stream, the TCP listeners whose
 * client connections become streams, and JWT verification of agents ({@code auth}).
 */
package io.nowconnect.hub;
