package io.nowconnect.hub.auth;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The verified claims of an agent token that the hub acts on: which agent it is and until when it may stay connected.
 *
 * @param agentId   the {@code agent_id} claim, never blank
 * @param subject   the {@code sub} claim, if present
 * @param jti       the {@code jti} (token id) claim, if present
 * @param expiresAt the {@code exp} claim
 * @param audience  the {@code aud} claim, always containing the configured audience
 */
public record Claims(String agentId, Optional<String> subject, Optional<String> jti, Instant expiresAt,
                     List<String> audience) {
    /**
     * Validates and copies the components.
     */
    public Claims {
        Objects.requireNonNull(agentId, "agentId");
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(jti, "jti");
        Objects.requireNonNull(expiresAt, "expiresAt");
        audience = List.copyOf(audience);
    }
}
