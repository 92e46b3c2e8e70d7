package io.nowconnect.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.lessThan;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.isOneOf;

/**
 * deploy/systemd: the unit's keys, and {@code systemd-analyze verify} / {@code security} when systemd-analyze is
 * installed. verify needs the ExecStart binary, so both run with {@code --root} on a temporary tree holding the unit,
 * /opt/nowconnect/bin/nowconnect (the real launcher) and the host's *.target units.
 */
@Timeout(300)
class SystemdUnitTest {
    private static final String UNIT_FILE = "deploy/systemd/nowconnect-agent.service";
    private static final String UNIT = "nowconnect-agent.service";

    @TempDir
    Path tmp;

    @Test
    void unitHasTheDocumentedSettings() {
        Map<String, List<String>> s = service();
        assertThat(one(s, "EnvironmentFile"), is("/etc/nowconnect/agent.env"));
        assertThat(one(s, "ExecStart"), is("/opt/nowconnect/bin/nowconnect agent"));
        assertThat(one(s, "Restart"), is("always"));
        assertThat(one(s, "RestartSec"), is("2"));
        assertThat(one(s, "User"), is("nowconnect"));
        assertThat(one(s, "Group"), is("nowconnect"));
        assertThat(one(s, "KillSignal"), is("SIGTERM"));
        assertThat(one(s, "NoNewPrivileges"), is("yes"));
        assertThat(one(s, "ProtectSystem"), is("strict"));
        assertThat(one(s, "ProtectHome"), is("yes"));
        assertThat(one(s, "PrivateTmp"), is("yes"));
        assertThat(one(s, "PrivateDevices"), is("yes"));
        assertThat("empty capability set", one(s, "CapabilityBoundingSet"), is(""));
        assertThat(one(s, "ReadOnlyPaths"), containsString("/etc/nowconnect"));
        assertThat("the JIT needs W+X memory", s.containsKey("MemoryDenyWriteExecute"), is(false));
        assertThat("a JVM stopped by SIGTERM exits 143", one(s, "SuccessExitStatus"), containsString("143"));
    }

    @Test
    void stopTimeoutExceedsDrainAndFileLimitFitsStreams() throws IOException {
        AgentConfig defaults = defaults();
        Map<String, List<String>> s = service();
        assertThat(Integer.parseInt(one(s, "TimeoutStopSec")), greaterThan((int) defaults.drainTimeout().toSeconds()));
        // a stream holds a client-side and a target-side socket at most; plus the JVM's own files
        assertThat(Integer.parseInt(one(s, "LimitNOFILE")), greaterThanOrEqualTo(2 * defaults.maxInflight() + 1024));
    }

    @Test
    void installScriptMatchesUnitAndArchive() {
        String install = ProjectFiles.read("deploy/systemd/install.sh");
        assertThat(install, containsString("set -eu"));
        assertThat(install, containsString("/etc/nowconnect"));
        assertThat(install, containsString("agent.env"));
        assertThat(install, containsString("etc/nowconnect.env.example"));
        assertThat(install, containsString("deploy/systemd/" + UNIT));
        assertThat(install, containsString("/opt/nowconnect"));
        assertThat(install, containsString("useradd"));
        assertThat(install, containsString("daemon-reload"));
        assertThat(install, containsString("0640"));
        // the token it tells to install lies under the unit's read-only config directory
        assertThat(install, containsString("NC_TOKEN_FILE=/etc/nowconnect/agent.token"));
    }

