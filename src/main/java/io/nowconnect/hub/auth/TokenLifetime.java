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
 * token before {@code exp} and never meets this; a stolen or forgotten one does. A token whose verification key was
 * removed from the hub's keys ends the same way, from the moment the hub noticed ({@link #keyRemoved()}).
 *
 * <p>Threads: {@link #expired()} may be called from any thread (stream routing); {@link #closeNow(int)} from the one
 * thread that maintains the tunnel.
 */
public final class TokenLifetime {
    /** Log event when a live tunnel's token expires, and the close reason. */
    public static final String EXPIRED = "token_expired";
    /** Log event when the key that verified a live tunnel's token was removed, and the close reason. */
    public static final String KEY_REMOVED = "token_key_removed";

    private static final Logger LOGGER = Logger.getLogger(TokenLifetime.class.getName());

    private final String agentId;
    /** Epoch milliseconds (not {@code Instant}s: a hub holds thousands of these). */
    private volatile long usableUntil;
    private volatile long closeBy;
    private final long drainMillis;
    private final Clock clock;
    private volatile boolean noticed;
    private volatile String ending = EXPIRED;

    private TokenLifetime(String agentId, Instant usableUntil, Duration drainTimeout, Clock clock) {
        this.agentId = agentId;
        this.usableUntil = usableUntil.toEpochMilli();
        this.closeBy = usableUntil.plus(drainTimeout).toEpochMilli();
        this.drainMillis = drainTimeout.toMillis();
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
     * The key that verified the token was removed: from now on the token counts as expired (no new streams, closed
     * once its streams end or a drain timeout from now). Only the maintaining thread calls it; later calls do nothing.
     */
    public void keyRemoved() {
        long now = clock.millis();
        if (now < usableUntil) {
            ending = KEY_REMOVED;
            closeBy = now + drainMillis;
            usableUntil = now;
        }
    }

    /**
     * Why the token no longer counts, once it does not: {@value #EXPIRED} or {@value #KEY_REMOVED}; the log event and
     * the tunnel's close reason.
     *
     * @return the reason
     */
    public String ending() {
        return ending;
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
            Event.of(ending).with("agent_id", agentId).with("streams", openStreams)
                    .log(LOGGER, Level.WARNING, (KEY_REMOVED.equals(ending) ? "The key of the agent's token was removed"
                            : "Agent token expired") + ": no new streams on its tunnel, closing it "
                            + (openStreams == 0 ? "now" : "once its open streams end"));
        }
        if (openStreams == 0) {
            return true;
        }
        if (now >= closeBy) {
            Event.of(ending + "_drain_timeout").with("agent_id", agentId).with("streams", openStreams)
                    .log(LOGGER, Level.WARNING, "Drain timeout after the token ended: closing the tunnel and its "
                            + openStreams + " open streams");
            return true;
        }
        return false;
    }
}
