package io.nowconnect.hub.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.is;

@Timeout(60)
class TokenLifetimeTest {
    private static final Instant EXP = Instant.parse("2026-11-28T12:00:00Z");

    /** A clock the test moves. */
    private static final class MovingClock extends Clock {
        private Instant now;

        MovingClock(Instant now) {
            this.now = now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private static TokenLifetime lifetime(MovingClock clock, Duration drain) {
        Claims claims = new Claims("agent-1", Optional.empty(), Optional.empty(), EXP, List.of("nowconnect"));
        return TokenLifetime.of(claims, drain, clock);
    }

    @Test
    void expiresAfterExpPlusLeeway() {
        MovingClock clock = new MovingClock(EXP.minusSeconds(60));
        TokenLifetime lifetime = lifetime(clock, Duration.ofSeconds(30));
        assertThat(lifetime.expired(), is(false));
        assertThat(lifetime.closeNow(0), is(false));

        // the verifier's clock-skew leeway holds on the live tunnel too: a token accepted at the upgrade is usable
        clock.now = EXP.plusSeconds(TokenVerifier.LEEWAY_SECONDS - 1);
        assertThat(lifetime.expired(), is(false));

        clock.now = EXP.plusSeconds(TokenVerifier.LEEWAY_SECONDS);
        assertThat(lifetime.expired(), is(true));
    }

    @Test
    void expiredTunnelClosesWhenItsStreamsEndOrAtTheDrainTimeout() {
        MovingClock clock = new MovingClock(EXP.plusSeconds(TokenVerifier.LEEWAY_SECONDS));
        TokenLifetime lifetime = lifetime(clock, Duration.ofSeconds(30));

        assertThat("streams still open", lifetime.closeNow(3), is(false));
        clock.now = clock.now.plusSeconds(29);
        assertThat(lifetime.closeNow(1), is(false));
        assertThat("the last stream ended", lifetime.closeNow(0), is(true));

        clock.now = clock.now.plusSeconds(1);
        assertThat("drain timeout over: closed with open streams", lifetime.closeNow(5), is(true));
    }

    @Test
    void removedKeyEndsTheTokenFromNowLikeAnExpiry() {
        MovingClock clock = new MovingClock(EXP.minusSeconds(3600));
        TokenLifetime lifetime = lifetime(clock, Duration.ofSeconds(30));
        assertThat(lifetime.ending(), is(TokenLifetime.EXPIRED));

        lifetime.keyRemoved();
        assertThat("no new streams from now", lifetime.expired(), is(true));
        assertThat(lifetime.ending(), is(TokenLifetime.KEY_REMOVED));
        assertThat("streams still open", lifetime.closeNow(2), is(false));
        clock.now = clock.now.plusSeconds(29);
        lifetime.keyRemoved();
        assertThat("a second notice does not move the drain deadline", lifetime.closeNow(2), is(false));
        clock.now = clock.now.plusSeconds(1);
        assertThat("drain timeout after the removal", lifetime.closeNow(2), is(true));
    }

    @Test
    void zeroDrainTimeoutClosesAtOnce() {
        MovingClock clock = new MovingClock(EXP.plusSeconds(TokenVerifier.LEEWAY_SECONDS));
        assertThat(lifetime(clock, Duration.ZERO).closeNow(4), is(true));
    }
}
