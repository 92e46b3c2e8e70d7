package io.nowconnect.check;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.config.Config;

import io.nowconnect.Version;
import io.nowconnect.config.ConfigException;
import io.nowconnect.config.ConfigLoader;

/**
 * The {@code check} modes: {@code nowconnect check [--json]} (the agent's installation, same variables and
 * {@code --env-file} as the agent) and {@code nowconnect hub check [--json]}. Prints a table, or one JSON object with
 * {@code --json}; exit status 0 when no check failed, 1 when one did, 2 for a usage error.
 *
 * <p>Threads: the caller's. While a check runs, the process's own log lines are held back (the table is the output);
 * the levels are restored afterwards.
 */
public final class CheckCommand {
    private static final List<String> QUIET = List.of("", "io.nowconnect", "io.helidon");

    private CheckCommand() {
    }

    /**
     * Check the agent's installation.
     *
     * @param args options after the mode ({@code --json})
     * @param env process environment
     * @param envFile {@code --env-file}, if given
     * @param out where the table goes
     * @param err where usage errors go
     * @return exit status
     */
    public static int agent(List<String> args, Map<String, String> env, Optional<String> envFile, PrintStream out,
                            PrintStream err) {
        return run("agent", args, env, envFile, out, err, (c, r) -> AgentCheck.run(c.config, c.envFile, r));
    }

    /**
     * Check the hub's installation.
     *
     * @param args options after {@code hub check} ({@code --json})
     * @param env process environment
     * @param envFile {@code --env-file}, if given
     * @param out where the table goes
     * @param err where usage errors go
     * @return exit status
     */
    public static int hub(List<String> args, Map<String, String> env, Optional<String> envFile, PrintStream out,
                          PrintStream err) {
        return run("hub", args, env, envFile, out, err, (c, r) -> HubCheck.run(c.config, c.envFile, r));
    }

    /** Usage of both check modes. */
    public static final String USAGE = """
            usage: nowconnect check [--env-file PATH] [--json]        check the agent's configuration, token, targets, \
            proxy and hub
                   nowconnect hub check [--env-file PATH] [--json]    check the hub's configuration, keys, certificate, \
            ports
              exit status: 0 nothing failed, 1 a check failed, 2 usage""";

    private record Input(Config config, Optional<String> envFile) {
    }

    @FunctionalInterface
    private interface Checks {
        void run(Input input, Report report);
    }

    private static int run(String mode, List<String> args, Map<String, String> env, Optional<String> envFile,
                           PrintStream out, PrintStream err, Checks checks) {
        boolean json = false;
        for (String a : args) {
            if (a.equals("--json")) {
                json = true;
            } else {
                err.println("nowconnect: unknown option for " + (mode.equals("hub") ? "hub check" : "check") + ": " + a
                                    + "\n" + USAGE);
                return 2;
            }
        }
        Optional<Path> file = ConfigLoader.envFile(envFile, env);
        Report report = new Report();
        Config config;
        try {
            config = ConfigLoader.load(env, file);
        } catch (ConfigException e) {
            e.problems().forEach(p -> report.fail("config", "", p, "check the env file"));
            return print(mode, json, report, out);
        }
        Input input = new Input(config, file.map(Path::toString));
        quietly(() -> checks.run(input, report));
        return print(mode, json, report, out);
    }

    private static int print(String mode, boolean json, Report report, PrintStream out) {
        if (json) {
            report.printJson(out, mode);
        } else {
            report.printTable(out, "nowconnect " + Version.current() + " " + (mode.equals("hub") ? "hub check" : "check")
                    + " at " + Instant.now().truncatedTo(ChronoUnit.SECONDS) + " (changes nothing)");
        }
        out.flush();
        return report.exitCode();
    }

    private static void quietly(Runnable r) {
        Level[] saved = new Level[QUIET.size()];
        Logger[] loggers = new Logger[QUIET.size()];
        for (int i = 0; i < QUIET.size(); i++) {
            loggers[i] = Logger.getLogger(QUIET.get(i));
            saved[i] = loggers[i].getLevel();
            loggers[i].setLevel(Level.OFF);
        }
        try {
            r.run();
        } finally {
            for (int i = 0; i < loggers.length; i++) {
                loggers[i].setLevel(saved[i]);
            }
        }
    }
}
