package io.nowconnect.hub.authz;

import java.util.Optional;

/**
 * The outcome of one client connection's policy check.
 *
 * @param allowed whether the client may go on
 * @param result how it was decided, the {@code result} label of {@code nowconnect_hub_pdp_decisions_total}:
 *               {@code allow}, {@code deny}, {@code error} (the PDP gave no usable answer; {@code allowed} then follows
 *               {@code NC_HUB_PDP_FAIL_OPEN}) or {@code cache_hit}
 * @param reason the PDP's reason when it gave one, or what went wrong (escaped for logs by the logger, clipped)
 */
public record Verdict(boolean allowed, String result, Optional<String> reason) {
}
