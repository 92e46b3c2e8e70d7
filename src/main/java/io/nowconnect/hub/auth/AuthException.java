package io.nowconnect.hub.auth;

/**
 * A refused agent credential, carrying the HTTP status to answer with and a short reason for metrics and logs.
 *
 * <p>The message is safe to log: it never contains the token or any key material. The stack trace is not filled in,
 * because refusals are routine and can be frequent.
 */
public final class AuthException extends Exception {
    /** Status for a missing, malformed, unverifiable, expired or otherwise invalid token. */
    public static final int UNAUTHORIZED = 401;
    /** Status for a valid token whose agent is not allowed to do what it asked. */
    public static final int FORBIDDEN = 403;

    private static final long serialVersionUID = 1L;

    private final int status;
    private final String reason;

    private AuthException(int status, String reason, String message) {
        super(message, null, false, false);
        this.status = status;
        this.reason = reason;
    }

    /**
     * A 401 refusal: the credential is missing or invalid.
     *
     * @param reason  short, low-cardinality reason such as {@code expired}
     * @param message human-readable detail; must not contain the token
     * @return a new exception
     */
    public static AuthException unauthorized(String reason, String message) {
        return new AuthException(UNAUTHORIZED, reason, message);
    }

    /**
     * A 403 refusal: the credential is valid, but the agent is not allowed.
     *
     * @param reason  short, low-cardinality reason such as {@code agent_not_allowed}
     * @param message human-readable detail; must not contain the token
     * @return a new exception
     */
    public static AuthException forbidden(String reason, String message) {
        return new AuthException(FORBIDDEN, reason, message);
    }

    /**
     * HTTP status to answer with: {@value #UNAUTHORIZED} or {@value #FORBIDDEN}.
     *
     * @return status code
     */
    public int status() {
        return status;
    }

    /**
     * Short low-cardinality reason, usable as a metric tag: {@code missing_token}, {@code malformed},
     * {@code alg_not_allowed}, {@code unknown_key}, {@code bad_signature}, {@code missing_exp}, {@code expired},
     * {@code not_yet_valid}, {@code wrong_audience}, {@code missing_issuer}, {@code wrong_issuer},
     * {@code missing_agent_id}, {@code bad_connectors_claim} (401) or {@code connectors_claim_required} (403).
     *
     * @return reason
     */
    public String reason() {
        return reason;
    }
}
