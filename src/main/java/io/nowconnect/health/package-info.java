/**
 * What probes and operators read: the raw TCP health port ({@link io.nowconnect.health.TcpHealthServer}), the optional
 * HTTP endpoint with {@code /healthz}, {@code /readyz} and {@code /metrics} ({@link io.nowconnect.health.HttpEndpoint},
 * on Helidon's observe feature), the agent's meters ({@link io.nowconnect.health.AgentMetrics}) and the labelled
 * counters that the agent's and the hub's meters share ({@link io.nowconnect.health.Counters}). Everything here only
 * reads {@link io.nowconnect.tunnel.TunnelStatus} and the meter registry; nothing probes the hub.
 */
package io.nowconnect.health;
