package io.nowconnect.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;

/**
 * src/dist/bin/nowconnect under /bin/sh (dash where installed) with a fake java that prints its version and
 * arguments: version check, JAVA_HOME before PATH, JAVA_OPTS replacing the defaults, JAVA_OPTS_APPEND after them,
 * arguments passed intact.
 */
@Timeout(300)
class LauncherTest {
    @TempDir
    Path tmp;
    private Path home;

    @BeforeEach
    void install() throws IOException {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "needs a POSIX shell");
        home = Files.createDirectories(tmp.resolve("app"));
        Path bin = Files.createDirectories(home.resolve("bin"));
        executable(bin.resolve("nowconnect"), ProjectFiles.read("src/dist/bin/nowconnect"));
        Files.createDirectories(home.resolve("lib/libs"));
    }

    @Test
    void refusesOldJava() throws Exception {
        Result r = launch(fakeJava("jdk17", "17.0.12"), null, "agent");
        assertThat(r.exit, is(1));
        assertThat(r.output, containsString("Java 21 or newer is required"));
        assertThat(r.output, containsString("17.0.12"));
        assertThat(launch(fakeJava("jdk8", "1.8.0_412"), null, "agent").exit, is(1));
    }

    @Test
    void runsJava21WithDefaultsAndArguments() throws Exception {
        Result r = launch(fakeJava("jdk21", "21.0.4"), null, "token", "--secret-file", "a file", "--agent-id", "x*");
        assertThat(r.output, r.exit, is(0));
        assertThat(r.output, containsString("ARG[-XX:+UseSerialGC] ARG[-Xms24m] ARG[-XX:NewSize=12m] ARG[-XX:SurvivorRatio=4] ARG[-Xmx128m] ARG[-XX:-TieredCompilation] ARG[-XX:CICompilerCount=1] ARG[-XX:+ExitOnOutOfMemoryError] "
                                            + "ARG[-XX:+UnlockExperimentalVMOptions] ARG[-XX:TrimNativeHeapInterval=1000] ARG[-cp] "
                                            + "ARG[" + home.toRealPath() + "/lib/nowconnect.jar:" + home.toRealPath()
                                            + "/lib/libs/*] ARG[io.nowconnect.Main] ARG[token] ARG[--secret-file] "
                                            + "ARG[a file] ARG[--agent-id] ARG[x*]"));
    }

    @Test
    void hubModeHasItsOwnDefaults() throws Exception {
        Result r = launch(fakeJava("jdk21", "21.0.4"), null, "hub", "--env-file", "hub.env");
        assertThat(r.output, r.exit, is(0));
        assertThat(r.output, containsString("ARG[-XX:+UseG1GC] ARG[-XX:MaxGCPauseMillis=20] ARG[-XX:MinHeapFreeRatio=10] "
                + "ARG[-XX:MaxHeapFreeRatio=30] ARG[-Xms64m] ARG[-Xmx512m] ARG[-XX:-TieredCompilation] ARG[-XX:CICompilerCount=1] "
                + "ARG[-XX:+ExitOnOutOfMemoryError] ARG[-XX:+UnlockExperimentalVMOptions] "
                + "ARG[-XX:TrimNativeHeapInterval=1000] ARG[-cp] "));
        assertThat(r.output, containsString("ARG[io.nowconnect.Main] ARG[hub] ARG[--env-file] ARG[hub.env]"));
        // an option first means the agent (as Main reads it), so the agent's defaults
        Result agent = launch(fakeJava("jdk21", "21.0.4"), null, "--env-file", "hub");
        assertThat(agent.output, containsString("ARG[-Xmx128m]"));
        // and JAVA_OPTS replaces the hub's defaults too
        Result custom = launch(fakeJava("jdk21", "21.0.4"), "-Xmx1g", "hub");
        assertThat(custom.output, containsString("ARG[-Xmx1g] ARG[-cp]"));
        assertThat(custom.output.contains("-Xmx512m"), is(false));
    }

    @Test
    void classDataSharingArchivePerModeInAWritableDirectoryOnly() throws Exception {
        Path java = fakeJava("jdk21", "21.0.4");
        Path cds = home.resolve("cds");
        Result agent = launch(Map.of("NC_CDS_DIR", cds.toString()), java, null, "agent");
        assertThat(agent.output, containsString("ARG[-XX:+AutoCreateSharedArchive] ARG[-XX:SharedArchiveFile=" + cds
                + "/nowconnect-agent.jsa] ARG[-Xlog:cds*=off] ARG[-XX:+UseSerialGC]"));
        assertThat("the directory is made", Files.isDirectory(cds), is(true));
        Result hub = launch(Map.of("NC_CDS_DIR", cds.toString()), java, "-Xmx1g", "hub");
        assertThat(hub.output, containsString("-XX:SharedArchiveFile=" + cds + "/nowconnect-hub.jsa] ARG[-Xlog:cds*=off] "
                + "ARG[-Xmx1g]"));
        // token mode writes the token to stdout and is short: no archive
        Result token = launch(Map.of("NC_CDS_DIR", cds.toString()), java, null, "token", "--agent-id", "x");
        assertThat(token.output.contains("SharedArchiveFile"), is(false));
        // nor do the checks: "hub check" would fill the hub's archive with the check's classes
        assertThat(launch(Map.of("NC_CDS_DIR", cds.toString()), java, null, "hub", "check").output
                           .contains("SharedArchiveFile"), is(false));
        assertThat(launch(Map.of("NC_CDS_DIR", cds.toString()), java, null, "check").output
                           .contains("SharedArchiveFile"), is(false));
        // a directory that cannot be made, and an empty setting: off
        Path file = Files.writeString(home.resolve("not-a-dir"), "x");
        Result blocked = launch(Map.of("NC_CDS_DIR", file.resolve("cds").toString()), java, null, "agent");
        assertThat(blocked.output, blocked.exit, is(0));
        assertThat(blocked.output.contains("SharedArchiveFile"), is(false));
        assertThat(launch(java, null, "agent").output.contains("SharedArchiveFile"), is(false));
    }

    @Test
    void nativeHeapTrimmingWhereTheJvmHasIt() throws Exception {
        // Java 23 and later: a product option
        Result java25 = launch(fakeJava("jdk25", "25", Trim.YES), null, "hub");
        assertThat(java25.output, containsString("ARG[-XX:+ExitOnOutOfMemoryError] ARG[-XX:TrimNativeHeapInterval=1000] "
                + "ARG[-cp] "));
        assertThat(java25.output.contains("UnlockExperimentalVMOptions"), is(false));
        // a JVM without it (21.0.0) is asked again without it and runs without it
        Result java21 = launch(fakeJava("jdk21-0", "21", Trim.NO), null, "agent");
        assertThat(java21.output, java21.exit, is(0));
        assertThat(java21.output, containsString("ARG[-XX:+ExitOnOutOfMemoryError] ARG[-cp] "));
        assertThat(java21.output.contains("TrimNativeHeapInterval"), is(false));
        // one that has it but warns (no glibc): without it
        Result musl = launch(fakeJava("jdk25-musl", "25", Trim.WARNS), null, "agent");
        assertThat(musl.output, musl.exit, is(0));
        assertThat(musl.output.contains("TrimNativeHeapInterval"), is(false));
        // JAVA_OPTS is taken as it is
        Result custom = launch(fakeJava("jdk25", "25", Trim.YES), "-Xmx1g", "agent");
        assertThat(custom.output, containsString("ARG[-Xmx1g] ARG[-cp] "));
        assertThat(custom.output.contains("TrimNativeHeapInterval"), is(false));
        // and a JVM too old for either is still refused
        assertThat(launch(fakeJava("jdk17-no-trim", "17.0.8", Trim.NO), null, "agent").exit, is(1));
    }

    @Test
    void javaOptsReplaceDefaults() throws Exception {
        Result r = launch(fakeJava("jdk25", "25"), "-Xmx64m -Dx=1", "hub");
        assertThat(r.output, containsString("ARG[-Xmx64m] ARG[-Dx=1] ARG[-cp]"));
        assertThat(r.output.contains("UseG1GC"), is(false));
    }

    @Test
    void javaOptsAppendComesAfterTheDefaultsOrJavaOpts() throws Exception {
        Path java = fakeJava("jdk25", "25", Trim.YES);
        // after the defaults and the trimming, so that a later setting of an option wins (the JVM takes the last)
        Result agent = launch(Map.of("NC_CDS_DIR", "", "JAVA_OPTS_APPEND", "-XX:+TieredCompilation -XX:CICompilerCount=2"),
                              java, null, "agent");
        assertThat(agent.output, agent.exit, is(0));
        assertThat(agent.output, containsString("ARG[-XX:-TieredCompilation] ARG[-XX:CICompilerCount=1] "
                + "ARG[-XX:+ExitOnOutOfMemoryError] ARG[-XX:TrimNativeHeapInterval=1000] "
                + "ARG[-XX:+TieredCompilation] ARG[-XX:CICompilerCount=2] ARG[-cp] "));
        // the hub's defaults too, and after a JAVA_OPTS of one's own
        Result hub = launch(Map.of("NC_CDS_DIR", "", "JAVA_OPTS_APPEND", "-Xmx1g"), java, null, "hub");
        assertThat(hub.output, containsString("ARG[-Xmx512m] ARG[-XX:-TieredCompilation]"));
        assertThat(hub.output, containsString("ARG[-XX:TrimNativeHeapInterval=1000] ARG[-Xmx1g] ARG[-cp] "));
        Result custom = launch(Map.of("NC_CDS_DIR", "", "JAVA_OPTS_APPEND", "-Dy=2"), java, "-Xmx64m", "agent");
        assertThat(custom.output, containsString("ARG[-Xmx64m] ARG[-Dy=2] ARG[-cp] "));
        // empty: nothing added
        Result empty = launch(Map.of("NC_CDS_DIR", "", "JAVA_OPTS_APPEND", ""), java, "-Xmx64m", "agent");
        assertThat(empty.output, containsString("ARG[-Xmx64m] ARG[-cp] "));
    }

    @Test
    void missingJavaHomeIsReported() throws Exception {
        Result r = launch(tmp.resolve("nowhere"), null, "agent");
        assertThat(r.exit, is(1));
        assertThat(r.output, containsString("JAVA_HOME"));
    }

    /** What a fake JVM does with -XX:TrimNativeHeapInterval. */
    private enum Trim {
        YES(""),
        NO("echo \"Unrecognized VM option 'TrimNativeHeapInterval=1000'\" >&2; exit 1"),
        WARNS("echo 'OpenJDK 64-Bit Server VM warning: Native heap trim is not supported on this platform' >&2");

        final String onTrim;

        Trim(String onTrim) {
            this.onTrim = onTrim;
        }
    }

    private Path fakeJava(String name, String version) throws IOException {
        return fakeJava(name, version, Trim.YES);
    }

    private Path fakeJava(String name, String version, Trim trim) throws IOException {
        Path javaHome = tmp.resolve(name);
        executable(Files.createDirectories(javaHome.resolve("bin")).resolve("java"), """
                #!/bin/sh
                last=
                for a in "$@"; do last=$a; done
                if [ "$last" = -version ]; then
                    case " $* " in *TrimNativeHeapInterval*) %s ;; esac
                    echo 'openjdk version "%s" 2024-07-16' >&2
                    exit 0
                fi
                for a in "$@"; do printf 'ARG[%%s] ' "$a"; done
                echo
                """.formatted(trim.onTrim, version));
        return javaHome;
    }

    private Result launch(Path javaHome, String javaOpts, String... args) throws Exception {
        // class data sharing off, unless a test turns it on: the other tests check the options without it
        return launch(Map.of("NC_CDS_DIR", ""), javaHome, javaOpts, args);
    }

    private Result launch(Map<String, String> extraEnv, Path javaHome, String javaOpts, String... args)
            throws Exception {
        String shell = Files.isExecutable(Path.of("/bin/dash")) ? "/bin/dash" : "/bin/sh";
        List<String> command = new ArrayList<>(List.of(shell, home.resolve("bin/nowconnect").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("JAVA_HOME", javaHome.toString());
        env.remove("JAVA_OPTS");
        env.remove("JAVA_OPTS_APPEND");
        if (javaOpts != null) {
            env.put("JAVA_OPTS", javaOpts);
        }
        env.remove("CACHE_DIRECTORY");
        env.putAll(extraEnv);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS), is(true));
        return new Result(p.exitValue(), out);
    }

    private static void executable(Path file, String content) throws IOException {
        Files.writeString(file, content);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private record Result(int exit, String output) {
    }
}
