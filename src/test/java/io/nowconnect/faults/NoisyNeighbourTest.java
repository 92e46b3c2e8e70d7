package io.nowconnect.faults;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import io.nowconnect.faults.OverloadKit.Node;
import io.nowconnect.faults.OverloadKit.StalledTarget;
import io.nowconnect.testkit.ChildJvm;
import io.nowconnect.testkit.Harness;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The noisy neighbour of issue 24: one hub, two agents, each tenant kept apart. The hub and agents A and B run as child
 * processes with the launcher's JVM options ({@code src/dist/bin/nowconnect}), the hub with small limits so that A can
 * spend them quickly ({@value #MAX_CONNECTIONS} client connections, a {@value #BUDGET_MB} MiB memory budget). Agent B
 * serves an echo connector ({@code becho}, echo server in a process of its own) and a probe in a process of its own
 * sends it one request every {@value #PERIOD_MS} ms, each on a new connection: connect, 32 bytes there and back, close
 * (what a user of B feels: a new connection needs the hub's admission, a stream slot and an OPEN through B's tunnel, so
 * a connection limit spent by A shows, which one long-lived connection would not). After B's quiet baseline (p99
 * measured first), agent A, restarted for each phase, in turn:
 * <ol type="a">
 * <li>floods as a v1 agent ({@code -Dnowconnect.bin1=false} after the launcher's options: no flow control):
 * {@value #FLOOD_CLIENTS} clients that never read, from a target that sends without end;</li>
 * <li>holds {@value #STREAMS} streams whose clients never read, from a target that sends without end;</li>
 * <li>stops reading its tunnel (SIGSTOP of A's process) while {@value #UPLOADERS} clients upload to A's connector;</li>
 * <li>has one client open {@value #MAX_CONNECTIONS} ({@code NC_HUB_MAX_CONNECTIONS}) sockets on A's connector.</li>
 * </ol>
 * In every phase every B probe is answered, none of B's streams ends other than {@code ok} (hub and agent B count each
 * stream's result per connector), and the hub's {@code nowconnect_hub_memory_used_bytes} never exceeds
 * {@code _limit_bytes} (scraped every 200 ms throughout); when A stops reading, its stalled uploads leave room in the
 * hub's sending share. B's latency (p50, p99 and max against its quiet baseline) is printed, not asserted: performance is
 * measured, not asserted in tests (the goal is p99 within {@value #P99_SLACK_MS} ms of the baseline).
 *
 * <p>The ramp: a probe of A's own echo connector ({@code aecho}), started before the load, while {@value #STREAMS}
 * clients start uploading into A's target that never reads, then while {@value #STREAMS} clients start not reading
 * from A's target that never stops sending: the probe is answered in both ramps; its figures from the ramp's first
 * second are printed (the goal: every probe answered, p99 at most {@value #RAMP_P99_MS} ms).
 *
 * <p>Each phase is a test of its own, so a report names the phases that fail; {@link #printFigures()} prints one block
 * with every phase's figures (probe count, p50/p99/max, B's resets, the hub's peak memory, what A's own clients got and
 * the collector pauses of the hub, A and B over the phase, and over each ramp's first second) and writes it to {@code target/noisy-neighbour.txt}. Every client here comes from 127.0.0.1, B's probe included, so
 * {@code NC_HUB_MAX_CONNECTIONS_PER_CLIENT} is raised to the whole limit (one address cannot tell A's client from B's;
 * {@code HubClientLimitsTest} tests that limit); {@code NC_HUB_MAX_CONNECTIONS_PER_CONNECTOR} keeps its default (half
 * of the limit with several listeners), which lets {@value #STREAMS} streams onto one of A's connectors.
 */
@Tag("faults")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NoisyNeighbourTest {
    /** {@code NC_HUB_MAX_CONNECTIONS}: the default per-connector limit (half of it) admits {@value #STREAMS}. */
    private static final int MAX_CONNECTIONS = 4100;
    /** {@code NC_HUB_MEMORY_BUDGET_MB}: a v1 flood fills it in about a second, its sending share is 6.4 MiB. */
    private static final int BUDGET_MB = 32;
    private static final int STREAMS = 2000;
    /**
     * Few enough that the kernel's buffers toward them (about 2 MiB each) soon leave the rest to the hub's budget, enough
     * that their v1 queues ({@code NC_HUB_QUEUE_DEPTH_PER_CID} 100 frames, about 800 KiB each) exceed it.
     */
    private static final int FLOOD_CLIENTS = 50;
    /**
     * Uploading clients of A when it stops reading, as many as A admits: A runs with {@code NC_MAX_INFLIGHT_CIDS}
     * {@value #UPLOADERS}, so it grants 128 KiB windows (its budget's window share over its stream limit), and the hub
     * may take that much of each upload before A stops taking it: 12.5 MiB, twice the hub's sending share. Under its
     * default 2,000 streams A grants 6 KiB, and 200 stalled uploads held 1.2 MiB of the hub's 6.4 MiB share.
     */
    private static final int UPLOADERS = 100;
    private static final int PERIOD_MS = 100;
    /** A probe with no answer this long is a failure. */
    private static final int PROBE_TIMEOUT_MS = 5000;
    private static final double P99_SLACK_MS = 100;
    private static final double RAMP_P99_MS = 500;
    /** How long each phase holds its load once it is in place. */
    private static final Duration HOLD = Duration.ofSeconds(5);
    private static final Duration BASELINE = Duration.ofSeconds(8);
    private static final Set<String> A_CONNECTORS = Set.of("asink", "asource", "aecho");
    private static final Set<String> B_CONNECTORS = Set.of("becho");
    /** Wall-clock time of a probe (UTC), to find it in the GC logs ({@code NC_TEST_GC_DIR}). */
    private static final java.time.format.DateTimeFormatter WALL = java.time.format.DateTimeFormatter
            .ofPattern("HH:mm:ss.SSS").withZone(java.time.ZoneOffset.UTC);
    private static final Pattern LABEL = Pattern.compile("(\\w+)=\"([^\"]*)\"");

    private Harness harness;
    private Path dir;
    private Node hub;
    private Node agentB;
    private int hubPort;
    private final Map<String, Integer> listeners = new LinkedHashMap<>();
    private int echoPort;
    private StalledTarget sink;
    private StalledTarget source;
    private Path tokenA;
    private int bHttp;
    private ProbeRun probeB;
    private MemoryWatch memory;
    private double baselineP99 = Double.NaN;
    /** The block printed at the end: one entry per phase, in order. */
    private final List<String> figures = new CopyOnWriteArrayList<>();
    /** What the hub and agent B said during each phase (diagnosis, printed after the block). */
    private final List<String> details = new CopyOnWriteArrayList<>();

    @BeforeAll
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void startHubAgentBAndMeasureTheBaseline() throws Exception {
        dir = Files.createTempDirectory("nc-noisy-");
        harness = Harness.create(dir);
        Process echoProcess = harness.closeLater(new ChildProcess(ChildJvm.main(LoadPeer.class.getName())
                .options("-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1").args("echo").inheritErr().start()))
                .process;
        echoPort = Integer.parseInt(firstLine(echoProcess, "PORT (\\d+)").group(1));
        sink = harness.closeLater(new StalledTarget(false));
        source = harness.closeLater(new StalledTarget(true));

        hubPort = FaultKit.freePort();
        for (String c : List.of("becho", "asink", "asource", "aecho")) {
            listeners.put(c, FaultKit.freePort());
        }
        Map<String, String> hubEnv = new LinkedHashMap<>();
        hubEnv.put("NC_HUB_HOST", "127.0.0.1");
        hubEnv.put("NC_HUB_PORT", Integer.toString(hubPort));
        hubEnv.put("NC_HUB_JWT_SECRET_FILE", harness.secret().toString());
        hubEnv.put("NC_HUB_LISTENERS", listeners.entrySet().stream().map(e -> e.getKey() + "=127.0.0.1:" + e.getValue())
                .collect(Collectors.joining(",")));
        hubEnv.put("NC_HUB_MAX_CONNECTIONS", Integer.toString(MAX_CONNECTIONS));
        hubEnv.put("NC_HUB_MAX_CONNECTIONS_PER_CLIENT", Integer.toString(MAX_CONNECTIONS));
        hubEnv.put("NC_HUB_MEMORY_BUDGET_MB", Integer.toString(BUDGET_MB));
        hubEnv.put("NC_LOG_LEVEL", "INFO");
        hub = harness.closeLater(new Node(dir, "hub", "hub", hubEnv, List.of()));
        hub.awaitHttp(hubPort, "/healthz", Duration.ofSeconds(30));

        bHttp = FaultKit.freePort();
        Map<String, String> bEnv = OverloadKit.agentEnv(url(), harness.tokenFile("agent-b", Duration.ofHours(1),
                                                                                 List.copyOf(B_CONNECTORS)),
                                                        Map.of("becho", echoPort), bHttp, 2000);
        bEnv.put("NC_AGENT_ID", "agent-b");
        agentB = harness.closeLater(new Node(dir, "agent", "agent-b", bEnv, List.of()));
        agentB.awaitHttp(bHttp, "/readyz", Duration.ofSeconds(30));
        tokenA = harness.tokenFile("agent-a", Duration.ofHours(1), List.copyOf(A_CONNECTORS));

        memory = harness.closeLater(new MemoryWatch(hubPort));
        // the hub and B run compiled code from here on, as they would after minutes in service (C2 only: without
        // this the baseline would be the interpreter's)
        warmUp(listeners.get("becho"), 1500);
        probeB = harness.closeLater(ProbeRun.start("b", listeners.get("becho")));
        FaultKit.sleep(1500);
        long start = System.currentTimeMillis();
        memory.phase("baseline");
        FaultKit.sleep(BASELINE.toMillis());
        long end = System.currentTimeMillis();
        Stats base = Stats.of(probeB.window(start, end));
        baselineP99 = base.p99;
        figures.add(String.format("%-22s B %s | hub memory %s | load %s", "baseline (quiet)", base.figure(),
                                  memory.figure(), loadAverage()));
        assertEquals(0, base.failed(), "B's quiet probes all answered: " + base.failures);
    }

    @Test
    @Order(1)
    void aV1FloodLeavesAgentBAlone() throws Exception {
        phase("a: v1 flood", List.of("-Dnowconnect.bin1=false"), Map.of(), a -> {
            Clients clients = Clients.open(listeners.get("asource"), FLOOD_CLIENTS, 4096);
            awaitAccepted(a, source, a.sourceBefore, clients);
            // the kernel's buffers toward the clients fill first; then the budget's share for received data (80 %)
            long t0 = System.nanoTime();
            while (memory.usedShare() < 0.75 && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20)) {
                FaultKit.sleep(100);
            }
            a.note(String.format("the hub's memory %s 75 %% of its budget %.1f s after A's clients connected",
                                 memory.usedShare() >= 0.75 ? "reached" : "did not reach", (System.nanoTime() - t0) / 1e9));
            FaultKit.sleep(HOLD.toMillis());
            return clients;
        });
    }

    @Test
    @Order(2)
    void bTwoThousandNonReadingStreamsLeaveAgentBAlone() throws Exception {
        phase("b: 2000 non-reading", List.of(), Map.of(), a -> {
            Clients clients = Clients.open(listeners.get("asource"), STREAMS, 4096);
            awaitAccepted(a, source, a.sourceBefore, clients);
            FaultKit.sleep(HOLD.toMillis());
            return clients;
        });
    }

    @Test
    @Order(3)
    void cAgentThatStopsReadingLeavesAgentBAlone() throws Exception {
        String name = "c: A stops reading";
        phase(name, List.of(), Map.of("NC_MAX_INFLIGHT_CIDS", Integer.toString(UPLOADERS)), a -> {
            Clients clients = Clients.open(listeners.get("asink"), UPLOADERS, 0);
            awaitAccepted(a, sink, a.sinkBefore, clients);
            FaultKit.signal(a.node.process.pid(), "STOP");
            a.note("A stopped (SIGSTOP) with " + UPLOADERS + " streams open; then its clients upload");
            clients.upload();
            FaultKit.sleep(HOLD.toMillis());
            a.note(String.format("A's tunnel %s after %d s stopped; hub memory then %.0f %% of its budget",
                                 hubAgents() >= 2 ? "still open" : "cut by the hub", HOLD.toMillis() / 1000,
                                 100 * memory.usedShare()));
            return clients;
        }, () -> List.of(() -> {
            // A's stalled uploads may hold at most half the sending share (one busy tenant: its part over busy + 1),
            // so B's uploads always find room; before shares they held all of it (6.4 of 6.4 MiB)
            double sendingShare = 0.2 * BUDGET_MB * 1048576;
            MemoryWatch.Peak mem = memory.peak(name);
            assertTrue(mem.max < 0.75 * sendingShare, String.format(
                    "A's stalled uploads left room in the sending share: hub memory max %.1f MiB, sending share %.1f MiB",
                    mem.max / 1048576, sendingShare / 1048576));
        }));
    }

    @Test
    @Order(4)
    void dOneClientWithEveryConnectionLeavesAgentBAlone() throws Exception {
        phase("d: max connections", List.of(), Map.of(), a -> {
            Clients clients = Clients.open(listeners.get("asink"), MAX_CONNECTIONS, 0);
            clients.watch();
            FaultKit.sleep(HOLD.toMillis());
            a.note(String.format("A's target accepted %d", sink.accepted.get() - a.sinkBefore));
            return clients;
        });
    }

    @Test
    @Order(5)
    void rampOnAgentAsOwnConnectorsKeepsItsOtherConnectorAnswering() throws Exception {
        List<Stats> rampStats = new ArrayList<>();
        // A admits every stream the hub may send it: uploads whose clients are gone may still wait for credit when the
        // non-readers arrive (as in OverloadTest)
        phase("ramp", List.of(), Map.of("NC_MAX_INFLIGHT_CIDS", Integer.toString(MAX_CONNECTIONS)), a -> {
            ProbeRun probeA = harness.closeLater(ProbeRun.start("a", listeners.get("aecho")));
            FaultKit.sleep(1500);
            long quietStart = System.currentTimeMillis();
            FaultKit.sleep(3000);
            Stats quiet = Stats.of(probeA.window(quietStart, System.currentTimeMillis()));
            a.note("A's echo probe quiet: " + quiet.figure());

            long upStart = System.currentTimeMillis();
            Cpu upCpu = new Cpu(a.node);
            Clients uploads = Clients.open(listeners.get("asink"), STREAMS, 0, true);
            awaitAccepted(a, sink, a.sinkBefore, uploads);
            a.note(String.format("uploads: %d connected in %d ms", uploads.connected.get(),
                                 System.currentTimeMillis() - upStart));
            FaultKit.sleep(HOLD.toMillis());
            long upEnd = System.currentTimeMillis();
            a.note("uploads: " + uploads.figure() + "; " + upCpu.figure());
            uploads.close();

            long downStart = System.currentTimeMillis();
            Cpu downCpu = new Cpu(a.node);
            Clients readers = Clients.open(listeners.get("asource"), STREAMS, 4096);
            awaitAccepted(a, source, a.sourceBefore, readers);
            a.note(String.format("non-readers: %d connected in %d ms", readers.connected.get(),
                                 System.currentTimeMillis() - downStart));
            FaultKit.sleep(HOLD.toMillis());
            long downEnd = System.currentTimeMillis();
            a.note("non-readers: " + downCpu.figure());

            Stats up = Stats.of(probeA.window(upStart, upEnd));
            Stats upFirst = Stats.of(probeA.window(upStart, upStart + 1000));
            Stats down = Stats.of(probeA.window(downStart, downEnd));
            Stats downFirst = Stats.of(probeA.window(downStart, downStart + 1000));
            rampStats.addAll(List.of(up, down));
            a.extra(String.format("%-22s A's echo %s (first second: %s)", "  ramp uploads", up.figure(),
                                  upFirst.figure()));
            a.extra(String.format("%-22s A's echo %s (first second: %s)", "  ramp non-readers", down.figure(),
                                  downFirst.figure()));
            a.extra(String.format("%-22s collector pauses in the first second of uploads: hub %s, agent A %s; of"
                                          + " non-readers: hub %s, agent A %s", "", Pauses.of(hub.gcLog, upStart,
                                  upStart + 1000), Pauses.of(a.node.gcLog, upStart, upStart + 1000),
                                  Pauses.of(hub.gcLog, downStart, downStart + 1000),
                                  Pauses.of(a.node.gcLog, downStart, downStart + 1000)));
            Map<String, Path> aPath = new LinkedHashMap<>();
            aPath.put("hub", hub.gcLog);
            aPath.put("agent A", a.node.gcLog);
            details.add("ramp: A's echo probe, uploads: slowest " + slowest(probeA.window(upStart, upEnd), upStart, aPath)
                                + (up.failures.isEmpty() ? "" : ", failed " + up.failureSummary()) + "; non-readers: slowest "
                                + slowest(probeA.window(downStart, downEnd), downStart, aPath)
                                + (down.failures.isEmpty() ? "" : ", failed " + down.failureSummary()));
            probeA.close();
            return readers;
        }, () -> List.of(
                () -> assertEquals(2, rampStats.size(), "both ramps ran"),
                () -> assertTrue(rampStats.stream().allMatch(s -> s.count > s.failed()),
                                 "A's echo probe answered in both ramps: "
                                         + rampStats.stream().map(Stats::figure).toList())));
    }

    @AfterAll
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void printFigures() throws IOException {
        StringBuilder block = new StringBuilder();
        block.append("==== noisy neighbour (issue 24): hub NC_HUB_MAX_CONNECTIONS ").append(MAX_CONNECTIONS)
                .append(" (per connector ").append(MAX_CONNECTIONS / 2).append(" by default), budget ").append(BUDGET_MB)
                .append(" MiB; hub and agents with the launcher's options; B probe: new connection, 32 B echo, every ")
                .append(PERIOD_MS).append(" ms; pass: all answered, p99 <= baseline p99 + ").append((int) P99_SLACK_MS)
                .append(" ms, no B stream ending other than ok, hub memory <= limit; ramp: A's echo p99 <= ")
                .append((int) RAMP_P99_MS).append(" ms ====\n");
        figures.forEach(f -> block.append(f).append('\n'));
        block.append("==== details ====\n");
        details.forEach(d -> block.append(d).append('\n'));
        System.out.print(block);
        try {
            Files.createDirectories(Path.of("target"));
            Files.writeString(Path.of("target", "noisy-neighbour.txt"), block);
        } finally {
            if (harness != null) {
                harness.close();
                Harness.deleteTree(dir);
            }
        }
    }

    /** One phase of agent A: the load it applies, returned so that it is closed with A. */
    @FunctionalInterface
    private interface Load {
        Clients apply(PhaseOfA a) throws Exception;
    }

    /** Agent A of one phase and what is noted about it. */
    private final class PhaseOfA {
        final Node node;
        final int sinkBefore = sink.accepted.get();
        final int sourceBefore = source.accepted.get();
        final List<String> notes = new ArrayList<>();
        final List<String> extraLines = new ArrayList<>();

        PhaseOfA(Node node) {
            this.node = node;
        }

        void note(String s) {
            notes.add(s);
        }

        void extra(String line) {
            extraLines.add(line);
        }
    }

    private void phase(String name, List<String> aOptions, Map<String, String> aVars, Load load) throws Exception {
        phase(name, aOptions, aVars, load, List::of);
    }

    /**
     * Start agent A (the launcher's options plus the given ones, its variables plus the given ones), apply the load while B is probed and the hub's memory
     * watched, then stop A and its clients and wait until the hub holds none of A's streams; assert B's figures and
     * any more assertions.
     */
    private void phase(String name, List<String> aOptions, Map<String, String> aVars, Load load,
                       Supplier<List<Executable>> more) throws Exception {
        assertTrue(!Double.isNaN(baselineP99), "the baseline was measured");
        int aHttp = FaultKit.freePort();
        Map<String, Integer> targets = new LinkedHashMap<>();
        targets.put("asink", sink.port());
        targets.put("asource", source.port());
        targets.put("aecho", echoPort);
        Map<String, String> aEnv = OverloadKit.agentEnv(url(), tokenA, targets, aHttp, 2000);
        aEnv.put("NC_AGENT_ID", "agent-a");
        aEnv.putAll(aVars);
        String slug = name.replaceAll("[^a-z0-9]+", "-");
        Node agentA = new Node(dir, "agent", "agent-a-" + slug, aEnv, aOptions);
        Clients clients = null;
        PhaseOfA a = new PhaseOfA(agentA);
        long logFrom = Files.size(hub.log);
        Map<String, Double> hubBefore;
        Map<String, Double> hubAfter;
        Map<String, Double> bBefore;
        Map<String, Double> bAfter;
        long start;
        long end;
        try {
            agentA.awaitHttp(aHttp, "/readyz", Duration.ofSeconds(30));
            hubBefore = OverloadKit.metrics(hubPort);
            bBefore = OverloadKit.metrics(bHttp);
            memory.phase(name);
            start = System.currentTimeMillis();
            clients = load.apply(a);
            end = System.currentTimeMillis();
            hubAfter = OverloadKit.metrics(hubPort);
            bAfter = OverloadKit.metrics(bHttp);
            memory.phase("between phases");
        } catch (Exception | AssertionError e) {
            figures.add(String.format("%-22s did not run to its end: %s", name, e));
            throw e;
        } finally {
            if (clients != null) {
                clients.close();
            }
            agentA.close();
        }
        boolean drained = awaitHubDrained(Duration.ofSeconds(20));

        Stats b = Stats.of(probeB.window(start, end));
        Map<String, Double> bHubResults = delta(hubBefore, hubAfter, "nowconnect_hub_streams_total", B_CONNECTORS, "result");
        Map<String, Double> bAgentResults = delta(bBefore, bAfter, "nowconnect_streams_total", B_CONNECTORS, "result");
        double bHubBad = notOk(bHubResults);
        double bAgentBad = notOk(bAgentResults);
        Map<String, Double> aResults = delta(hubBefore, hubAfter, "nowconnect_hub_streams_total", A_CONNECTORS, "result");
        Map<String, Double> aBytes = delta(hubBefore, hubAfter, "nowconnect_hub_bytes_total", A_CONNECTORS, "direction");
        double aOpen = byLabel(hubAfter, "nowconnect_hub_streams_active", A_CONNECTORS, "connector").values().stream()
                .mapToDouble(Double::doubleValue).sum();
        MemoryWatch.Peak mem = memory.peak(name);
        figures.add(String.format("%-22s B %s; B streams not ok: hub %.0f, agent %.0f | hub memory %s | load %s", name,
                                  b.figure(), bHubBad, bAgentBad, mem, loadAverage()));
        figures.add(String.format("%-22s collector pauses: hub %s; agent A %s; agent B %s", "",
                                  Pauses.of(hub.gcLog, start, end), Pauses.of(agentA.gcLog, start, end),
                                  Pauses.of(agentB.gcLog, start, end)));
        figures.add(String.format("%-22s A's clients: %s; hub's A streams ended %s, open at the end %.0f, bytes %s",
                                  "", clients == null ? "-" : clients.figure(), compact(aResults), aOpen,
                                  compact(mibs(aBytes))));
        a.notes.forEach(n -> figures.add(String.format("%-22s %s", "", n)));
        figures.addAll(a.extraLines);
        Map<String, Path> bPath = new LinkedHashMap<>();
        bPath.put("hub", hub.gcLog);
        bPath.put("agent B", agentB.gcLog);
        details.add(name + ": B's streams on the hub " + compact(bHubResults) + ", on agent B " + compact(bAgentResults)
                + "; B's slowest probes " + slowest(probeB.window(start, end), start, bPath)
                + (b.failures.isEmpty() ? "" : "; B's failed probes: " + b.failureSummary())
                + (drained ? "" : "; the hub still held A's streams 20 s after A stopped") + "; hub log: "
                + hubLog(logFrom));

        List<Executable> checks = new ArrayList<>(List.of(
                () -> assertTrue(b.count >= (end - start) / PERIOD_MS / 2, "B was probed: " + b.figure()),
                () -> assertEquals(0, b.failed(), "every B probe answered: " + b.failureSummary()),
                () -> assertEquals(0.0, bHubBad + bAgentBad, "no B stream reset: hub " + compact(bHubResults)
                        + ", agent B " + compact(bAgentResults)),
                () -> assertTrue(mem.violations.isEmpty(), "hub memory within its budget: " + mem.violations),
                () -> assertTrue(mem.samples > 5, "hub memory scraped: " + mem)));
        checks.addAll(more.get());
        assertAll(name, checks);
    }

    /** The machine's 1-minute load average (2 cores here, shared with other builds): how noisy the figures are. */
    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException | RuntimeException e) {
            return "?";
        }
    }

    private String url() {
        return "ws://127.0.0.1:" + hubPort + "/tunnel";
    }

    private int hubAgents() {
        return (int) OverloadKit.sum(OverloadKit.metrics(hubPort), "nowconnect_hub_agents_connected");
    }

    /** Wait until the hub holds no stream of A's connectors and only B's tunnel; whether it did in time. */
    private boolean awaitHubDrained(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Map<String, Double> m = OverloadKit.metrics(hubPort);
            double open = byLabel(m, "nowconnect_hub_streams_active", A_CONNECTORS, "connector").values().stream()
                    .mapToDouble(Double::doubleValue).sum();
            if (open == 0 && OverloadKit.sum(m, "nowconnect_hub_agents_connected") <= 1) {
                return true;
            }
            FaultKit.sleep(200);
        }
        return false;
    }

    /**
     * Wait (at most 30 s) until A's target accepted a connection for every client that is still open (the hub or A
     * may refuse or reset some: that is what A's clients got, in the figures); a shortfall is noted, not a failure.
     */
    private static void awaitAccepted(PhaseOfA a, StalledTarget target, int before, Clients clients) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (target.accepted.get() - before + clients.ended() < clients.connected.get()
                && System.nanoTime() < deadline) {
            FaultKit.sleep(100);
        }
        int accepted = target.accepted.get() - before;
        if (accepted + clients.ended() < clients.connected.get()) {
            a.note("A's target accepted only " + accepted + " of " + clients.connected.get() + " connected clients in 30 s");
        }
    }

    /** Echo round trips on new connections, a few at a time, so the hub and B have compiled their paths. */
    private static void warmUp(int port, int count) throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            threads.add(Thread.ofVirtual().start(() -> {
                byte[] msg = new byte[32];
                while (next.getAndIncrement() < count) {
                    try (Socket s = new Socket()) {
                        s.setTcpNoDelay(true);
                        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
                        s.setSoTimeout(5000);
                        s.getOutputStream().write(msg);
                        s.getInputStream().readNBytes(msg.length);
                        s.shutdownOutput();
                        s.getInputStream().read();
                    } catch (IOException ignored) {
                        // a warm-up round trip
                    }
                }
            }));
        }
        for (Thread t : threads) {
            t.join(60_000);
        }
    }

    /** Lines the hub logged since an offset that tell about tenants (warnings, resets, refusals), at most 12. */
    private String hubLog(long from) {
        try {
            byte[] all = Files.readAllBytes(hub.log);
            String text = new String(all, (int) Math.min(from, all.length), (int) Math.max(0, all.length - from),
                                     StandardCharsets.UTF_8);
            List<String> lines = text.lines().filter(l -> !l.isBlank()).toList();
            // one access line per stream: those of A and B's ok ones are in the metrics' figures already
            List<String> shown = lines.stream().filter(l -> !l.contains("event=access") || l.contains("agent-b")
                    && !l.contains("result=ok")).limit(12).map(l -> l.length() > 300 ? l.substring(0, 300) + "..." : l)
                    .toList();
            return lines.size() + " lines" + (shown.isEmpty() ? "" : ":\n    " + String.join("\n    ", shown));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Samples of a metric by one label's value, for series of the given connectors. */
    static Map<String, Double> byLabel(Map<String, Double> samples, String name, Set<String> connectors, String label) {
        Map<String, Double> out = new TreeMap<>();
        for (Map.Entry<String, Double> e : samples.entrySet()) {
            String k = e.getKey();
            if (!k.startsWith(name + "{")) {
                continue;
            }
            Map<String, String> labels = new TreeMap<>();
            Matcher m = LABEL.matcher(k);
            while (m.find()) {
                labels.put(m.group(1), m.group(2));
            }
            if (connectors.contains(labels.get("connector")) && labels.containsKey(label)) {
                out.merge(labels.get(label), e.getValue(), Double::sum);
            }
        }
        return out;
    }

    /** What a counter grew by between two scrapes, by one label's value (values that did not grow left out). */
    static Map<String, Double> delta(Map<String, Double> before, Map<String, Double> after, String name,
                                     Set<String> connectors, String label) {
        Map<String, Double> b = byLabel(before, name, connectors, label);
        Map<String, Double> out = new TreeMap<>();
        byLabel(after, name, connectors, label).forEach((k, v) -> {
            double d = v - b.getOrDefault(k, 0.0);
            if (d != 0) {
                out.put(k, d);
            }
        });
        return out;
    }

    /**
     * The five slowest answered probes: latency and when they started, from the phase's start, with how long each
     * process on the probe's path was paused by its collector meanwhile.
     *
     * @param path the GC logs of the probe's path, by process name
     */
    private static String slowest(List<Result> results, long startMs, Map<String, Path> path) {
        Map<String, List<double[]>> pauses = new LinkedHashMap<>();
        path.forEach((name, log) -> pauses.put(name, Pauses.read(log)));
        return results.stream().filter(Result::ok).sorted(Comparator.comparingDouble(Result::ms).reversed()).limit(5)
                .map(r -> String.format("%.0f ms at +%.1f s (%s%s)", r.ms(), (r.startMs() - startMs) / 1000.0,
                                        WALL.format(java.time.Instant.ofEpochMilli(r.startMs())), pauses.entrySet()
                                                .stream().map(e -> Map.entry(e.getKey(), Pauses.overlap(e.getValue(),
                                                        r.startMs(), r.startMs() + r.ms())))
                                                .filter(e -> e.getValue() >= 1).map(e -> String.format(", %s paused %.0f ms",
                                                        e.getKey(), e.getValue())).collect(Collectors.joining())))
                .collect(Collectors.joining(", ", "[", "]"));
    }

    private static double notOk(Map<String, Double> results) {
        return results.entrySet().stream().filter(e -> !e.getKey().equals("ok")).mapToDouble(Map.Entry::getValue).sum();
    }

    private static Map<String, Double> mibs(Map<String, Double> bytes) {
        Map<String, Double> out = new TreeMap<>();
        bytes.forEach((k, v) -> out.put(k + " MiB", Math.round(v / 1048576.0 * 10) / 10.0));
        return out;
    }

    private static String compact(Map<String, Double> m) {
        return m.isEmpty() ? "{}" : m.entrySet().stream().map(e -> e.getKey() + " " + (e.getValue() % 1 == 0
                ? String.format("%.0f", e.getValue()) : e.getValue())).collect(Collectors.joining(", ", "{", "}"));
    }

    private static Matcher firstLine(Process p, String regex) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = r.readLine();
        Matcher m = Pattern.compile(regex).matcher(line == null ? "" : line);
        if (!m.matches()) {
            throw new AssertionError("expected " + regex + ", got " + line);
        }
        return m;
    }

    /** A child process ended (its stdin closed, then killed) when closed. */
    private record ChildProcess(Process process) implements AutoCloseable {
        @Override
        public void close() throws InterruptedException {
            try {
                process.getOutputStream().close();
            } catch (IOException ignored) {
                // gone
            }
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** One probe's outcome, as the probe process reported it. */
    record Result(int seq, long startMs, double ms, boolean ok, String outcome) {
    }

    /**
     * A {@link LoadPeer} {@code probe} process: one echo request on a new connection every {@value #PERIOD_MS} ms,
     * on schedule, timed in that process (not in this JVM, which runs A's clients and targets).
     */
    /**
     * CPU time the hub and one agent used since this was made, against the wall-clock time: in the ramp both stay busy
     * for the whole hold (the tunnel fills the kernel buffers of peers that do not read), which is what other streams
     * wait behind.
     */
    private final class Cpu {
        private final Node agent;
        private final long startNanos = System.nanoTime();
        private final Duration hubAt;
        private final Duration agentAt;

        Cpu(Node agent) {
            this.agent = agent;
            this.hubAt = cpu(hub);
            this.agentAt = cpu(agent);
        }

        String figure() {
            double wall = (System.nanoTime() - startNanos) / 1e9;
            return String.format("CPU over %.1f s: hub %.1f s, agent A %.1f s", wall,
                                 (cpu(hub).toMillis() - hubAt.toMillis()) / 1000.0,
                                 (cpu(agent).toMillis() - agentAt.toMillis()) / 1000.0);
        }

        private static Duration cpu(Node node) {
            return node.process.info().totalCpuDuration().orElse(Duration.ZERO);
        }
    }

    static final class ProbeRun implements AutoCloseable {
        private static final Pattern LINE = Pattern.compile("R (\\d+) (\\d+) (-?\\d+) (OK|FAIL .*)");
        final String name;
        private final ChildProcess child;
        private final Map<Integer, Result> results = new ConcurrentHashMap<>();
        private final CountDownLatch started = new CountDownLatch(1);
        private volatile long t0;

        private ProbeRun(String name, Process process) {
            this.name = name;
            this.child = new ChildProcess(process);
            Thread.ofPlatform().daemon().name("probe-" + name).start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                                                                                  StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        if (line.startsWith("T0 ")) {
                            t0 = Long.parseLong(line.substring(3).trim());
                            started.countDown();
                            continue;
                        }
                        Matcher m = LINE.matcher(line);
                        if (m.matches()) {
                            int seq = Integer.parseInt(m.group(1));
                            results.put(seq, new Result(seq, Long.parseLong(m.group(2)),
                                                        Long.parseLong(m.group(3)) / 1000.0, m.group(4).equals("OK"),
                                                        m.group(4)));
                        }
                    }
                } catch (IOException ignored) {
                    // gone
                }
            });
        }

        static ProbeRun start(String name, int port) throws InterruptedException {
            Process p = ChildJvm.main(LoadPeer.class.getName())
                    .options("-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
                    .args("probe", Integer.toString(port), Integer.toString(PERIOD_MS), Integer.toString(PROBE_TIMEOUT_MS))
                    .inheritErr().start();
            ProbeRun run = new ProbeRun(name, p);
            if (!run.started.await(30, TimeUnit.SECONDS)) {
                run.close();
                throw new AssertionError("probe " + name + " did not start");
            }
            return run;
        }

        /**
         * The probes scheduled within a span of wall-clock time, once each has reported (every probe reports within
         * its timeout); a probe that never reported counts as failed.
         */
        List<Result> window(long startMs, long endMs) {
            int first = (int) Math.max(0, Math.ceil((startMs - t0) / (double) PERIOD_MS));
            int last = (int) Math.floor((endMs - t0) / (double) PERIOD_MS);
            long deadline = System.currentTimeMillis() + PROBE_TIMEOUT_MS * 3L;
            while (System.currentTimeMillis() < deadline && !allIn(first, last)) {
                FaultKit.sleep(50);
            }
            List<Result> out = new ArrayList<>();
            for (int seq = first; seq <= last; seq++) {
                Result r = results.get(seq);
                out.add(r != null ? r : new Result(seq, t0 + (long) seq * PERIOD_MS, Double.NaN, false,
                                                   "FAIL no report from the probe process"));
            }
            return out;
        }

        private boolean allIn(int first, int last) {
            for (int seq = first; seq <= last; seq++) {
                if (!results.containsKey(seq)) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public void close() throws InterruptedException {
            child.close();
        }
    }

    /**
     * The collector's pauses of a span, from a node's GC log ({@code -Xlog:gc} with wall-clock times, written when a
     * pause ends): every pause stops all of that process's streams, so a probe's tail is read against them.
     */
    record Pauses(int count, double maxMs, double totalMs) {
        private static final Pattern PAUSE = Pattern.compile("^\\[([^\\]]+)\\]\\[[^\\]]*\\] GC\\(\\d+\\) Pause .* ([0-9.]+)ms$");
        private static final java.time.format.DateTimeFormatter TIME = java.time.format.DateTimeFormatter
                .ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSZ");

        static Pauses of(Path gcLog, long fromMillis, long toMillis) {
            List<double[]> all = read(gcLog);
            if (all == null) {
                return new Pauses(-1, 0, 0);
            }
            int n = 0;
            double max = 0;
            double total = 0;
            for (double[] p : all) {
                if (p[0] >= fromMillis && p[0] - p[1] <= toMillis) {
                    n++;
                    max = Math.max(max, p[1]);
                    total += p[1];
                }
            }
            return new Pauses(n, max, total);
        }

        /** How long the pauses ({@link #read}; null when unreadable) overlapped the span, in ms. */
        static double overlap(List<double[]> pauses, double fromMillis, double toMillis) {
            double sum = 0;
            for (double[] p : pauses == null ? List.<double[]>of() : pauses) {
                sum += Math.max(0, Math.min(p[0], toMillis) - Math.max(p[0] - p[1], fromMillis));
            }
            return sum;
        }

        /** Each pause as {end (epoch ms), length (ms)}, or null if the log cannot be read. */
        static List<double[]> read(Path gcLog) {
            List<double[]> out = new ArrayList<>();
            try {
                for (String line : Files.readAllLines(gcLog)) {
                    Matcher m = PAUSE.matcher(line);
                    if (m.matches()) {
                        out.add(new double[] {java.time.OffsetDateTime.parse(m.group(1), TIME).toInstant().toEpochMilli(),
                                              Double.parseDouble(m.group(2))});
                    }
                }
            } catch (IOException | RuntimeException e) {
                return null;
            }
            return out;
        }

        @Override
        public String toString() {
            return count < 0 ? "?" : String.format("%d, max %.0f ms, total %.0f ms", count, maxMs, totalMs);
        }
    }

    /** Probe figures of a span: count, failures, latency quantiles of the answered ones (nearest rank). */
    record Stats(int count, List<String> failures, double p50, double p99, double max) {
        static Stats of(List<Result> results) {
            List<Double> ms = results.stream().filter(Result::ok).map(Result::ms).sorted().toList();
            List<String> failures = results.stream().filter(r -> !r.ok()).map(Result::outcome).toList();
            return new Stats(results.size(), failures, quantile(ms, 0.5), quantile(ms, 0.99), quantile(ms, 1.0));
        }

        private static double quantile(List<Double> sorted, double q) {
            if (sorted.isEmpty()) {
                return Double.NaN;
            }
            int idx = (int) Math.ceil(q * sorted.size()) - 1;
            return sorted.get(Math.max(0, Math.min(sorted.size() - 1, idx)));
        }

        int failed() {
            return failures.size();
        }

        String failureSummary() {
            Map<String, Long> byReason = failures.stream().map(f -> f.replaceAll("\\d+ of", "n of"))
                    .collect(Collectors.groupingBy(f -> f, TreeMap::new, Collectors.counting()));
            return byReason.toString();
        }

        String figure() {
            return String.format("probes %3d, failed %d, p50 %6.1f ms, p99 %7.1f ms, max %7.1f ms", count, failed(), p50,
                                 p99, max);
        }
    }

    /** The hub's memory gauges scraped every 200 ms: each phase's peak, and every sample above the limit. */
    static final class MemoryWatch implements AutoCloseable {
        private final int port;
        private final Map<String, Peak> peaks = new ConcurrentHashMap<>();
        private volatile Peak current;
        private final Thread thread;

        MemoryWatch(int port) {
            this.port = port;
            this.current = new Peak("start");
            thread = Thread.ofPlatform().daemon().name("noisy-memory").start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    Map<String, Double> m = OverloadKit.metrics(port);
                    if (m.keySet().stream().anyMatch(k -> k.startsWith("nowconnect_hub_memory_limit_bytes"))) {
                        current.add(OverloadKit.sum(m, "nowconnect_hub_memory_used_bytes"),
                                    OverloadKit.sum(m, "nowconnect_hub_memory_limit_bytes"));
                    }
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        /** Start counting a phase's samples. */
        void phase(String name) {
            Peak p = new Peak(name);
            peaks.put(name, p);
            current = p;
        }

        Peak peak(String name) {
            return peaks.get(name);
        }

        /** The share of the limit in use at the last sample (0 before the first). */
        double usedShare() {
            Peak p = current;
            return p.limit == 0 ? 0 : p.last / p.limit;
        }

        String figure() {
            return current.toString();
        }

        @Override
        public void close() throws InterruptedException {
            thread.interrupt();
            thread.join(5000);
        }

        /** Samples of one phase. */
        static final class Peak {
            final String name;
            volatile double max;
            volatile double last;
            volatile double limit;
            volatile int samples;
            final List<String> violations = new CopyOnWriteArrayList<>();

            Peak(String name) {
                this.name = name;
            }

            synchronized void add(double used, double lim) {
                last = used;
                max = Math.max(max, used);
                limit = lim;
                samples++;
                if (used > lim) {
                    violations.add(String.format("%.2f > %.2f MiB", used / 1048576, lim / 1048576));
                }
            }

            @Override
            public String toString() {
                return String.format("max %.1f of %.0f MiB (%d samples%s)", max / 1048576, limit / 1048576, samples,
                                     violations.isEmpty() ? "" : ", " + violations.size() + " over the limit");
            }
        }
    }

    /**
     * Clients of one of A's connectors, all from this JVM: connected a few dozen at a time; they never read unless
     * {@link #watch()}ed, never write unless {@link #upload()}ing.
     */
    static final class Clients implements AutoCloseable {
        final List<Socket> sockets = new CopyOnWriteArrayList<>();
        final int wanted;
        final AtomicInteger connected = new AtomicInteger();
        final AtomicInteger connectFailed = new AtomicInteger();
        /** Watched or uploading clients the hub closed (end of stream, or a failed write after a clean close). */
        final AtomicInteger closedByHub = new AtomicInteger();
        final AtomicInteger resetByHub = new AtomicInteger();
        final AtomicLong read = new AtomicLong();
        final AtomicLong written = new AtomicLong();
        private volatile boolean closing;

        private Clients(int wanted) {
            this.wanted = wanted;
        }

        static Clients open(int port, int count, int receiveBuffer) throws InterruptedException {
            return open(port, count, receiveBuffer, false);
        }

        /**
         * Connect clients (64 connects at a time); each uploading one starts writing as soon as it is connected.
         *
         * @param receiveBuffer receive buffer of each socket (0 = default): small for clients that never read
         */
        static Clients open(int port, int count, int receiveBuffer, boolean upload) throws InterruptedException {
            Clients c = new Clients(count);
            Semaphore parallel = new Semaphore(64);
            CountDownLatch done = new CountDownLatch(count);
            for (int i = 0; i < count; i++) {
                parallel.acquire();
                Thread.ofVirtual().start(() -> {
                    try {
                        Socket s = new Socket();
                        if (receiveBuffer > 0) {
                            s.setReceiveBufferSize(receiveBuffer);
                        }
                        // an uploader's kernel buffer stays small (autotuned, 2,000 of them took 2 GiB)
                        s.setSendBufferSize(16384);
                        c.sockets.add(s);
                        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
                        c.connected.incrementAndGet();
                        if (upload) {
                            c.uploadOn(s);
                        }
                    } catch (IOException e) {
                        c.connectFailed.incrementAndGet();
                    } finally {
                        parallel.release();
                        done.countDown();
                    }
                });
            }
            done.await(120, TimeUnit.SECONDS);
            return c;
        }

        /** Every connected client starts writing without end (until the hub or the test closes it). */
        void upload() {
            sockets.stream().filter(Socket::isConnected).forEach(this::uploadOn);
        }

        private void uploadOn(Socket s) {
            Thread.ofVirtual().start(() -> {
                byte[] chunk = new byte[8192];
                try {
                    OutputStream out = s.getOutputStream();
                    while (true) {
                        out.write(chunk);
                        written.addAndGet(chunk.length);
                    }
                } catch (IOException e) {
                    ended(e);
                }
            });
        }

        /** Every connected client reads until its end, counting bytes and how it ended. */
        void watch() {
            for (Socket s : sockets) {
                if (!s.isConnected()) {
                    continue;
                }
                Thread.ofVirtual().start(() -> {
                    byte[] buf = new byte[8192];
                    try {
                        InputStream in = s.getInputStream();
                        int n;
                        while ((n = in.read(buf)) >= 0) {
                            read.addAndGet(n);
                        }
                        if (!closing) {
                            closedByHub.incrementAndGet();
                        }
                    } catch (IOException e) {
                        ended(e);
                    }
                });
            }
        }

        private void ended(IOException e) {
            if (closing) {
                return;
            }
            String m = String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT);
            if (m.contains("reset")) {
                resetByHub.incrementAndGet();
            } else {
                closedByHub.incrementAndGet();
            }
        }

        int ended() {
            return closedByHub.get() + resetByHub.get();
        }

        String figure() {
            int open = connected.get() - closedByHub.get() - resetByHub.get();
            return String.format("%d of %d connected (%d failed to connect), %d closed and %d reset by the hub, "
                                         + "%d still open; read %.1f MiB, wrote %.1f MiB", connected.get(), wanted,
                                 connectFailed.get(), closedByHub.get(), resetByHub.get(), open, read.get() / 1048576.0,
                                 written.get() / 1048576.0);
        }

        @Override
        public void close() {
            closing = true;
            for (Socket s : sockets) {
                try {
                    s.setSoLinger(true, 0);
                    s.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
        }
    }
}
