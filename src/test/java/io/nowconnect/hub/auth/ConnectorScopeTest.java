package io.nowconnect.hub.auth;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.is;

@Timeout(60)
class ConnectorScopeTest {
    private static Claims claims(Optional<List<String>> connectors) {
        return new Claims("agent-1", Optional.empty(), Optional.empty(), Instant.now().plusSeconds(60), List.of("nowconnect"),
                          Optional.empty(), connectors);
    }

    @Test
    void scopedTokenServesOnlyTheIntersection() {
        List<String> refusals = new ArrayList<>();
        ConnectorScope scope = ConnectorScope.of(claims(Optional.of(List.of("ldap", "db"))));

        ConnectorScope.Result result = scope.apply(List.of("ssh", "ldap", "web", "db"), refusals::add);

        assertThat(scope.limited(), is(true));
        assertThat(result.served(), is(List.of("ldap", "db")));
        assertThat(result.refused(), is(List.of("ssh", "web")));
        assertThat(result.noneLeft(), is(false));
        assertThat(refusals, is(List.of(ConnectorScope.NOT_ALLOWED, ConnectorScope.NOT_ALLOWED)));
    }

    @Test
    void helloWithNothingAllowedLeavesNone() {
        List<String> refusals = new ArrayList<>();
        ConnectorScope.Result result = ConnectorScope.of(claims(Optional.of(List.of("db"))))
                .apply(List.of("ldap"), refusals::add);

        assertThat(result.served(), is(List.of()));
        assertThat(result.noneLeft(), is(true));
        assertThat(refusals.size(), is(1));
        // an empty claim allows nothing at all
        assertThat(ConnectorScope.of(claims(Optional.of(List.of()))).apply(List.of("db"), r -> { }).noneLeft(), is(true));
    }

    @Test
    void tokenWithoutClaimServesEverythingAnnounced() {
        List<String> refusals = new ArrayList<>();
        ConnectorScope scope = ConnectorScope.of(claims(Optional.empty()));

        ConnectorScope.Result result = scope.apply(List.of("ldap", "db"), refusals::add);

        assertThat(scope.limited(), is(false));
        assertThat(result.served(), is(List.of("ldap", "db")));
        assertThat(result.refused(), is(List.of()));
        assertThat(refusals, is(List.of()));
        // a HELLO that announces nothing was refused nothing: not closed for scope reasons
        assertThat(scope.apply(List.of(), refusals::add).noneLeft(), is(false));
    }
}
