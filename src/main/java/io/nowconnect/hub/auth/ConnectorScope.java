package io.nowconnect.hub.auth;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * Which of the connectors an agent announces in HELLO the hub may route to it: those its token's {@code connectors}
 * claim names, or all of them when the token has no such claim. Without this any holder of a validly signed token
 * could announce another agent's connector and receive (or black-hole) its clients.
 *
 * <p>Immutable and thread safe.
 */
public final class ConnectorScope {
    /** Metric and log reason for a connector that a HELLO announced but the token does not allow. */
    public static final String NOT_ALLOWED = "connector_not_allowed";

    private static final Logger LOGGER = Logger.getLogger(ConnectorScope.class.getName());

    private final String agentId;
    private final Optional<Set<String>> allowed;

    private ConnectorScope(String agentId, Optional<Set<String>> allowed) {
        this.agentId = agentId;
        this.allowed = allowed;
    }

    /**
     * The scope a verified token grants.
     *
     * @param claims the token's claims
     * @return its scope
     */
    public static ConnectorScope of(Claims claims) {
        Objects.requireNonNull(claims, "claims");
        return new ConnectorScope(claims.agentId(), claims.connectors().map(Set::copyOf));
    }

    /**
     * Whether the token limits the connectors at all (it has a {@code connectors} claim).
     *
     * @return true for a scoped token
     */
    public boolean limited() {
        return allowed.isPresent();
    }

    /**
     * Whether the token allows serving a connector.
     *
     * @param connector connector name
     * @return true when allowed
     */
    public boolean allows(String connector) {
        return allowed.map(a -> a.contains(connector)).orElse(true);
    }

    /**
     * Split the connectors of a HELLO into those the hub may serve and those it refuses; each refused one is logged at
     * WARNING (event {@value #NOT_ALLOWED}, with {@code agent_id} and {@code connector}) and reported to
     * {@code refusal} with the reason {@value #NOT_ALLOWED}.
     *
     * @param announced connector names from the HELLO (already checked for form)
     * @param refusal   called once per refused connector with {@value #NOT_ALLOWED}, e.g. to count it
     * @return the split, in HELLO order
     */
    public Result apply(List<String> announced, Consumer<String> refusal) {
        List<String> served = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        for (String connector : announced) {
            (allows(connector) ? served : refused).add(connector);
        }
        for (String connector : refused) {
            refusal.accept(NOT_ALLOWED);
            Event.of(NOT_ALLOWED).with("agent_id", agentId).with("connector", connector)
                    .log(LOGGER, Level.WARNING, "Agent announced a connector its token does not allow: not routed");
        }
        return new Result(served, refused);
    }

    /**
     * The connectors of one HELLO, split by the token's scope.
     *
     * @param served  announced and allowed: the hub routes these to the agent
     * @param refused announced but not allowed: never routed
     */
    public record Result(List<String> served, List<String> refused) {
        /**
         * Copies the lists.
         */
        public Result {
            served = List.copyOf(served);
            refused = List.copyOf(refused);
        }

        /**
         * Whether the HELLO announced connectors but the token allows none of them: the hub then closes the tunnel
         * with 1008 (policy violation).
         *
         * @return true when nothing is left to serve after a refusal
         */
        public boolean noneLeft() {
            return served.isEmpty() && !refused.isEmpty();
        }
    }
}
