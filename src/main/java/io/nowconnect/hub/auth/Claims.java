package io.nowconnect.hub.auth;

import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The verified claims of an agent token that the hub acts on: which agent it is, which connectors it may serve and
 * until when it may stay connected.
 *
 * @param agentId    the {@code agent_id} claim, never blank
 * @param subject    the {@code sub} claim, if present
 * @param jti        the {@code jti} (token id) claim, if present
 * @param expiresAt  the {@code exp} claim
 * @param audience   the {@code aud} claim, always containing the configured audience
 * @param issuer     the {@code iss} claim, if present
 * @param connectors the {@code connectors} claim: the connector names this agent may serve, in claim order without
 *                   duplicates; empty when the token has no such claim (then the token does not limit them)
 */
public record Claims(String agentId, Optional<String> subject, Optional<String> jti, Instant expiresAt,
                     List<String> audience, Optional<String> issuer, Optional<List<String>> connectors) {
    /** Name of the claim that limits the connectors an agent may serve. */
    public static final String CONNECTORS_CLAIM = "connectors";

    /**
     * Validates and copies the components.
     */
    public Claims {
        Objects.requireNonNull(agentId, "agentId");
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(jti, "jti");
        Objects.requireNonNull(expiresAt, "expiresAt");
        Objects.requireNonNull(issuer, "issuer");
        audience = List.copyOf(audience);
        connectors = connectors.map(c -> List.copyOf(new LinkedHashSet<>(c)));
    }

    /**
     * Claims of a token without {@code iss} and without a {@code connectors} claim.
     *
     * @param agentId   the {@code agent_id} claim
     * @param subject   the {@code sub} claim, if present
     * @param jti       the {@code jti} claim, if present
     * @param expiresAt the {@code exp} claim
     * @param audience  the {@code aud} claim
     */
    public Claims(String agentId, Optional<String> subject, Optional<String> jti, Instant expiresAt, List<String> audience) {
        this(agentId, subject, jti, expiresAt, audience, Optional.empty(), Optional.empty());
    }

    /**
     * Until when a tunnel opened with this token may carry new streams: {@code exp} plus the clock-skew leeway that the
     * verifier grants at the upgrade ({@value TokenVerifier#LEEWAY_SECONDS} s), so a token accepted at the upgrade is
     * never expired on its tunnel at once.
     *
     * @return the instant from which the token no longer counts
     */
    public Instant usableUntil() {
        return expiresAt.plusSeconds(TokenVerifier.LEEWAY_SECONDS);
    }
}
