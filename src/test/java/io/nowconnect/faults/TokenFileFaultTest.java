package io.nowconnect.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.nowconnect.Agent;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.LogCapture;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.report;
import static io.nowconnect.faults.HubKillRestartTest.ms;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's token file goes bad while the agent runs: deleted, emptied, "unreadable", oversized, replaced with
 * garbage. Each time the hub is restarted so the agent must connect with whatever the file holds now: a clear
 * WARNING naming the file and the problem (never the token), the agent keeps running (health port answers OK), and it
 * is READY again soon after the file is fixed.
 *
 * <p>Tests run as root, for whom {@code chmod 000} does not make a file unreadable; "unreadable" is a directory in
 * place of the file and a dangling symlink instead.
 */
@Tag("faults")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class TokenFileFaultTest {

    /** One way to break the file and the log text that must explain it. */
    private record Breakage(String label, IoAction breakIt, String expectedLog) {
    }

    @FunctionalInterface
    private interface IoAction {
        void run(Path file) throws IOException;
    }

    @Test
    void badTokenFilesAreExplainedAndRecoveredFrom(Harness h) throws Exception {
        try (LogCapture logs = new LogCapture();
             FaultKit.TrackingTarget target = new FaultKit.TrackingTarget()) {
            int hubPort = FaultKit.freePort();
            Hub[] hub = {h.startHub(hubPort, Map.of(), "echo")};
            Path file = h.tokenFile(Harness.AGENT_ID, Duration.ofHours(1));
            String token = Files.readString(file).strip();
            Map<String, String> vars = new java.util.HashMap<>(h.agentVars(hubPort, Map.of("echo", target.port())));
            vars.put("NC_TOKEN_FILE", file.toString());
            Agent agent = h.startAgent(vars);
            Harness.awaitReady(agent, Duration.ofSeconds(10));

            List<Breakage> cases = List.of(
                    new Breakage("deleted", Files::delete, "cannot read token file " + file),
                    new Breakage("emptied", f -> Files.writeString(f, "\n\n  \n"), "token file " + file + " is empty"),
                    new Breakage("unreadable (a directory in its place)", f -> {
                        Files.delete(f);
                        Files.createDirectory(f);
                    }, "cannot read token file " + file),
                    new Breakage("unreadable (a dangling symlink)", f -> {
                        Files.delete(f);
                        Files.createSymbolicLink(f, h.dir().resolve("no-such-target"));
                    }, "cannot read token file " + file),
                    new Breakage("garbage bytes", f -> Files.write(f, new byte[] {0x00, 0x01, 'g', 'a', 'r', 0x7f, (byte) 0xff,
                                                                                  ' ', 'b', '\n', 'c'}),
                                 "does not hold a single token"),
                    new Breakage("garbage token", f -> Files.writeString(f, "eyJub3QiOiJhIGp3dCJ9.garbage.garbage\n"),
                                 "Authentication failed"),
                    new Breakage("oversized", f -> Files.write(f, new byte[200_000]), "is larger than"));

            for (Breakage c : cases) {
                // the previous case's fix (a valid token written) may still start a rotation to a new tunnel: let the
                // agent's tunnel count settle before this case's mark
                awaitSettled(agent);
                int mark = logs.records.size();
                long connects = agent.status().connects();
                c.breakIt().run(file);
                // positive control: the file watch reacted (a WARNING of the agent's tunnel code: the token cannot be
                // used, or a new tunnel with it failed); the running tunnel must have kept serving through it
                Harness.await(Duration.ofSeconds(10), () -> logs.since(mark).stream()
                        .anyMatch(r -> LogCapture.warning(r) && r.getLoggerName().startsWith("io.nowconnect.tunnel")),
                              c.label() + ": the file watch's WARNING; got " + logs.since(mark).stream()
                                      .map(LogCapture::text).toList());
                String watched = logs.since(mark).stream()
                        .filter(r -> LogCapture.warning(r) && r.getLoggerName().startsWith("io.nowconnect.tunnel"))
                        .map(LogCapture::text).findFirst().orElseThrow();
                assertTrue(agent.status().snapshot().ready(), c.label() + ": the running tunnel keeps serving");
                HubKillRestartTest.roundTrip(hub[0].listenerPorts().get("echo"));
                assertEquals(connects, agent.status().connects(), c.label() + ": no tunnel replaced the running one");
                int restartMark = logs.records.size();
                hub[0].close();
                hub[0] = h.startHub(hubPort, Map.of(), "echo");
                long restarted = System.nanoTime();
                Harness.await(Duration.ofSeconds(10), () -> logs.since(restartMark).stream()
                                      .filter(r -> r.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue())
                                      .anyMatch(r -> LogCapture.text(r).contains(c.expectedLog())),
                              c.label() + ": a WARNING containing \"" + c.expectedLog() + "\"; got "
                                      + logs.since(restartMark).stream().map(LogCapture::text).toList());
                long explainedMs = ms(System.nanoTime() - restarted);
                String line = logs.since(restartMark).stream().map(LogCapture::text)
                        .filter(t -> t.contains(c.expectedLog())).findFirst().orElseThrow();
                // the reconnect failed and said why (awaited above): it must not have made the agent READY
                assertFalse(agent.status().snapshot().ready(), c.label() + ": not READY with a bad token");
                assertTrue(Harness.health(agent.healthPort()).startsWith("OK"), c.label() + ": health port answers OK");

                // fix it the way an operator would
                if (Files.isDirectory(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.delete(file);
                }
                Files.deleteIfExists(file);
                long fixed = System.nanoTime();
                Files.writeString(file, token + "\n", StandardCharsets.UTF_8);
                Harness.awaitReady(agent, Duration.ofSeconds(10));
                long readyMs = ms(System.nanoTime() - fixed);
                report("token file " + c.label(), "file watch: \"" + clip(watched) + "\"; at reconnect, "
                        + explainedMs + " ms after the hub restart: \"" + clip(line) + "\"; READY " + readyMs
                        + " ms after the file was fixed");
                assertTrue(readyMs < 3000, c.label() + ": READY after " + readyMs + " ms");
            }
            HubKillRestartTest.roundTrip(hub[0].listenerPorts().get("echo"));
            for (String text : logs.all()) {
                assertFalse(text.contains(token), "a log line holds the token: " + text);
                assertFalse(text.contains("garbage.garbage"), "a log line holds the token file's content: " + text);
            }
            assertTrue(logs.warnings().stream().noneMatch(t -> t.startsWith("SEVERE")), "no SEVERE: " + logs.warnings());
        }
    }

    private static String clip(String s) {
        return s.length() > 160 ? s.substring(0, 160) + "…" : s;
    }

    /** Until the agent's count of tunnel connects has not moved for 1.5 s (at most 15 s). */
    private static void awaitSettled(Agent agent) {
        long[] last = {agent.status().connects(), System.nanoTime()};
        Harness.await(Duration.ofSeconds(15), () -> {
            long now = agent.status().connects();
            if (now != last[0]) {
                last[0] = now;
                last[1] = System.nanoTime();
            }
            return System.nanoTime() - last[1] > 1_500_000_000L && agent.status().snapshot().ready();
        }, "the agent's tunnels settled");
    }
}
