package io.nowconnect.tunnel;

import java.time.Duration;

/**
 * How a tunnel connection ended.
 *
 * @param reason why
 * @param detail human readable detail, never a secret
 * @param readyFor how long the tunnel was ready (zero if it never was)
 */
record TunnelEnd(EndReason reason, String detail, Duration readyFor) {
}
