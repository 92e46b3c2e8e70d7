package io.nowconnect.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The one way tests start a child JVM (a hub or agent process, a load peer, a bench program): this JVM's own
 * {@code java}, JVM options, then a main class on the tests' class path or a single-file source program, and its
 * arguments. The child never inherits the caller's {@code NC_*} variables: it gets only those given. Output goes to a
 * log file, or stays piped (stdout) with stderr inherited.
 *
 * <pre>{@code
 * Process hub = ChildJvm.main("io.nowconnect.Main").options("-Xmx256m").args("hub").env(vars).log(dir.resolve("hub.log"))
 *         .start();
 * }</pre>
 *
 * <p>Threads: a builder for one thread; {@link #start} may be called more than once (a restart).
 */
public final class ChildJvm {
    private final List<String> program;
    private final List<String> prefix = new ArrayList<>();
    private final List<String> options = new ArrayList<>();
    private final List<String> args = new ArrayList<>();
    private final Map<String, String> env = new HashMap<>();
    private Path log;
    private boolean inheritErr;

    private ChildJvm(List<String> program) {
        this.program = program;
    }

    /**
     * A main class on the tests' class path.
     *
     * @param mainClass class name
     * @return builder
     */
    public static ChildJvm main(String mainClass) {
        return new ChildJvm(List.of("-cp", System.getProperty("java.class.path"), mainClass));
    }

    /**
     * A single-file source program ({@code java File.java}), e.g. one of {@code bench/}.
     *
     * @param source the .java file
     * @return builder
     */
    public static ChildJvm source(Path source) {
        return new ChildJvm(List.of(source.toAbsolutePath().toString()));
    }

    /** This JVM's {@code java} binary. */
    public static String javaBinary() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /**
     * Words before {@code java} (e.g. {@code ip netns exec <ns>}).
     *
     * @param words command prefix
     * @return this
     */
    public ChildJvm prefix(List<String> words) {
        prefix.addAll(words);
        return this;
    }

    /**
     * JVM options.
     *
     * @param jvmOptions options
     * @return this
     */
    public ChildJvm options(List<String> jvmOptions) {
        options.addAll(jvmOptions);
        return this;
    }

    /**
     * JVM options.
     *
     * @param jvmOptions options
     * @return this
     */
    public ChildJvm options(String... jvmOptions) {
        return options(List.of(jvmOptions));
    }

    /**
     * Program arguments.
     *
     * @param words arguments
     * @return this
     */
    public ChildJvm args(List<String> words) {
        args.addAll(words);
        return this;
    }

    /**
     * Program arguments.
     *
     * @param words arguments
     * @return this
     */
    public ChildJvm args(String... words) {
        return args(List.of(words));
    }

    /**
     * Environment variables of the child (on top of the caller's, minus its {@code NC_*} ones).
     *
     * @param vars variables
     * @return this
     */
    public ChildJvm env(Map<String, String> vars) {
        env.putAll(vars);
        return this;
    }

    /**
     * Send stdout and stderr to a file.
     *
     * @param file log file
     * @return this
     */
    public ChildJvm log(Path file) {
        this.log = file;
        return this;
    }

    /**
     * Keep stdout piped to the caller, stderr to the caller's stderr.
     *
     * @return this
     */
    public ChildJvm inheritErr() {
        this.inheritErr = true;
        return this;
    }

    /** The full command line. */
    public List<String> command() {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(javaBinary());
        cmd.addAll(options);
        cmd.addAll(program);
        cmd.addAll(args);
        return cmd;
    }

    /**
     * Start the child.
     *
     * @return the process
     */
    public Process start() {
        ProcessBuilder pb = new ProcessBuilder(command());
        pb.environment().keySet().removeIf(k -> k.startsWith("NC_"));
        pb.environment().putAll(env);
        if (log != null) {
            pb.redirectErrorStream(true).redirectOutput(log.toFile());
        } else if (inheritErr) {
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        }
        try {
            return pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
