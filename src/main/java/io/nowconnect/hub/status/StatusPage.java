package io.nowconnect.hub.status;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.nowconnect.health.PageHeaders;

/**
 * The hub's status page on a Helidon routing: {@code /status} (HTML, complete without JavaScript), {@code /status.json}
 * (the same {@link StatusSnapshot}), and the page's own script and style sheet ({@code /status.js},
 * {@code /status.css}, from the class path: no external asset, it works air-gapped). With a token file
 * ({@code NC_HUB_ADMIN_TOKEN_FILE}) the page and the JSON need {@code Authorization: Bearer <token>} (compared in
 * constant time; 401 otherwise); the script and style sheet hold no data and are served to anyone. Responses forbid
 * caching, framing and any script or style not from this origin (Content-Security-Policy).
 *
 * <p>Threads: Helidon's request threads; state is read from the {@link StatusSource} and the {@link RateHistory}, both
 * thread-safe. The token file is re-read per request (a rotated token works at once; the page is not a hot path).
 */
public final class StatusPage {
    private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            + "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final StatusSource source;
    private final RateHistory history;
    private final Optional<Path> tokenFile;
    private final byte[] script;
    private final byte[] style;

    /**
     * A page over a hub's state.
     *
     * @param source the hub's state
     * @param history the connectors' recent rates
     * @param tokenFile {@code NC_HUB_ADMIN_TOKEN_FILE}, if set
     */
    public StatusPage(StatusSource source, RateHistory history, Optional<Path> tokenFile) {
        this.source = source;
        this.history = history;
        this.tokenFile = tokenFile;
        this.script = resource("status.js");
        this.style = resource("status.css");
    }

    /**
     * Add the page's routes.
     *
     * @param rules routing (the hub's admin listener)
     */
    public void register(HttpRules rules) {
        rules.get("/status", this::page)
                .get("/status.json", this::json)
                .get("/status.js", (req, res) -> asset(res, "text/javascript; charset=utf-8", script))
                .get("/status.css", (req, res) -> asset(res, "text/css; charset=utf-8", style));
    }

    private void page(ServerRequest req, ServerResponse res) {
        if (authorized(req, res)) {
            secure(res).header(HeaderNames.CONTENT_TYPE, "text/html; charset=utf-8")
                    .send(StatusHtml.render(source.snapshot(history), RateHistory.POINTS));
        }
    }

    private void json(ServerRequest req, ServerResponse res) {
        if (authorized(req, res)) {
            try {
                secure(res).header(HeaderNames.CONTENT_TYPE, "application/json")
                        .send(JSON.writeValueAsBytes(source.snapshot(history)));
            } catch (JsonProcessingException e) {
                res.status(Status.INTERNAL_SERVER_ERROR_500).send();
            }
        }
    }

    private static void asset(ServerResponse res, String type, byte[] body) {
        secure(res).header(HeaderNames.CONTENT_TYPE, type).send(body);
    }

    private static ServerResponse secure(ServerResponse res) {
        return PageHeaders.secure(res, CSP);
    }

    /** Whether the request may see the page; if not, a 401 has been sent. */
    private boolean authorized(ServerRequest req, ServerResponse res) {
        if (tokenFile.isEmpty()) {
            return true;
        }
        String given = req.headers().first(HeaderNames.AUTHORIZATION).orElse("");
        boolean ok = false;
        if (given.regionMatches(true, 0, "Bearer ", 0, 7)) {
            try {
                String expected = Files.readString(tokenFile.get()).strip();
                // digests of equal length: the comparison takes the same time wherever the first difference is
                ok = !expected.isEmpty() && MessageDigest.isEqual(sha256(expected), sha256(given.substring(7).strip()));
            } catch (IOException | UncheckedIOException e) {
                ok = false;
            }
        }
        if (!ok) {
            secure(res).status(Status.UNAUTHORIZED_401)
                    .header(HeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"nowconnect-status\"")
                    .send();
        }
        return ok;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The page's style sheet (the agent's status page uses it too).
     *
     * @return CSS
     */
    public static byte[] stylesheet() {
        return resource("status.css");
    }

    private static byte[] resource(String name) {
        try (InputStream in = StatusPage.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing class path resource " + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
