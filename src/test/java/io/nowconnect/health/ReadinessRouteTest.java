package io.nowconnect.health;

import java.util.concurrent.TimeUnit;

import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.Status;
import io.helidon.webclient.http1.Http1ClientResponse;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.testing.junit5.DirectClient;
import io.helidon.webserver.testing.junit5.RoutingTest;
import io.helidon.webserver.testing.junit5.SetUpRoute;

import io.nowconnect.tunnel.TunnelStatus;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code /readyz} route alone, through Helidon's {@code @RoutingTest} and its {@link DirectClient} (no socket): the
 * routing the agent's endpoint installs answers GET only, with JSON.
 */
@RoutingTest
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReadinessRouteTest {
    private static final TunnelStatus STATUS = TunnelStatus.create("ws://127.0.0.1:1/tunnel");

    private final DirectClient client;

    ReadinessRouteTest(DirectClient client) {
        this.client = client;
    }

    @SetUpRoute
    static void routing(HttpRouting.Builder routing) {
        HttpEndpoint.routing(routing, STATUS);
    }

    @Test
    void getAnswersJson() {
        try (Http1ClientResponse res = client.get("/readyz").request()) {
            assertEquals(Status.SERVICE_UNAVAILABLE_503, res.status());
            assertEquals("application/json", res.headers().first(HeaderNames.CONTENT_TYPE).orElse(""));
            assertTrue(res.as(String.class).startsWith("{\"state\":\""));
        }
    }

    @Test
    void otherMethodsAreNotRouted() {
        try (Http1ClientResponse res = client.method(Method.POST).path("/readyz").request()) {
            assertEquals(Status.NOT_FOUND_404, res.status());
        }
    }
}
