package io.nowconnect.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.management.HotSpotDiagnosticMXBean;

/**
 * Every live thread of this JVM, virtual threads included: {@link Thread#getAllStackTraces()} and the thread MXBean see
 * platform threads only, while streams, dials and tunnel closes run on virtual threads. The census reads the JDK's
 * JSON thread dump ({@link HotSpotDiagnosticMXBean#dumpThreads}, the same as {@code jcmd <pid> Thread.dump_to_file
 * -format=json}), which lists the virtual threads started with {@code Thread.ofVirtual()} as well (the JDK tracks them
 * by default, {@code jdk.trackAllThreads}).
 *
 * <p>Threads: stateless; each call writes and deletes one temporary file.
 */
public final class ThreadCensus {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ThreadCensus() {
    }

    /** One live thread. */
    public record Live(String name, boolean virtual) {
    }

    /**
     * The live threads now.
     *
     * @return every thread of the dump, platform and virtual
     */
    public static List<Live> threads() {
        Path file = null;
        try {
            file = Files.createTempFile("nc-threads-", ".json");
            Files.delete(file); // dumpThreads refuses an existing file
            ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                    .dumpThreads(file.toAbsolutePath().toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
            JsonNode root = JSON.readTree(file.toFile()).path("threadDump");
            List<Live> out = new ArrayList<>();
            for (JsonNode container : root.path("threadContainers")) {
                for (JsonNode t : container.path("threads")) {
                    out.add(new Live(t.path("name").asText(""), t.path("virtual").asBoolean(false)));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // a temporary file
                }
            }
        }
    }

    /**
     * Live threads, platform and virtual, whose name starts with a prefix (e.g. {@code nc-} for every thread the
     * project names).
     *
     * @param prefix name prefix
     * @return count
     */
    public static long named(String prefix) {
        return threads().stream().filter(t -> t.name().startsWith(prefix)).count();
    }

    /**
     * Live virtual threads.
     *
     * @return count
     */
    public static long virtual() {
        return threads().stream().filter(Live::virtual).count();
    }

    /**
     * Live threads named with a prefix, counted by name with the stream or tunnel id cut off (everything after the
     * prefix's next {@code -}-separated word): a leak report that names the kind of thread left behind.
     *
     * @param prefix name prefix
     * @return counts by kind, e.g. {@code nc-w=3}
     */
    public static Map<String, Long> kinds(String prefix) {
        Map<String, Long> out = new TreeMap<>();
        for (Live t : threads()) {
            if (t.name().startsWith(prefix)) {
                String[] parts = t.name().split("-");
                String kind = parts.length >= 2 ? parts[0] + "-" + parts[1] : t.name();
                out.merge(kind + (t.virtual() ? "(v)" : ""), 1L, Long::sum);
            }
        }
        return out;
    }
}
