package io.nowconnect.hub.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.log.Event;

/**
 * What a token is worth on a live tunnel: until its {@code exp} (plus the verifier's clock-skew leeway, see
 * {@link Claims#usableUntil()}) the tunnel may carry new streams; after it the tunnel gets none, and it is closed once
 * its open streams have ended, at the latest a drain timeout after the expiry. A well-behaved agent rotates its
 * token before {@code exp} and never meets this; a stolen or forgotten one does.
 *
 * <p>Threads: {@link #expired()} may be called from any thread (stream routing); {@link #closeNow(int)} from the one
 * thread that maintains the tunnel.
 */
public final class TokenLifetime {
    /** Log event when a live tunnel's token expires, and the close reason. */
    public static final String EXPIRED = "token_expired";

    private static final Logger LOGGER = Logger.getLogger(TokenLifetime.class.getName());

    private final String agentId;
    /** Epoch milliseconds (not {@code Instant}s: a hub holds thousands of these). */
    private final long usableUntil;
    private final long closeBy;
    private final Clock clock;
    private volatile boolean noticed;

    private TokenLifetime(String agentId, Instant usableUntil, Duration drainTimeout, Clock clock) {
        this.agentId = agentId;
        this.usableUntil = usableUntil.toEpochMilli();
        this.closeBy = usableUntil.plus(drainTimeout).toEpochMilli();
        this.clock = clock;
    }

    /**
     * The lifetime of a verified token on its tunnel.
     *
     * @param claims       the token's claims
     * @param drainTimeout how long open streams may go on after the expiry ({@code NC_HUB_DRAIN_TIMEOUT_SEC})
     * @return the lifetime
     */
    public static TokenLifetime of(Claims claims, Duration drainTimeout) {
        return of(claims, drainTimeout, Clock.systemUTC());
    }

    static TokenLifetime of(Claims claims, Duration drainTimeout, Clock clock) {
        Objects.requireNonNull(claims, "claims");
        if (drainTimeout.isNegative()) {
            throw new IllegalArgumentException("drainTimeout must not be negative");
        }
        return new TokenLifetime(claims.agentId(), claims.usableUntil(), drainTimeout, clock);
    }

    /**
     * Whether the token has expired: its tunnel must get no new stream.
     *
     * @return true from {@link Claims#usableUntil()} on
     */
    public boolean expired() {
        return clock.millis() >= usableUntil;
    }

    /**
     * Whether the tunnel must be closed now because its token expired: once no stream is open any more, or when the
     * drain timeout after the expiry is over (the open streams are then cut). Logs {@value #EXPIRED} at WARNING the
     * first time it sees the expiry.
     *
     * @param openStreams streams open on the tunnel now
     * @return true when the tunnel should be closed
     */
    public boolean closeNow(int openStreams) {
        long now = clock.millis();
        if (now < usableUntil) {
            return false;
        }
        if (!noticed) {
            noticed = true;
            Event.of(EXPIRED).with("agent_id", agentId).with("streams", openStreams)
                    .log(LOGGER, Level.WARNING, "Agent token expired: no new streams on its tunnel, closing it "
                            + (openStreams == 0 ? "now" : "once its open streams end"));
        }
        if (openStreams == 0) {
            return true;
        }
        if (now >= closeBy) {
            Event.of("token_expired_drain_timeout").with("agent_id", agentId).with("streams", openStreams)
                    .log(LOGGER, Level.WARNING, "Drain timeout after the token expired: closing the tunnel and its "
                            + openStreams + " open streams");
            return true;
        }
        return false;
    }
}
