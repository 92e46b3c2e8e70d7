/**
 * The agent's tunnel: one WebSocket connection to the hub ({@link io.nowconnect.tunnel.TunnelConnection}, a blocking
 * call that returns why it ended), the {@link io.nowconnect.tunnel.Supervisor} that decides to reconnect, wait or stop,
 * the back-off, the token source and the {@link io.nowconnect.tunnel.TunnelStatus} that health and metrics read. The
 * supervisor sees a connection only as a {@code Tunnel} made by a {@code Tunnel.Factory}, and time only through a
 * {@code TimeSource}: tests drive it with fakes of both.
 */
package io.nowconnect.tunnel;
