package io.nowconnect.health;

import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;

/**
 * The headers every status page (the hub's and the agent's) is served with: never cached, its own content security
 * policy, no sniffing, no framing, no referrer.
 */
public final class PageHeaders {
    private PageHeaders() {
    }

    /**
     * Set the page headers on a response.
     *
     * @param res the response
     * @param csp the page's {@code Content-Security-Policy}
     * @return the response
     */
    public static ServerResponse secure(ServerResponse res, String csp) {
        return res.header(HeaderNames.CACHE_CONTROL, "no-store")
                .header("Content-Security-Policy", csp)
                .header("X-Content-Type-Options", "nosniff")
                .header("X-Frame-Options", "DENY")
                .header("Referrer-Policy", "no-referrer");
    }
}
