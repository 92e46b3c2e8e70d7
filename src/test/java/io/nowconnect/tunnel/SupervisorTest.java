package io.nowconnect.tunnel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.random.RandomGenerator;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.log.Event;
import io.nowconnect.mux.End;
import io.nowconnect.mux.MuxReason;
import io.nowconnect.testkit.Harness;
import io.nowconnect.tunnel.FakeTunnels.Drain;
import io.nowconnect.tunnel.FakeTunnels.Fake;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The supervisor's decisions, driven by cue with fake tunnels and a fake clock: no real sleeps, every wait of the
 * supervisor is fake time that the test moves on. The token file and its watch are real.
 *
 * <p>Back-off jitter is pinned to the ceiling, so the n-th consecutive delay is exactly {@code min * 2^(n-1)}, capped.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SupervisorTest {
    private static final Duration MIN = Duration.ofSeconds(1);
    private static final Duration MAX = Duration.ofSeconds(8);
    private static final Duration DRAIN = Duration.ofSeconds(30);
    private static final Duration MS = Duration.ofMillis(1);
    private static final Duration REAL_LIMIT = Duration.ofSeconds(20);
    /** Full jitter that always picks the ceiling. */
    private static final RandomGenerator CEILING = new RandomGenerator() {
        @Override
        public long nextLong() {
            return 0;
        }

        @Override
        public long nextLong(long origin, long bound) {
            return bound - 1;
        }
    };

    @TempDir
    Path dir;

    private Path tokenFile;
    private final FakeClock clock = new FakeClock();
    private final TunnelStatus status = TunnelStatus.create("ws://127.0.0.1:1/tunnel");
    private final Events events = new Events();
    private FakeTunnels tunnels;
    private Supervisor supervisor;
    private Level previousLevel;
    /**
     * The supervisor's logger, held: JUL keeps loggers weakly, and a test that runs before the class is loaded would
     * otherwise lose its handler to a collected logger.
     */
    private static final Logger SUPERVISOR_LOGGER = Logger.getLogger(Supervisor.class.getName());

    @BeforeEach
    void setUp() throws IOException {
        tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, "token-A\n");
        // before the handler goes on: the logging set-up resets every logger's handlers
        Harness.configureLogging();
        Logger logger = SUPERVISOR_LOGGER;
        previousLevel = logger.getLevel();
        logger.setLevel(Level.ALL);
        logger.addHandler(events);
    }

    @AfterEach
    void tearDown() throws Exception {
        Logger logger = SUPERVISOR_LOGGER;
        logger.removeHandler(events);
        logger.setLevel(previousLevel);
        if (supervisor == null) {
            return;
        }
        Thread stopper = Thread.ofVirtual().start(() -> supervisor.shutdown(Duration.ZERO));
        long end = System.nanoTime() + REAL_LIMIT.toNanos();
        while (!supervisor.awaitStopped(Duration.ofMillis(20))) {
            clock.advance(Duration.ofMinutes(1));
            assertTrue(System.nanoTime() - end < 0, "the supervisor stops");
        }
        assertTrue(stopper.join(REAL_LIMIT), "shutdown returns");
        for (Fake f : tunnels.all()) {
            f.awaitEnded();
        }
    }

    private void start(Map<String, String> extra) {
        start(extra, UnaryOperator.identity());
    }

    private void start(Map<String, String> extra, UnaryOperator<AgentConfig> adjust) {
        Map<String, String> env = new HashMap<>(Map.of(
                "NC_AGENT_URL", "ws://127.0.0.1:1/tunnel", "NC_AGENT_ID", "premise-01", "NC_CONNECTORS", "ldap",
                "NC_TARGET_ldap_HOST", "127.0.0.1", "NC_TARGET_ldap_PORT", "1389",
                "NC_TOKEN_FILE", tokenFile.toString(), "NC_RECONNECT_MIN_MS", "" + MIN.toMillis(),
                "NC_RECONNECT_MAX_MS", "" + MAX.toMillis(), "NC_DRAIN_TIMEOUT_SEC", "" + DRAIN.toSeconds()));
        env.putAll(extra);
        AgentConfig config = adjust.apply(AgentConfig.create(ConfigLoader.fromMaps(env, Map.of())));
        TokenSource tokens = TokenSource.create(config.tokenFile());
        tunnels = new FakeTunnels(tokens, status, clock);
        supervisor = new Supervisor(config, "test", tokens, status, tunnels, clock, CEILING);
        supervisor.start();
    }

    /** A first tunnel, ready, with two streams open. */
    private Fake readyTunnel() throws InterruptedException {
        start(Map.of());
        Fake t = tunnels.next();
        t.streams = 2;
        t.ready();
        clock.awaitIdle();
        assertEquals(TunnelStatus.State.READY, status.snapshot().state());
        return t;
    }

    /** Assert the supervisor opens no tunnel until {@code delay} has passed, and then one. */
    private Fake assertNextTunnelAfter(Duration delay) throws InterruptedException {
        int before = tunnels.count();
        clock.awaitIdle();
        clock.advance(delay.minus(MS));
        assertEquals(MS, clock.awaitIdle(), "the supervisor means to wake exactly when " + delay + " has passed");
        assertEquals(before, tunnels.count(), "no tunnel before " + delay);
        clock.advance(MS);
        return tunnels.next();
    }

    private static String fingerprint(String token) {
        return TokenSource.fingerprint(token);
    }

    @Test
    void theBackOffGrowsOnRepeatedFailuresAndResetsAfterAStableTunnel() throws Exception {
        start(Map.of());
        Fake t = tunnels.next();
        assertEquals(1, tunnels.count(), "the first tunnel opens at once");
        t.end(EndReason.CONNECT_FAILED, "connection refused");
        for (long seconds : new long[] {1, 2, 4, 8, 8}) {
            t = assertNextTunnelAfter(Duration.ofSeconds(seconds));
            t.end(MuxReason.HELLO_TIMEOUT, "no HELLO_ACK");
        }
        t = assertNextTunnelAfter(MAX);
        t.ready();
        clock.advance(Duration.ofSeconds(2));
        t.end(MuxReason.IO_ERROR, "connection reset");
        // ready for 2 s is not stable: the back-off stays at its maximum
        t = assertNextTunnelAfter(MAX);

        t.ready();
        clock.advance(Duration.ofSeconds(6));
        t.end(MuxReason.PING_TIMEOUT, "no pong");
        t = assertNextTunnelAfter(MIN);
        t.end(EndReason.CONNECT_FAILED, "connection refused");
        assertNextTunnelAfter(MIN.multipliedBy(2));

        assertEquals(Map.of("connect_failed", 2L, "hello_timeout", 5L, "io_error", 1L, "ping_timeout", 1L),
                     status.endings());
        assertEquals(Optional.of("connect_failed: connection refused"), status.snapshot().lastError());
        assertEquals(List.of(1000L, 2000L, 4000L, 8000L, 8000L, 8000L, 8000L, 1000L, 2000L),
                     events.named("reconnect_delay").stream().map(e -> (Long) e.fields().get("delay_ms")).toList());
    }

    @Test
    void aRepeatedFailureIsLoggedOnceAsAWarning() throws Exception {
        start(Map.of());
        Fake t = tunnels.next();
        t.end(MuxReason.HELLO_TIMEOUT, "no HELLO_ACK within 20 s");
        clock.awaitIdle();
        assertEquals(TunnelStatus.State.DISCONNECTED, status.snapshot().state());
        t = assertNextTunnelAfter(MIN);
        t.end(MuxReason.HELLO_TIMEOUT, "no HELLO_ACK within 20 s");
        t = assertNextTunnelAfter(MIN.multipliedBy(2));
        t.end(MuxReason.IO_ERROR, "broken pipe");
        clock.awaitIdle();

        assertEquals(List.of(Level.WARNING, Level.FINE, Level.WARNING), events.levels("disconnected"));
        assertEquals(Optional.of("io_error: broken pipe"), status.snapshot().lastError());
        assertEquals(0, status.snapshot().readyTunnels());
    }

    @Test
    void aLostTunnelIsReplacedAfterTheBackOffAndStatusFollows() throws Exception {
        Fake t = readyTunnel();
        t.end(MuxReason.IO_ERROR, "connection reset");
        clock.awaitIdle();
        TunnelStatus.Snapshot s = status.snapshot();
        assertEquals(TunnelStatus.State.DISCONNECTED, s.state());
        assertFalse(s.ready());
        assertEquals(Optional.of("io_error: connection reset"), s.lastError());
        Fake next = assertNextTunnelAfter(MIN);
        next.ready();
        clock.awaitIdle();
        assertEquals(TunnelStatus.State.READY, status.snapshot().state());
        assertEquals(2, status.connects());
    }

    @Test
    void aChangedTokenFileOpensANewTunnelBeforeTheOldOneDrains() throws Exception {
        Fake old = readyTunnel();
        assertEquals(fingerprint("token-A"), old.fingerprint);

        Files.writeString(tokenFile, "token-B\n");
        Fake fresh = tunnels.next();
        clock.awaitIdle();
        assertEquals(fingerprint("token-B"), fresh.fingerprint, "the new tunnel uses the new token");
        assertNull(old.drained, "the old tunnel serves until the new one is ready");
        assertNull(old.killed);
        assertEquals(List.of("token file changed"), events.field("rotating", "reason"));

        clock.advance(Duration.ofMillis(250));
        fresh.ready();
        clock.awaitIdle();
        assertEquals(new Drain(DRAIN, false, EndReason.ROTATED), old.drained, "the old tunnel drains, serving late OPENs");
        assertEquals(List.of(250L), events.field("rotated", "ready_ms"));
        assertEquals(List.of(2), events.field("rotated", "draining_streams"));
        assertEquals(2, status.snapshot().readyTunnels(), "both tunnels ready while the old one drains");

        old.end(EndReason.ROTATED, "drained");
        clock.awaitIdle();
        assertEquals(1, status.snapshot().readyTunnels());
        assertEquals(TunnelStatus.State.READY, status.snapshot().state());
        assertEquals(Map.of("rotation", 1L), status.endings());
        assertNull(fresh.drained);
        assertEquals(2, tunnels.count(), "no reconnect: the drained tunnel was the previous one");
        assertTrue(events.named("reconnect_delay").isEmpty());
    }

    @Test
    void anUnusableTokenFileKeepsTheTunnelUntilAGoodTokenArrives() throws Exception {
        Fake old = readyTunnel();
        Files.writeString(tokenFile, "");
        Harness.await(REAL_LIMIT, () -> !events.named("token_unusable").isEmpty(), "the emptied file is reported");
        Files.writeString(tokenFile, "two words");
        Harness.await(REAL_LIMIT, () -> events.named("token_unusable").size() == 2, "the garbled file is reported");
        clock.awaitIdle();
        assertEquals(1, tunnels.count(), "no new tunnel for an unusable token");
        assertNull(old.drained);

        Files.writeString(tokenFile, "token-C");
        Fake fresh = tunnels.next();
        assertEquals(fingerprint("token-C"), fresh.fingerprint);
    }

    static List<End.Reason> newTunnelFailures() {
        return List.of(EndReason.AUTH_FAILED, MuxReason.HELLO_TIMEOUT, MuxReason.IO_ERROR);
    }

    @ParameterizedTest
    @MethodSource("newTunnelFailures")
    void aFailedNewTunnelKeepsTheOldOneServingAndIsRetriedWithItsOwnBackOff(End.Reason failure) throws Exception {
        Fake old = readyTunnel();
        Files.writeString(tokenFile, "token-B");
        Fake candidate = tunnels.next();
        candidate.end(failure, "refused");
        clock.awaitIdle();
        assertNull(old.drained, "the old tunnel keeps serving");
        assertNull(old.killed);
        assertEquals(TunnelStatus.State.READY, status.snapshot().state());
        assertEquals(1, status.snapshot().readyTunnels());
        assertEquals(Optional.of(failure.label() + ": refused"), status.snapshot().lastError());

        candidate = assertNextTunnelAfter(MIN);
        candidate.end(failure, "refused");
        candidate = assertNextTunnelAfter(MIN.multipliedBy(2));
        assertEquals(1, events.named("rotation_failed").size(), "the same failure is logged once");
        assertTrue(events.named("reconnect_delay").isEmpty(), "the active tunnel was never given up");

        candidate.ready();
        clock.awaitIdle();
        assertEquals(new Drain(DRAIN, false, EndReason.ROTATED), old.drained);
        Files.writeString(tokenFile, "token-C");
        candidate = tunnels.next();
        candidate.end(failure, "refused again");
        // a successful rotation reset the rotation back-off and the failure log
        assertNextTunnelAfter(MIN);
        assertEquals(2, events.named("rotation_failed").size());
    }

    @Test
    void aNewTokenDuringTheBackOffConnectsAtOnce() throws Exception {
        start(Map.of());
        Fake t = tunnels.next();
        t.end(EndReason.AUTH_FAILED, "401");
        t = assertNextTunnelAfter(MIN);
        t.end(EndReason.AUTH_FAILED, "401");
        clock.awaitIdle();
        Files.writeString(tokenFile, "token-B");
        Fake fresh = tunnels.next();
        assertEquals(fingerprint("token-B"), fresh.fingerprint, "no wait for the 2 s back-off");
    }

    @Test
    void aNewTokenWhileConnectingRestartsTheAttemptAtOnce() throws Exception {
        start(Map.of());
        Fake connecting = tunnels.next();
        clock.awaitIdle();
        Files.writeString(tokenFile, "token-B");
        connecting.awaitEnded();
        assertEquals(EndReason.ROTATED, connecting.killed);
        Fake fresh = tunnels.next();
        assertEquals(fingerprint("token-B"), fresh.fingerprint, "reconnects without a back-off");
    }

    @Test
    void aTokenAboutToExpireIsReplacedByTheFilesTokenBeforeExp() throws Exception {
        Files.writeString(tokenFile, "token-B");
        start(Map.of());
        Fake t = tunnels.next();
        // this tunnel authenticated with token A (20 min long), read just before the file was replaced
        t.fingerprint = fingerprint("token-A");
        Instant now = clock.now();
        t.lifetime = Optional.of(new TokenSource.Lifetime(now.plus(Duration.ofMinutes(20)), Optional.of(now)));
        t.ready();
        Fake fresh = assertNextTunnelAfter(Duration.ofMinutes(19));
        assertEquals(fingerprint("token-B"), fresh.fingerprint);
        assertEquals(List.of("token expires soon"), events.field("rotating", "reason"));
    }

    @Test
    void aTokenAboutToExpireThatTheFileStillHoldsIsReportedOverdue() throws Exception {
        start(Map.of());
        Fake t = tunnels.next();
        Instant now = clock.now();
        t.lifetime = Optional.of(new TokenSource.Lifetime(now.plus(Duration.ofMinutes(5)), Optional.empty()));
        t.ready();
        clock.awaitIdle();
        clock.advance(Duration.ofSeconds(269));
        clock.awaitIdle();
        assertTrue(events.named("token_rotation_overdue").isEmpty(), "90 % of a short lifetime has not passed");
        clock.advance(Duration.ofSeconds(1));
        clock.awaitIdle();
        assertEquals(1, events.named("token_rotation_overdue").size());
        assertEquals(1, tunnels.count(), "no new tunnel with the same token");
    }

    @Test
    void aChangedConfigurationSaysHelloWithTheNewSettings() throws Exception {
        Fake old = readyTunnel();
        AgentConfig changed = AgentConfig.create(ConfigLoader.fromMaps(Map.of(
                "NC_AGENT_URL", "ws://127.0.0.1:1/tunnel", "NC_AGENT_ID", "premise-01", "NC_CONNECTORS", "ldap,db",
                "NC_TARGET_ldap_HOST", "127.0.0.1", "NC_TARGET_ldap_PORT", "1389",
                "NC_TARGET_db_HOST", "127.0.0.1", "NC_TARGET_db_PORT", "5432"), Map.of()));
        supervisor.reconfigure(changed);
        Fake fresh = tunnels.next();
        assertEquals(List.of("ldap", "db"), List.copyOf(fresh.settings.connectors().keySet()));
        assertEquals(List.of("ldap"), List.copyOf(old.settings.connectors().keySet()));
        fresh.ready();
        clock.awaitIdle();
        assertEquals(new Drain(Duration.ofSeconds(30), false, EndReason.ROTATED), old.drained);
    }

    @Test
    void shutdownDrainsTheReadyTunnelKillsAConnectingOneAndWaitsForTheDrain() throws Exception {
        Fake t = readyTunnel();
        Files.writeString(tokenFile, "token-B");
        Fake candidate = tunnels.next();
        Thread stopper = Thread.ofVirtual().start(() -> supervisor.shutdown(Duration.ofSeconds(10)));
        Harness.await(REAL_LIMIT, () -> t.drained != null, "the ready tunnel drains");
        candidate.awaitEnded();
        clock.awaitIdle();
        assertEquals(new Drain(Duration.ofSeconds(10), true, EndReason.DRAINED), t.drained, "refusing new streams");
        assertEquals(EndReason.SHUTDOWN, candidate.killed);
        assertEquals(TunnelStatus.State.STOPPING, status.snapshot().state());

        clock.advance(Duration.ofSeconds(12));
        clock.awaitIdle();
        assertTrue(supervisor.isRunning(), "waits for the draining tunnel");
        t.end(EndReason.DRAINED, "drained");
        assertTrue(supervisor.awaitStopped(REAL_LIMIT));
        assertTrue(stopper.join(REAL_LIMIT));
        assertNull(t.killed, "ended by its drain");
        assertEquals(TunnelStatus.State.STOPPING, status.snapshot().state());
    }

    @Test
    void shutdownClosesATunnelThatOutlivesTheDrainTimeout() throws Exception {
        Fake t = readyTunnel();
        Thread stopper = Thread.ofVirtual().start(() -> supervisor.shutdown(Duration.ofSeconds(10)));
        Harness.await(REAL_LIMIT, () -> t.drained != null, "the tunnel drains");
        clock.awaitIdle();
        // the supervisor gives its tunnels 3 s more than the drain timeout to close
        clock.advance(Duration.ofSeconds(13));
        clock.awaitIdle();
        assertTrue(supervisor.isRunning());
        clock.advance(MS);
        assertTrue(supervisor.awaitStopped(REAL_LIMIT));
        assertTrue(stopper.join(REAL_LIMIT));
        t.awaitEnded();
        assertEquals(EndReason.SHUTDOWN, t.killed);
        assertEquals(1, events.named("shutdown_timeout").size());
    }

    @Test
    void changedTlsFilesAreCheckedBeforeANewTunnelUsesThem() throws Exception {
        Path cert = dir.resolve("client.pem");
        Files.writeString(cert, "one");
        Path key = dir.resolve("client.key");
        Files.writeString(key, "one");
        // the configuration checks the files as PEM: the record gets them directly, only the fake factory reads them
        start(Map.of(), c -> withClientCert(c, cert, key));
        Fake old = tunnels.next();
        old.ready();
        clock.awaitIdle();

        tunnels.tlsProblem = new IllegalStateException("key does not match the certificate");
        Files.writeString(cert, "two");
        Harness.await(REAL_LIMIT, () -> !events.named("tls_files_unusable").isEmpty(), "the unusable material is reported");
        clock.awaitIdle();
        assertEquals(1, tunnels.count(), "no tunnel with unusable TLS files");

        tunnels.tlsProblem = null;
        Files.writeString(key, "two");
        Fake fresh = tunnels.next();
        assertEquals(1, tunnels.tlsReloads);
        assertEquals(List.of("TLS file client.key changed"), events.field("rotating", "reason"));
        fresh.ready();
        clock.awaitIdle();
        assertEquals(EndReason.ROTATED, old.drained.reason());
    }

    private static AgentConfig withClientCert(AgentConfig c, Path cert, Path key) {
        return new AgentConfig(c.url(), c.agentId(), c.tokenFile(), c.connectors(), c.log(), c.trustEnv(), c.proxy(),
                               c.healthHost(), c.healthPort(), c.httpHost(), c.httpPort(), c.caBundle(), Optional.of(cert),
                               Optional.of(key), c.maxWsPayload(), c.pingInterval(), c.pingTimeout(), c.connectTimeout(),
                               c.idleTimeout(), c.queueDepth(), c.maxInflight(), c.reconnectMin(), c.reconnectMax(),
                               c.drainTimeout(), c.allowInsecure(), c.memoryBudgetBytes(), c.urls(),
                               c.streamSendBuffer());
    }

    /** The supervisor's log events, in order. */
    private static final class Events extends Handler {
        private record Logged(Level level, Event event) {
        }

        private final List<Logged> logged = new CopyOnWriteArrayList<>();

        Events() {
            setLevel(Level.ALL);
        }

        @Override
        public void publish(LogRecord r) {
            if (r.getParameters() != null && r.getParameters().length > 0 && r.getParameters()[0] instanceof Event e) {
                logged.add(new Logged(r.getLevel(), e));
            }
        }

        List<Event> named(String name) {
            return logged.stream().map(Logged::event).filter(e -> name.equals(e.fields().get("event"))).toList();
        }

        List<Level> levels(String name) {
            return logged.stream().filter(l -> name.equals(l.event().fields().get("event"))).map(Logged::level).toList();
        }

        List<Object> field(String name, String key) {
            return named(name).stream().map(e -> e.fields().get(key)).toList();
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }
}
