package io.nowconnect;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.helidon.config.Config;

import io.nowconnect.check.CheckCommand;
import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigException;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.EnvFile;
import io.nowconnect.config.LogSettings;
import io.nowconnect.log.Event;
import io.nowconnect.log.Logging;

/**
 * Entry point: picks the mode ({@code agent} by default, {@code hub}, {@code check}, {@code hub check}, {@code demo},
 * {@code token}) and wires it.
 *
 * <p>Exit codes: 0 after a clean stop, 2 for invalid configuration or usage (every problem printed at once),
 * 1 for an unexpected failure.
 */
public final class Main {
    private Main() {
    }

    /**
     * Run a mode.
     *
     * @param args {@code [agent|hub|demo|token] [--env-file PATH] [mode options]}
     */
    public static void main(String[] args) {
        int code = run(args, System.getenv(), System.out, System.err);
        if (code != 0) {
            System.exit(code);
        }
    }

    static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>(List.of(args));
        String mode = !rest.isEmpty() && !rest.getFirst().startsWith("-") ? rest.removeFirst() : "agent";
        if (mode.equals("token")) {
            // the token mode has its own options and usage (token --help prints the token mode's)
            return Modes.token(rest, out, err);
        }
        if (rest.contains("--help") || rest.contains("-h") || mode.equals("help")) {
            out.println(usage());
            return 0;
        }
        if (rest.contains("--version") || mode.equals("version")) {
            out.println("nowconnect " + Version.current());
            return 0;
        }
        Optional<String> envFile = Optional.empty();
        int i = rest.indexOf("--env-file");
        if (i >= 0) {
            if (i + 1 >= rest.size()) {
                err.println("nowconnect: --env-file needs a path");
                return 2;
            }
            envFile = Optional.of(rest.get(i + 1));
            rest.remove(i + 1);
            rest.remove(i);
        }
        try {
            if (envFile.isPresent()) {
                // read once up front so that an unreadable file is reported under the flag that named it
                EnvFile.read(Path.of(envFile.get()), "--env-file");
            }
            return switch (mode) {
            case "agent" -> runAgent(rest, env, envFile, err);
            case "check" -> CheckCommand.agent(rest, env, envFile, out, err);
            case "hub" -> !rest.isEmpty() && rest.getFirst().equals("check")
                    ? CheckCommand.hub(rest.subList(1, rest.size()), env, envFile, out, err)
                    : Modes.hub(rest, ConfigLoader.load(env, ConfigLoader.envFile(envFile, env)), err);
            case "demo" -> Modes.demo(rest, ConfigLoader.merged(env, ConfigLoader.envFile(envFile, env)), out, err);
            default -> {
                err.println("nowconnect: unknown mode \"" + mode + "\"\n" + usage());
                yield 2;
            }
            };
        } catch (ConfigException e) {
            if (jsonLogs(env, envFile)) {
                // NC_LOG_FORMAT=json: one JSON line per problem, like every other line the process writes
                for (String problem : e.problems()) {
                    Matcher m = VARIABLE.matcher(problem);
                    err.print(Logging.format(true, Level.SEVERE, Main.class.getName(), problem,
                                             Event.of("config_invalid").with("variable", m.find() ? m.group(1) : null)));
                }
            } else {
                err.println("nowconnect: " + e.getMessage());
            }
            return 2;
        }
    }

    /** The variable or option a problem starts with: {@code NC_X is ...}, {@code NC_X/NC_Y: ...}, {@code --flag: ...}. */
    private static final Pattern VARIABLE =
            Pattern.compile("^((?:NC_[A-Za-z0-9_]+|--[a-z-]+)(?:/NC_[A-Za-z0-9_]+)*)(?=[:\\s]|$)");

    /** Whether NC_LOG_FORMAT (environment, else the env file when readable) asks for JSON. */
    private static boolean jsonLogs(Map<String, String> env, Optional<String> envFile) {
        String format = env.get("NC_LOG_FORMAT");
        if (format == null) {
            try {
                format = ConfigLoader.envFile(envFile, env).map(EnvFile::read).map(m -> m.get("NC_LOG_FORMAT")).orElse(null);
            } catch (ConfigException e) {
                format = null;
            }
        }
        return format != null && format.strip().equalsIgnoreCase("json");
    }

    private static int runAgent(List<String> rest, Map<String, String> env, Optional<String> envFile, PrintStream err) {
        if (!rest.isEmpty()) {
            err.println("nowconnect: unexpected arguments for agent mode: " + rest + "\n" + usage());
            return 2;
        }
        Optional<java.nio.file.Path> envFilePath = ConfigLoader.envFile(envFile, env);
        Config config = ConfigLoader.load(env, envFilePath);
        List<String> problems = new ArrayList<>();
        LogSettings log = null;
        AgentConfig agentConfig = null;
        try {
            log = LogSettings.create(config);
        } catch (ConfigException e) {
            problems.addAll(e.problems());
        }
        try {
            agentConfig = AgentConfig.create(config);
        } catch (ConfigException e) {
            e.problems().stream().filter(p -> !problems.contains(p)).forEach(problems::add);
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        Logging.configure(log);
        Agent agent = Agent.start(agentConfig);
        envFilePath.ifPresent(f -> agent.watchEnvFile(f, env));
        AgentConfig started = agentConfig;
        Modes.onStopSignal(() -> agent.stop(started.drainTimeout()));
        agent.awaitStopped();
        return 0;
    }

    static String usage() {
        return """
                usage: nowconnect [agent|hub|check|hub check|demo|token] [--env-file PATH] [options]
                  agent   premise agent (default): NC_AGENT_URL, NC_AGENT_ID, NC_TOKEN_FILE, NC_CONNECTORS,
                          NC_TARGET_<name>_HOST/_PORT, ... (see README)
                  hub     NowConnect hub: NC_HUB_HOST, NC_HUB_PORT, NC_HUB_JWT_SECRET_FILE, NC_HUB_LISTENERS, ...
                  check   check the agent's installation (configuration, token, targets, proxy, hub) without
                          changing anything; hub check: the hub's; --json for machines; exit 0 OK, 1 failed
                  demo    hub + agent + echo service on loopback, in one process
                  token   --secret-file F --agent-id ID [--ttl 1h] [--audience nowconnect]: mint an HS256 token
                  --env-file PATH   optional env file (KEY=VALUE lines); real environment variables win""";
    }

    /** Set once a stop signal arrived, so a second Ctrl-C does not start a second drain. */
    static final AtomicBoolean STOPPING = new AtomicBoolean();
}
