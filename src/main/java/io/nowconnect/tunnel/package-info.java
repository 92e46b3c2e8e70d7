/**
 * The agent's tunnel: one WebSocket connection to the hub ({@link io.nowconnect.tunnel.TunnelConnection}, a blocking
 * call that returns why it ended), the {@link io.nowconnect.tunnel.Supervisor} that decides to reconnect, wait or stop,
 * the back-off, the token source and the {@link io.nowconnect.tunnel.TunnelStatus} that health and metrics read. The
 * supervisor sees a connection only as a {@code Tunnel} made by a {@code Tunnel.Factory}, and time only through a
 * {@code TimeSource}: tests drive it with fakes of both. Above the supervisors, the {@link io.nowconnect.tunnel.Pool}
 * keeps one {@code ReplicaPool} per URL of {@code NC_AGENT_URL}, and each of those one supervisor per hub replica the
 * hub names ({@code replicas} capability), admitting a tunnel only to a replica no other supervisor holds
 * ({@code ReplicaGate}). {@link io.nowconnect.tunnel.HubProbe} lends the agent's HTTP client, TLS, proxy, upgrade and
 * HELLO to {@code nowconnect check} (one look at a hub, no stream).
 */
package io.nowconnect.tunnel;
