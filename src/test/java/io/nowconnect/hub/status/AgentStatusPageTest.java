package io.nowconnect.hub.status;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import io.nowconnect.Agent;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's own status page on its HTTP port: tunnel state, replicas, connectors with their targets, the token's
 * time left (under a day: highlighted), and the last tunnel errors once its hub went away.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class AgentStatusPageTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void agentPageShowsTunnelsConnectorsTokenAndErrors(Harness harness) throws Exception {
        int echo = harness.echo().port();
        Hub hub = harness.startHub("echo");
        Agent agent = harness.agent(hub.port()).target("echo", echo)
                .env(Map.of("NC_HTTP_HOST", "127.0.0.1", "NC_HTTP_PORT", "0",
                            "NC_TOKEN_FILE", harness.tokenFile(Harness.AGENT_ID, Duration.ofHours(20)).toString()))
                .start();
        Harness.awaitReady(agent, Duration.ofSeconds(10));
        HttpResponse<String> page = get(agent.httpPort());
        assertEquals(200, page.statusCode());
        String html = page.body();
        assertTrue(html.contains("<span id=\"agent-id\">" + Harness.AGENT_ID + "</span>"), html);
        assertTrue(html.contains("id=\"state\">ready</p>"), html);
        assertTrue(html.contains("<tr data-connector=\"echo\"><td class=\"name\">echo</td><td>127.0.0.1:" + echo + "</td>"),
                   html);
        assertTrue(html.contains("<p class=\"big warn\" id=\"token\">19h 59m</p>")
                           || html.contains("<p class=\"big warn\" id=\"token\">19h 58m</p>"), html);
        assertTrue(html.contains("none since start"), html);
        assertTrue(page.headers().firstValue("Content-Security-Policy").orElseThrow().contains("default-src 'none'"));
        assertEquals(200, HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.httpPort()
                                                                              + "/status.css")).build(),
                                    HttpResponse.BodyHandlers.ofString()).statusCode());

        hub.close();
        Harness.await(Duration.ofSeconds(20), () -> !agent.status().recentErrors().isEmpty(), "a tunnel error");
        String after = get(agent.httpPort()).body();
        assertTrue(!after.contains("none since start") && after.contains("id=\"errors\""), after);
        assertTrue(after.contains("tunnel endings since start"), after);
    }

    private static HttpResponse<String> get(int port) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/status")).build(),
                         HttpResponse.BodyHandlers.ofString());
    }
}
