package io.nowconnect.tunnel;

import java.time.Duration;

import io.nowconnect.mux.End;

/**
 * How a tunnel connection ended.
 *
 * @param reason why: the multiplexer's ({@code MuxReason}) or the agent's own ({@link EndReason})
 * @param detail human readable detail, never a secret
 * @param readyFor how long the tunnel was ready (zero if it never was)
 */
record TunnelEnd(End.Reason reason, String detail, Duration readyFor) {
}
