/**
 * The NowConnect hub: the {@code /tunnel} WebSocket endpoint that agents connect to ({@link
 * io.nowconnect.hub.AgentTunnel}), the registry that picks a tunnel for each new stream, the TCP listeners whose
 * client connections become streams, JWT verification of agents ({@code auth}), the TLS port's front door
 * ({@code tls}), and what else the hub serves over HTTP and where ({@link io.nowconnect.hub.HubAdmin}: {@code /healthz},
 * {@code /readyz}, {@code /metrics}, on the hub's port or the admin listener).
 */
package io.nowconnect.hub;
