package io.nowconnect.hub.status;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.nowconnect.config.ConfigException;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;
import io.nowconnect.hub.Hub;
import io.nowconnect.hub.auth.TokenMinter;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The status page over plain HTTP: the bearer token ({@code NC_HUB_ADMIN_TOKEN_FILE}), the escaping of a hostile agent
 * id in the server's HTML and in the JSON, the security headers, the bound on the plots' history, and the formats.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class StatusPageTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void bearerTokenGuardsThePageAndTheJson(Harness harness) throws Exception {
        Path token = harness.dir().resolve("admin.token");
        Files.writeString(token, "s3cret-admin-token-0123456789\n");
        Hub hub = harness.hub().env(Map.of("NC_HUB_ADMIN_PORT", "0", "NC_HUB_ADMIN_TOKEN_FILE", token.toString())).connectors("postgres").start();
        for (String path : List.of("/status", "/status.json")) {
            HttpResponse<String> none = get(hub, path, null);
            assertEquals(401, none.statusCode(), path);
            assertEquals("Bearer realm=\"nowconnect-status\"", none.headers().firstValue("WWW-Authenticate").orElseThrow());
            assertFalse(none.body().contains("postgres"), "nothing shown without the token");
            assertEquals(401, get(hub, path, "Bearer s3cret-admin-token-012345678").statusCode(), path);
            assertEquals(401, get(hub, path, "Basic s3cret-admin-token-0123456789").statusCode(), path);
            assertEquals(200, get(hub, path, "Bearer s3cret-admin-token-0123456789").statusCode(), path);
        }
        // a rotated token works at once
        Files.writeString(token, "rotated-admin-token-abcdefghij\n");
        assertEquals(401, get(hub, "/status", "Bearer s3cret-admin-token-0123456789").statusCode());
        assertEquals(200, get(hub, "/status", "Bearer rotated-admin-token-abcdefghij").statusCode());
        // the script and style sheet hold no data
        assertEquals(200, get(hub, "/status.js", null).statusCode());
        assertEquals(200, get(hub, "/status.css", null).statusCode());
    }

    @Test
    void shortOrMissingTokenFileIsAConfigError(Harness harness) throws Exception {
        Path shortToken = harness.dir().resolve("short.token");
        Files.writeString(shortToken, "short\n");
        for (String file : List.of(shortToken.toString(), harness.dir().resolve("missing").toString())) {
            ConfigException e = assertThrows(ConfigException.class, () -> HubConfig.create(ConfigLoader.fromMaps(
                    Map.of("NC_HUB_JWT_SECRET_FILE", harness.secret().toString(), "NC_HUB_ADMIN_TOKEN_FILE", file,
                           "NC_HUB_STATUS_SAMPLE_SEC", "0"), Map.of())));
            assertTrue(e.getMessage().contains("NC_HUB_ADMIN_TOKEN_FILE"), e.getMessage());
            assertTrue(e.getMessage().contains("NC_HUB_STATUS_SAMPLE_SEC"), e.getMessage());
        }
    }

    @Test
    void hostileAgentIdIsEscapedInHtmlAndJson(Harness harness) throws Exception {
        Hub hub = harness.hub().env(Map.of("NC_HUB_ADMIN_PORT", "0")).connectors("postgres").start();
        String hostile = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>";
        String jwt = TokenMinter.mintHs256(TokenMinter.readSecret(harness.secret()), hostile, Duration.ofHours(2),
                                           "nowconnect", java.util.List.of("postgres"), java.util.Optional.empty());
        try (RawAgent raw = RawAgent.connect(hub.port(), jwt)) {
            raw.send("{\"t\":\"HELLO\",\"agent_id\":" + new ObjectMapper().writeValueAsString(hostile)
                             + ",\"connectors\":[\"postgres\"],\"ver\":\"1.5\",\"caps\":[\"drain\"]}");
            raw.nextFrame("HELLO_ACK");
            Harness.await(Duration.ofSeconds(10), () -> hub.agentCount() == 1, "the hostile agent ready");
            HttpResponse<String> page = get(hub, "/status", null);
            assertEquals(200, page.statusCode());
            assertFalse(page.body().contains("<script>alert"), page.body());
            assertFalse(page.body().contains("<img src=x"), page.body());
            assertTrue(page.body().contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;&lt;img src=x "
                                                    + "onerror=alert(2)&gt;"), page.body());
            assertTrue(page.headers().firstValue("Content-Security-Policy").orElseThrow().contains("script-src 'self'"));
            assertEquals("nosniff", page.headers().firstValue("X-Content-Type-Options").orElseThrow());
            assertEquals("no-store", page.headers().firstValue("Cache-Control").orElseThrow());
            JsonNode json = new ObjectMapper().readTree(get(hub, "/status.json", null).body());
            assertEquals(hostile, json.get("agents").get(0).get("id").asText());
            assertEquals(List.of("drain"), List.of(json.get("agents").get(0).get("caps").get(0).asText()));
            assertTrue(json.get("agents").get(0).get("tokenSecondsLeft").asLong() > 7000);
            assertEquals(1, json.get("connectors").get(0).get("agents").asInt());
        }
    }

    @Test
    void historyKeepsAtMostItsPointsPerConfiguredConnector() {
        RateHistory h = RateHistory.manual(List.of("a", "b"), 5);
        assertEquals(List.of(), h.rates("a"));
        long t = 0;
        for (int i = 0; i <= 20; i++) {
            // 1000 bytes a second on a, a connector outside the configuration is ignored
            h.sample(Map.of("a", i * 1000L, "zzz", 5L), t);
            t += 1_000_000_000L;
        }
        assertEquals(List.of(1000.0, 1000.0, 1000.0, 1000.0, 1000.0), h.rates("a"));
        assertEquals(List.of(0.0, 0.0, 0.0, 0.0, 0.0), h.rates("b"));
        assertEquals(List.of(), h.rates("zzz"));
        // a counter that went down (counters of another hub in this JVM removed) is no negative rate
        h.sample(Map.of("a", 0L), t);
        assertEquals(0.0, h.rates("a").getLast());
    }

    @Test
    void formats() {
        assertEquals("0 B", StatusHtml.bytes(0));
        assertEquals("1023 B", StatusHtml.bytes(1023));
        assertEquals("1.5 KiB", StatusHtml.bytes(1536));
        assertEquals("300 MiB", StatusHtml.bytes(300L << 20));
        assertEquals("59s", StatusHtml.duration(59));
        assertEquals("1m 0s", StatusHtml.duration(60));
        assertEquals("23h 59m", StatusHtml.duration(86_399));
        assertEquals("2d 3h", StatusHtml.duration(2 * 86_400 + 3 * 3600 + 59));
        assertEquals("0s", StatusHtml.duration(-5));
        StringBuilder b = new StringBuilder();
        StatusHtml.plot(b, List.of(0.0, 50.0, 100.0), 10);
        assertTrue(b.toString().contains("class=\"line\" d=\"M176.0,34.0 L178.0,18.0 L180.0,2.0\""), b.toString());
    }

    private static HttpResponse<String> get(Hub hub, String path, String authorization) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + StatusPageBrowserTest.statusPort(hub)
                                                                          + path)).timeout(Duration.ofSeconds(5));
        if (authorization != null) {
            r.header("Authorization", authorization);
        }
        return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }
}
