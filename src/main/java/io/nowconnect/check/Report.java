package io.nowconnect.check;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The lines of one check run, printed as a table (one line per check, the advice indented under it) or as JSON, and
 * the exit status: 0 when nothing failed, 1 otherwise.
 *
 * <p>Threads: one (the check's). Never holds a token or a key: the checks put only names, numbers and verdicts here.
 */
public final class Report {
    private static final int NAME_WIDTH = 26;
    private static final int FIGURE_WIDTH = 10;

    private final List<Line> lines = new ArrayList<>();

    /**
     * One check.
     *
     * @param check what was checked ({@code token expiry}, {@code target ldap tcp}, ...)
     * @param outcome verdict
     * @param figure a number with its unit where one fits ({@code 3 ms}, {@code 29 d left}), else empty
     * @param detail what was seen
     * @param action what to do, empty when nothing
     */
    public record Line(String check, Outcome outcome, String figure, String detail, String action) {
    }

    Line ok(String check, String figure, String detail) {
        return add(check, Outcome.OK, figure, detail, "");
    }

    Line warn(String check, String figure, String detail, String action) {
        return add(check, Outcome.WARN, figure, detail, action);
    }

    Line fail(String check, String figure, String detail, String action) {
        return add(check, Outcome.FAIL, figure, detail, action);
    }

    Line add(String check, Outcome outcome, String figure, String detail, String action) {
        Line line = new Line(check, outcome, figure == null ? "" : figure, detail, action == null ? "" : action);
        lines.add(line);
        return line;
    }

    /**
     * The lines so far.
     *
     * @return lines, in order
     */
    public List<Line> lines() {
        return List.copyOf(lines);
    }

    /**
     * Count of lines with an outcome.
     *
     * @param outcome outcome
     * @return count
     */
    public long count(Outcome outcome) {
        return lines.stream().filter(l -> l.outcome() == outcome).count();
    }

    /**
     * The exit status.
     *
     * @return 0 when no check failed, else 1
     */
    public int exitCode() {
        return count(Outcome.FAIL) == 0 ? 0 : 1;
    }

    /**
     * Print the table, then one summary line.
     *
     * @param out where
     * @param title first line ({@code nowconnect check (agent premise-01)})
     */
    public void printTable(PrintStream out, String title) {
        out.println(title);
        out.println(pad("CHECK", NAME_WIDTH) + " " + pad("RESULT", 6) + " " + pad("FIGURE", FIGURE_WIDTH) + " DETAIL");
        for (Line l : lines) {
            out.println(pad(l.check(), NAME_WIDTH) + " " + pad(l.outcome().name(), 6) + " " + pad(l.figure(), FIGURE_WIDTH)
                                + " " + l.detail());
            if (!l.action().isEmpty()) {
                out.println(" ".repeat(NAME_WIDTH + 1) + "-> " + l.action());
            }
        }
        out.println(summary());
    }

    /**
     * Print one JSON object: {@code {"ok":...,"failed":N,"warnings":N,"checks":[{"check":...,"result":"OK",
     * "figure":...,"detail":...,"action":...}]}}.
     *
     * @param out where
     * @param mode {@code agent} or {@code hub}
     */
    public void printJson(PrintStream out, String mode) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("mode", mode);
        root.put("ok", exitCode() == 0);
        root.put("failed", count(Outcome.FAIL));
        root.put("warnings", count(Outcome.WARN));
        ArrayNode checks = root.putArray("checks");
        for (Line l : lines) {
            ObjectNode n = checks.addObject();
            n.put("check", l.check());
            n.put("result", l.outcome().name());
            n.put("figure", l.figure());
            n.put("detail", l.detail());
            n.put("action", l.action());
        }
        out.println(root.toString());
    }

    String summary() {
        long fail = count(Outcome.FAIL);
        long warn = count(Outcome.WARN);
        return lines.size() + " checks: " + count(Outcome.OK) + " OK, " + warn + " WARN, " + fail + " FAIL"
                + (fail == 0 ? " - ready to go" + (warn == 0 ? "" : " (see the warnings)") : " - fix the FAIL lines first");
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }
}
