package io.nowconnect.hub.status;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The status page as server-rendered HTML, complete without JavaScript; {@code status.js} rebuilds the same elements
 * from {@code /status.json}. Every string that a peer or the configuration chose (agent ids, connector names, reasons)
 * goes through {@link #esc}. Stateless and thread-safe.
 */
public final class StatusHtml {
    /** Plot size in SVG user units: the latest rate at the right edge. */
    static final int PLOT_W = 180;
    static final int PLOT_H = 36;
    private static final long DAY = 86_400;

    private StatusHtml() {
    }

    /**
     * The page.
     *
     * @param s snapshot
     * @param points points a full plot has ({@link RateHistory#POINTS})
     * @return HTML document
     */
    public static String render(StatusSnapshot s, int points) {
        StringBuilder b = new StringBuilder(8192);
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<title>NowConnect hub ").append(esc(s.replica())).append("</title>")
                .append("<link rel=\"stylesheet\" href=\"status.css\">")
                .append("<script src=\"status.js\" defer></script></head>\n")
                .append("<body data-points=\"").append(points).append("\">\n<header><h1>NowConnect hub</h1>")
                .append("<p class=\"meta\">replica <b id=\"replica\">").append(esc(s.replica()))
                .append("</b> · version <span id=\"version\">").append(esc(s.version()))
                .append("</span> · up <span id=\"uptime\">").append(duration(s.uptimeSeconds()))
                .append("</span> · <span id=\"updated\">rendered by the hub; reload to refresh</span></p></header>\n<main>\n");
        cards(b, s);
        connectors(b, s);
        agents(b, s);
        reasons(b, s);
        b.append("</main>\n<footer>Plots: bytes per second, one point per ").append(s.sampleSeconds())
                .append(" s over the last ").append(duration(s.sampleSeconds() * points))
                .append(". Counts since the hub started; no tokens are shown.</footer>\n")
                .append("</body></html>\n");
        return b.toString();
    }

    private static void cards(StringBuilder b, StatusSnapshot s) {
        long served = s.connectors().stream().filter(c -> c.agents() > 0).count();
        StatusSnapshot.Process p = s.process();
        b.append("<section class=\"cards\">");
        card(b, "Agents", "agents-total", Integer.toString(s.agentsTotal()), null, 0, 0, "ready tunnels");
        card(b, "Connectors served", "served", served + " / " + s.connectors().size(), null, 0, 0,
             served < s.connectors().size() ? "some have no agent" : "all have an agent");
        card(b, "Tunnels", "tunnels", p.tunnelsOpen() + " / " + p.tunnelsMax(), "tunnels-meter", p.tunnelsOpen(),
             p.tunnelsMax(), "at most " + p.tunnelsPerAgentMax() + " per agent");
        card(b, "Memory budget", "memory", bytes(p.memoryUsedBytes()) + " / " + bytes(p.memoryLimitBytes()), "memory-meter",
             p.memoryUsedBytes(), p.memoryLimitBytes(), "held for streams");
        b.append("</section>\n");
    }

    private static void card(StringBuilder b, String title, String id, String value, String meter, long used, long max,
                             String sub) {
        b.append("<div class=\"card\"><h2>").append(title).append("</h2><p class=\"big\" id=\"").append(id).append("\">")
                .append(esc(value)).append("</p>");
        if (meter != null) {
            b.append("<meter id=\"").append(meter).append("\" min=\"0\" max=\"").append(Math.max(1, max))
                    .append("\" low=\"").append(max * 7 / 10).append("\" high=\"").append(max * 9 / 10)
                    .append("\" optimum=\"0\" value=\"").append(used).append("\"></meter>");
        }
        b.append("<p class=\"sub\" id=\"").append(id).append("-sub\">").append(esc(sub)).append("</p></div>");
    }

    private static void connectors(StringBuilder b, StatusSnapshot s) {
        b.append("<section><h2>Connectors</h2><table id=\"connectors\"><thead><tr><th>connector</th><th>port</th>")
                .append("<th class=\"num\">agents</th><th class=\"num\">streams</th><th class=\"num\">bytes/s</th>")
                .append("<th>recent bytes/s</th><th class=\"num\">carried</th><th class=\"num\">refused</th></tr></thead>")
                .append("<tbody>");
        for (StatusSnapshot.Connector c : s.connectors()) {
            boolean down = c.agents() == 0;
            long refused = c.refusals().values().stream().mapToLong(Long::longValue).sum();
            b.append("<tr data-connector=\"").append(esc(c.name())).append("\" class=\"").append(down ? "down" : "up")
                    .append("\"><td class=\"name\">").append(esc(c.name()))
                    .append(down ? " <span class=\"badge bad\">no agent</span>" : " <span class=\"badge ok\">served</span>")
                    .append("</td><td>").append(c.port()).append("</td><td class=\"num agents\">").append(c.agents())
                    .append("</td><td class=\"num streams\">").append(c.streams()).append("</td><td class=\"num rate\">")
                    .append(bytes(Math.round(c.bytesPerSecond()))).append("/s</td><td>");
            plot(b, c.rates(), s.sampleSeconds());
            b.append("</td><td class=\"num bytes\">").append(bytes(c.bytes())).append("</td><td class=\"num refused\" title=\"")
                    .append(esc(reasons(c.refusals()))).append("\">").append(refused).append("</td></tr>");
        }
        b.append("</tbody></table></section>\n");
    }

    private static void agents(StringBuilder b, StatusSnapshot s) {
        b.append("<section><h2>Agents</h2><table id=\"agents\"><thead><tr><th>agent</th><th>replica</th>")
                .append("<th>connected since</th><th>token left</th><th>capabilities</th><th>connectors</th>")
                .append("<th class=\"num\">streams</th><th class=\"num\">carried</th></tr></thead><tbody>");
        for (StatusSnapshot.Agent a : s.agents()) {
            String token = a.tokenSecondsLeft() <= 0 ? "bad" : a.tokenSecondsLeft() < DAY ? "warn" : "";
            b.append("<tr data-agent=\"").append(esc(a.id())).append("\"><td class=\"name\">").append(esc(a.id()))
                    .append(a.draining() ? " <span class=\"badge warn\">draining</span>" : "")
                    .append("</td><td>").append(esc(a.replica())).append("</td><td title=\"").append(esc(a.connectedSince()))
                    .append("\">").append(esc(a.connectedSince().replace('T', ' ').replace("Z", " UTC")))
                    .append(" <span class=\"sub\">(").append(duration(a.connectedSeconds())).append(")</span></td>")
                    .append("<td class=\"token ").append(token).append("\">")
                    .append(a.tokenSecondsLeft() <= 0 ? "expired" : duration(a.tokenSecondsLeft()))
                    .append("</td><td class=\"caps\">").append(esc(String.join(" ", a.caps())))
                    .append("</td><td>").append(esc(String.join(", ", a.connectors())))
                    .append("</td><td class=\"num streams\">").append(a.streams()).append("</td><td class=\"num bytes\">")
                    .append(bytes(a.bytes())).append("</td></tr>");
        }
        b.append("</tbody></table><p class=\"sub\" id=\"agents-more\">");
        if (s.agentsTotal() > s.agents().size()) {
            b.append("and ").append(s.agentsTotal() - s.agents().size()).append(" more (first ")
                    .append(StatusSnapshot.MAX_AGENTS).append(" by id shown)");
        }
        b.append("</p></section>\n");
    }

    private static void reasons(StringBuilder b, StatusSnapshot s) {
        b.append("<section><h2>Refusals and failures</h2><table id=\"reasons\"><thead><tr><th>what</th><th>reason</th>")
                .append("<th class=\"num\">count</th></tr></thead><tbody>");
        boolean any = false;
        for (StatusSnapshot.Connector c : s.connectors()) {
            for (Map.Entry<String, Long> e : c.refusals().entrySet()) {
                any |= reasonRow(b, "client of " + c.name(), e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<String, Long> e : s.process().tunnelRefusals().entrySet()) {
            any |= reasonRow(b, "tunnel refused", e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Long> e : s.process().authFailures().entrySet()) {
            any |= reasonRow(b, "auth failure", e.getKey(), e.getValue());
        }
        if (!any) {
            b.append("<tr class=\"none\"><td colspan=\"3\">none since start</td></tr>");
        }
        b.append("</tbody></table></section>\n");
    }

    private static boolean reasonRow(StringBuilder b, String what, String reason, long count) {
        b.append("<tr><td>").append(esc(what)).append("</td><td>").append(esc(reason)).append("</td><td class=\"num\">")
                .append(count).append("</td></tr>");
        return true;
    }

    /**
     * A sparkline of rates: an area and a line, the latest point at the right edge, scaled to the largest rate.
     *
     * @param b where to write
     * @param rates bytes per second, oldest first
     * @param sampleSeconds seconds per point
     */
    static void plot(StringBuilder b, List<Double> rates, long sampleSeconds) {
        String line = path(rates);
        double peak = rates.stream().mapToDouble(Double::doubleValue).max().orElse(0);
        String floor = String.format(Locale.ROOT, "%.1f", PLOT_H - 1.5);
        b.append("<svg class=\"plot\" viewBox=\"0 0 ").append(PLOT_W).append(' ').append(PLOT_H).append("\" width=\"")
                .append(PLOT_W).append("\" height=\"").append(PLOT_H).append("\" role=\"img\"><title>bytes per second, ")
                .append(sampleSeconds).append(" s per point; peak ").append(bytes(Math.round(peak))).append("/s</title>")
                .append("<path class=\"base\" d=\"M0,").append(floor).append(" L").append(PLOT_W).append(',').append(floor)
                .append("\"></path><path class=\"area\" d=\"")
                .append(line.isEmpty() ? "" : line + " L" + PLOT_W + "," + PLOT_H + " L" + x(rates.size(), 0) + ","
                        + PLOT_H + " Z")
                .append("\"></path><path class=\"line\" d=\"").append(line).append("\"></path></svg>");
    }

    private static String path(List<Double> rates) {
        if (rates.isEmpty()) {
            return "";
        }
        double max = Math.max(1, rates.stream().mapToDouble(Double::doubleValue).max().orElse(1));
        StringBuilder d = new StringBuilder();
        for (int i = 0; i < rates.size(); i++) {
            double y = (PLOT_H - 2) - (PLOT_H - 4) * rates.get(i) / max;
            d.append(i == 0 ? "M" : " L").append(x(rates.size(), i)).append(',').append(String.format(Locale.ROOT, "%.1f", y));
        }
        return d.toString();
    }

    /** X of point {@code i} of {@code n}: {@link RateHistory#POINTS} points span the width, the last at the right. */
    private static String x(int n, int i) {
        double step = (double) PLOT_W / (RateHistory.POINTS - 1);
        return String.format(Locale.ROOT, "%.1f", Math.max(0, PLOT_W - (n - 1 - i) * step));
    }

    private static String reasons(Map<String, Long> counts) {
        StringBuilder b = new StringBuilder();
        counts.forEach((k, v) -> b.append(b.isEmpty() ? "" : ", ").append(k).append(": ").append(v));
        return b.isEmpty() ? "none" : b.toString();
    }

    /**
     * HTML-escape text for element content and quoted attribute values.
     *
     * @param s text
     * @return escaped text
     */
    public static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
            case '&' -> b.append("&amp;");
            case '<' -> b.append("&lt;");
            case '>' -> b.append("&gt;");
            case '"' -> b.append("&quot;");
            case '\'' -> b.append("&#39;");
            default -> b.append(c < 0x20 && c != '\t' ? ' ' : c);
            }
        }
        return b.toString();
    }

    /**
     * Bytes in binary units ({@code 0 B}, {@code 12.3 KiB}, ...).
     *
     * @param n bytes
     * @return text
     */
    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    }

    /**
     * A duration as its two largest units ({@code 3d 4h}, {@code 5m 12s}).
     *
     * @param seconds seconds
     * @return text
     */
    public static String duration(long seconds) {
        long s = Math.max(0, seconds);
        if (s >= DAY) {
            return s / DAY + "d " + s % DAY / 3600 + "h";
        }
        if (s >= 3600) {
            return s / 3600 + "h " + s % 3600 / 60 + "m";
        }
        if (s >= 60) {
            return s / 60 + "m " + s % 60 + "s";
        }
        return s + "s";
    }
}
