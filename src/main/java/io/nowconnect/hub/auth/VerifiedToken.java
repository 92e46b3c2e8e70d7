package io.nowconnect.hub.auth;

import java.util.Objects;

/**
 * A token that verified: its claims and which key admitted it, so that a live tunnel can be ended when that key is
 * removed ({@link TokenVerifier#standing}). The token itself is not kept.
 *
 * @param claims the verified claims
 * @param key    fingerprint of the key that verified the signature (opaque; not key material, never logged)
 */
public record VerifiedToken(Claims claims, String key) {
    /**
     * Checks the components.
     */
    public VerifiedToken {
        Objects.requireNonNull(claims, "claims");
        Objects.requireNonNull(key, "key");
    }

    @Override
    public String toString() {
        return "VerifiedToken[agent_id=" + claims.agentId() + "]";
    }
}
