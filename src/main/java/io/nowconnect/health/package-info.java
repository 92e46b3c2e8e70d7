/**
 * What probes and operators read: the raw TCP health port and, in later modes, HTTP health and metrics. Everything
 * here only reads {@link io.nowconnect.tunnel.TunnelStatus}; nothing probes the hub.
 */
package io.nowconnect.health;
