package io.nowconnect.health;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Map;

import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.ServerResponse;

import io.nowconnect.Version;
import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.Target;
import io.nowconnect.hub.status.StatusHtml;
import io.nowconnect.hub.status.StatusPage;
import io.nowconnect.tunnel.TunnelStatus;

/**
 * The agent's own status page on its HTTP port ({@code NC_HTTP_PORT}): {@code GET /status}, server-rendered HTML
 * that reloads itself every 10 s (no script), with the tunnel state, the tunnels per hub replica, the connectors with
 * their targets and open streams, the token's time left and the last tunnel errors; the hub's style sheet at
 * {@code /status.css}. Nothing here reveals the token; every string is escaped.
 *
 * <p>Threads: Helidon's request threads; everything read ({@link TunnelStatus}, {@link AgentMetrics}) is thread-safe.
 */
public final class AgentStatusPage {
    private static final String CSP = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; "
            + "frame-ancestors 'none'";
    private static final long DAY = 86_400;

    private final AgentConfig config;
    private final TunnelStatus status;
    private final AgentMetrics metrics;
    private final byte[] style = StatusPage.stylesheet();
    private final Instant started = Instant.now();

    /**
     * A page over an agent's state.
     *
     * @param config the agent's configuration
     * @param status its tunnel state
     * @param metrics its meters (streams open per connector)
     */
    public AgentStatusPage(AgentConfig config, TunnelStatus status, AgentMetrics metrics) {
        this.config = config;
        this.status = status;
        this.metrics = metrics;
    }

    /**
     * Add the page's routes.
     *
     * @param rules the HTTP endpoint's routing
     */
    public void register(HttpRules rules) {
        rules.get("/status", (req, res) -> secure(res).header(HeaderNames.CONTENT_TYPE, "text/html; charset=utf-8")
                        .send(render()))
                .get("/status.css", (req, res) -> secure(res).header(HeaderNames.CONTENT_TYPE, "text/css; charset=utf-8")
                        .send(style));
    }

    private static ServerResponse secure(ServerResponse res) {
        return PageHeaders.secure(res, CSP);
    }

    /**
     * The page.
     *
     * @return HTML document
     */
    String render() {
        TunnelStatus.Snapshot s = status.snapshot();
        Instant now = Instant.now();
        StringBuilder b = new StringBuilder(4096);
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>NowConnect agent ")
                .append(esc(config.agentId())).append("</title><link rel=\"stylesheet\" href=\"status.css\"></head>\n<body>")
                .append("<header><h1>NowConnect agent <span id=\"agent-id\">").append(esc(config.agentId()))
                .append("</span></h1><p class=\"meta\">hub <b>").append(esc(s.hub())).append("</b> · version ")
                .append(esc(Version.current())).append(" · up ").append(StatusHtml.duration(seconds(started, now)))
                .append(" · reloads every 10 s</p></header>\n<main>\n<section class=\"cards\">");
        String state = s.state().name().toLowerCase(Locale.ROOT);
        card(b, "Tunnel", "state", state, s.ready() ? "ok" : "bad", "since " + stamp(s.since()));
        card(b, "Ready tunnels", "ready-tunnels", Integer.toString(s.readyTunnels()), "",
             s.readySince().map(t -> "up " + StatusHtml.duration(seconds(t, now))).orElse("down"));
        String left = status.tokenExpiresAt().map(t -> seconds(now, t)).map(l -> l <= 0 ? "expired" : StatusHtml.duration(l))
                .orElse("unknown");
        long leftSeconds = status.tokenExpiresAt().map(t -> seconds(now, t)).orElse(Long.MAX_VALUE);
        card(b, "Token left", "token", left, leftSeconds <= 0 ? "bad" : leftSeconds < DAY ? "warn" : "",
             status.tokenExpiresAt().map(t -> "exp " + stamp(t)).orElse("no tunnel yet"));
        b.append("</section>\n");
        replicas(b);
        connectors(b);
        errors(b);
        b.append("</main>\n<footer>The agent's own view; the hub's status page shows every agent.</footer></body></html>\n");
        return b.toString();
    }

    private void replicas(StringBuilder b) {
        b.append("<section><h2>Tunnels per hub replica</h2><table id=\"replicas\"><thead><tr><th>hub</th><th>replica</th>")
                .append("<th>state</th><th class=\"num\">tunnels</th></tr></thead><tbody>");
        Map<String, Map<String, Integer>> replicas = status.replicas();
        if (replicas.isEmpty()) {
            b.append("<tr class=\"none\"><td colspan=\"4\">the hub names no replicas (one hub, or before the first tunnel)")
                    .append("</td></tr>");
        }
        replicas.forEach((hub, byReplica) -> byReplica.forEach((replica, n) -> b.append("<tr data-replica=\"")
                .append(esc(replica)).append("\"").append(n > 0 ? "" : " class=\"down\"").append("><td>").append(esc(hub))
                .append("</td><td class=\"name\">").append(esc(replica)).append("</td><td>")
                .append(n > 0 ? "<span class=\"badge ok\">ready</span>" : "<span class=\"badge bad\">missing</span>")
                .append("</td><td class=\"num\">").append(n).append("</td></tr>")));
        b.append("</tbody></table></section>\n");
    }

    private void connectors(StringBuilder b) {
        b.append("<section><h2>Connectors</h2><table id=\"connectors\"><thead><tr><th>connector</th><th>target</th>")
                .append("<th class=\"num\">streams</th></tr></thead><tbody>");
        for (Map.Entry<String, Target> e : config.connectors().entrySet()) {
            b.append("<tr data-connector=\"").append(esc(e.getKey())).append("\"><td class=\"name\">").append(esc(e.getKey()))
                    .append("</td><td>").append(esc(e.getValue().toString())).append("</td><td class=\"num streams\">")
                    .append(metrics.activeStreams(e.getKey())).append("</td></tr>");
        }
        b.append("</tbody></table></section>\n");
    }

    private void errors(StringBuilder b) {
        b.append("<section><h2>Last tunnel errors</h2><table id=\"errors\"><thead><tr><th>when</th><th>error</th></tr>")
                .append("</thead><tbody>");
        var errors = status.recentErrors();
        if (errors.isEmpty()) {
            b.append("<tr class=\"none\"><td colspan=\"2\">none since start</td></tr>");
        }
        for (int i = errors.size() - 1; i >= 0; i--) {
            b.append("<tr><td>").append(stamp(errors.get(i).at())).append("</td><td>").append(esc(errors.get(i).error()))
                    .append("</td></tr>");
        }
        b.append("</tbody></table>");
        Map<String, Long> endings = status.endings();
        if (!endings.isEmpty()) {
            b.append("<p class=\"sub\" id=\"endings\">tunnel endings since start: ");
            endings.forEach((k, v) -> b.append(esc(k)).append(' ').append(v).append("; "));
            b.setLength(b.length() - 2);
            b.append("</p>");
        }
        b.append("</section>\n");
    }

    private static void card(StringBuilder b, String title, String id, String value, String cls, String sub) {
        b.append("<div class=\"card\"><h2>").append(title).append("</h2><p class=\"big ").append(cls).append("\" id=\"")
                .append(id).append("\">").append(esc(value)).append("</p><p class=\"sub\">").append(esc(sub))
                .append("</p></div>");
    }

    private static String stamp(Instant t) {
        return t.truncatedTo(ChronoUnit.SECONDS).toString().replace('T', ' ').replace("Z", " UTC");
    }

    private static long seconds(Instant from, Instant to) {
        return Duration.between(from, to).toSeconds();
    }

    private static String esc(String s) {
        return StatusHtml.esc(s);
    }
}
