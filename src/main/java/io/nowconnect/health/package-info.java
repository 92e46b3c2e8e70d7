/**
 * What probes and operators read: the raw TCP health port ({@link io.nowconnect.health.TcpHealthServer}), the optional
 * HTTP endpoint with {@code /healthz}, {@code /readyz} and {@code /metrics} ({@link io.nowconnect.health.HttpEndpoint},
 * metrics on Helidon's observe feature), the health paths' answers for HTTP/1.1 and HTTP/1.0 alike
 * ({@link io.nowconnect.health.Probes}; Helidon 4.2.0 answers HTTP/1.0 with 505, see {@code Http10Selector}), the
 * agent's meters ({@link io.nowconnect.health.AgentMetrics}), its status page
 * ({@link io.nowconnect.health.AgentStatusPage}) and the labelled counters that the agent's and the hub's meters share
 * ({@link io.nowconnect.health.Counters}). Everything here only reads {@link io.nowconnect.tunnel.TunnelStatus} and the
 * meter registry; nothing probes the hub.
 */
package io.nowconnect.health;