    @Test
    void systemdAnalyzeVerifyAndSecurity() throws Exception {
        Assumptions.assumeTrue(onPath("systemd-analyze"), "systemd-analyze not installed (apt-get install systemd)");
        Path root = fakeRoot();

        Result verify = run(List.of("systemd-analyze", "verify", "--root=" + root, "/etc/systemd/system/" + UNIT));
        List<String> aboutUnit = verify.output.lines().filter(l -> l.contains(UNIT)).toList();
        assertThat("systemd-analyze verify:\n" + verify.output, verify.exit, is(0));
        assertThat("systemd-analyze verify warnings about the unit", aboutUnit, is(empty()));

        Result security = run(List.of("systemd-analyze", "security", "--offline=yes", "--root=" + root, UNIT));
        Matcher m = Pattern.compile("Overall exposure level for " + Pattern.quote(UNIT) + ": ([0-9.]+) ([A-Z]+)")
                .matcher(security.output);
        Assumptions.assumeFalse(security.output.contains("unrecognized option"), "systemd-analyze too old for --offline");
        assertThat("systemd-analyze security:\n" + security.output, m.find(), is(true));
        // systemd's scale: PERFECT 0, SAFE < 1.0, OK < 5.0, then MEDIUM, EXPOSED, UNSAFE, DANGEROUS
        assertThat(m.group(2), isOneOf("PERFECT", "SAFE", "OK"));
        assertThat(Double.parseDouble(m.group(1)), lessThan(5.0));
    }

    private Path fakeRoot() throws IOException {
        Path root = tmp.resolve("root");
        Path unitDir = Files.createDirectories(root.resolve("etc/systemd/system"));
        Files.copy(ProjectFiles.ROOT.resolve(UNIT_FILE), unitDir.resolve(UNIT));
        Path bin = Files.createDirectories(root.resolve("opt/nowconnect/bin"));
        Path launcher = Files.copy(ProjectFiles.ROOT.resolve("src/dist/bin/nowconnect"), bin.resolve("nowconnect"));
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path targets = Files.createDirectories(root.resolve("usr/lib/systemd/system"));
        for (String dir : List.of("/usr/lib/systemd/system", "/lib/systemd/system")) {
            Path host = Path.of(dir);
            if (Files.isDirectory(host)) {
                try (Stream<Path> units = Files.list(host)) {
                    for (Path u : units.filter(p -> p.toString().endsWith(".target")).filter(Files::exists).toList()) {
                        Path dest = targets.resolve(u.getFileName());
                        if (!Files.exists(dest)) {
                            Files.copy(u, dest, StandardCopyOption.COPY_ATTRIBUTES);   // follows symlinks
                        }
                    }
                }
            }
        }
        return root;
    }

    private AgentConfig defaults() throws IOException {
        Path token = Files.writeString(tmp.resolve("token"), "a.b.c");
        Map<String, String> min = Map.of("NC_AGENT_URL", "wss://hub.example.com/tunnel", "NC_AGENT_ID", "a",
                                         "NC_CONNECTORS", "x", "NC_TARGET_x_HOST", "127.0.0.1", "NC_TARGET_x_PORT", "1",
                                         "NC_TOKEN_FILE", token.toString());
        return AgentConfig.create(ConfigLoader.fromMaps(min, Map.of()));
    }

    /** The [Service] section; repeated keys keep every value, an empty assignment included. */
    private static Map<String, List<String>> service() {
        Map<String, List<String>> result = new LinkedHashMap<>();
        String section = "";
        for (String raw : ProjectFiles.read(UNIT_FILE).split("\n")) {
            String line = raw.strip();
            if (line.startsWith("[")) {
                section = line;
            } else if (section.equals("[Service]") && !line.isEmpty() && !line.startsWith("#") && line.contains("=")) {
                int eq = line.indexOf('=');
                result.computeIfAbsent(line.substring(0, eq), k -> new ArrayList<>()).add(line.substring(eq + 1));
            }
        }
        return result;
    }

    private static String one(Map<String, List<String>> s, String key) {
        List<String> v = s.get(key);
        assertThat(key + " in [Service]", v, not(equalTo(null)));
        assertThat(key + " set once", v.size(), is(1));
        return v.get(0);
    }

    static boolean onPath(String command) {
        String path = System.getenv("PATH");
        return path != null && Stream.of(path.split(java.io.File.pathSeparator))
                .anyMatch(d -> Files.isExecutable(Path.of(d, command)));
    }

    record Result(int exit, String output) {
    }

    static Result run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + command);
        }
        return new Result(p.exitValue(), new String(out, java.nio.charset.StandardCharsets.UTF_8));
    }
}
