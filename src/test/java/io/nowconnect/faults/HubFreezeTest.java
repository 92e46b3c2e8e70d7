package io.nowconnect.faults;

import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.nowconnect.Agent;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.freePort;
import static io.nowconnect.faults.FaultKit.report;
import static io.nowconnect.faults.HubKillRestartTest.ms;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The half-open case: the hub process is frozen with SIGSTOP (its sockets stay open, nothing answers). The agent must
 * notice within ping interval + ping timeout, close the streams of that tunnel, and be READY again once the hub
 * answers (SIGCONT).
 */
@Tag("faults")
@Timeout(value = 90, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class HubFreezeTest {
    private static final int PING_INTERVAL_SEC = 1;
    private static final int PING_TIMEOUT_SEC = 2;
    private static final long MARGIN_MS = 1500;

    @Test
    void frozenHubIsNoticedWithinPingIntervalPlusTimeoutAndRecoveredAfterSigcont(Harness h) throws Exception {
        try (FaultKit.TrackingTarget target = new FaultKit.TrackingTarget()) {
            int hubPort = freePort();
            int listen = freePort();
            FaultKit.HubProcess hub = new FaultKit.HubProcess(h.dir(), h.secret(), "127.0.0.1", hubPort,
                                                              Map.of("echo", "127.0.0.1:" + listen), Map.of(), List.of());
            try (hub) {
                hub.start(Duration.ofSeconds(30));
                Map<String, String> vars = new java.util.HashMap<>(h.agentVars(hubPort, Map.of("echo", target.port())));
                vars.put("NC_PING_INTERVAL_SEC", Integer.toString(PING_INTERVAL_SEC));
                vars.put("NC_PING_TIMEOUT_SEC", Integer.toString(PING_TIMEOUT_SEC));
                Agent agent = h.startAgent(vars);
                Harness.awaitReady(agent, Duration.ofSeconds(15));

                for (int round = 1; round <= 2; round++) {
                    Socket client = Harness.client(listen);
                    client.getOutputStream().write("before".getBytes());
                    assertArrayEquals("before".getBytes(), client.getInputStream().readNBytes(6));
                    int endedBefore = target.ended.get();

                    long frozen = System.nanoTime();
                    FaultKit.signal(hub.pid(), "STOP");
                    try {
                        Harness.await(Duration.ofMillis((PING_INTERVAL_SEC + PING_TIMEOUT_SEC) * 1000L + MARGIN_MS + 2000),
                                      () -> !agent.status().snapshot().ready(), "agent notices the frozen hub");
                        long noticedMs = ms(System.nanoTime() - frozen);
                        Harness.await(Duration.ofSeconds(3), () -> target.ended.get() > endedBefore,
                                      "the target socket of the frozen tunnel is closed");
                        long targetMs = ms(System.nanoTime() - frozen);
                        assertTrue(Harness.health(agent.healthPort()).startsWith("OK"), "health port says OK");
                        // stay frozen a little longer: the agent's reconnect attempts meet a hub that accepts TCP (the
                        // kernel's backlog) but never answers the upgrade
                        FaultKit.sleep(1500);
                        assertTrue(!agent.status().snapshot().ready(), "not READY against a frozen hub");
                        long cont = System.nanoTime();
                        FaultKit.signal(hub.pid(), "CONT");
                        Harness.awaitReady(agent, Duration.ofSeconds(10));
                        long readyMs = ms(System.nanoTime() - cont);
                        HubKillRestartTest.roundTrip(listen);
                        client.close();
                        report("hub SIGSTOP round " + round, "agent noticed in " + noticedMs + " ms (limit "
                                + (PING_INTERVAL_SEC + PING_TIMEOUT_SEC) + " s + " + MARGIN_MS + " ms); target socket closed in "
                                + targetMs + " ms; READY " + readyMs + " ms after SIGCONT; endings " + agent.status().endings());
                        assertTrue(noticedMs <= (PING_INTERVAL_SEC + PING_TIMEOUT_SEC) * 1000L + MARGIN_MS,
                                   "noticed in " + noticedMs + " ms");
                        assertTrue(readyMs < 5000, "READY after SIGCONT in " + readyMs + " ms");
                    } finally {
                        FaultKit.signal(hub.pid(), "CONT");
                    }
                }
            }
        }
    }
}
