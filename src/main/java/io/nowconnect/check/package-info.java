/**
 * {@code nowconnect check} and {@code nowconnect hub check}: a preflight of an installation that changes nothing. Each
 * check is one line of a {@link Report} (OK, WARN or FAIL, a figure, what was seen and what to do); the agent's checks
 * ({@link AgentCheck}) reuse the agent's own configuration, token reading, HTTP client, TLS and proxy code through
 * {@link io.nowconnect.tunnel.HubProbe}, the hub's ({@link HubCheck}) its configuration and key checks.
 */
package io.nowconnect.check;
