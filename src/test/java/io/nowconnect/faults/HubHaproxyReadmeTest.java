package io.nowconnect.faults;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nowconnect.Agent;
import io.nowconnect.demo.EchoServer;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.freePort;
import static io.nowconnect.faults.FaultKit.report;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The README's haproxy configurations, as written: both blocks (the classic {@code option httpchk GET /readyz}, which
 * sends HTTP/1.0, and the {@code http-check send ... ver HTTP/1.1} form) are taken from README.md, only their addresses
 * and ports replaced with loopback ones, and run by a real haproxy in front of three hub replicas (child processes,
 * each with an admin listener). haproxy must see every replica up in the tunnel backend, every replica down in the
 * {@code ldap} backend while no agent serves {@code ldap}, and every replica up there once an agent (given only
 * haproxy's URL) holds a tunnel to each. Skipped (with a message) only when haproxy is not installed; {@code .ci/run}
 * installs it.
 */
@Tag("faults")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class HubHaproxyReadmeTest {
    private static final int REPLICAS = 3;
    private static final Duration WITHIN = Duration.ofSeconds(45);
    private static final Pattern SERVER = Pattern.compile(
            "^(\\s*server hub-(\\d) )10\\.0\\.0\\.1\\d:(8765|1389)( check port 9765)$");

    @Test
    void readmeConfigurationsSeeEveryReplica(Harness h) throws Exception {
        Optional<Path> haproxy = HubReplicasTest.haproxy();
        assumeTrue(haproxy.isPresent(), "haproxy is not installed (apt-get install haproxy): README haproxy test skipped");
        EchoServer echo = h.echo();
        int[] hubPorts = new int[REPLICAS];
        int[] ldapPorts = new int[REPLICAS];
        int[] adminPorts = new int[REPLICAS];
        List<FaultKit.HubProcess> hubs = new ArrayList<>();
        for (int i = 0; i < REPLICAS; i++) {
            hubPorts[i] = freePort();
            ldapPorts[i] = freePort();
            adminPorts[i] = freePort();
            hubs.add(h.closeLater(new FaultKit.HubProcess(
                    h.dir(), h.secret(), "127.0.0.1", hubPorts[i], Map.of("ldap", "127.0.0.1:" + ldapPorts[i]),
                    Map.of("NC_HUB_REPLICA_ID", "hub-" + i, "NC_HUB_REPLICAS", "hub-0,hub-1,hub-2",
                           "NC_HUB_ADMIN_HOST", "127.0.0.1", "NC_HUB_ADMIN_PORT", Integer.toString(adminPorts[i])),
                    List.of())));
        }
        for (FaultKit.HubProcess hub : hubs) {
            hub.start(Duration.ofSeconds(60));
        }
        int tunnelPort = freePort();
        int ldapPort = freePort();
        String readme = Files.readString(Path.of("README.md"));
        for (String form : new String[] {"classic", "http-check-send"}) {
            String config = loopback(block(readme, "haproxy:" + form), tunnelPort, ldapPort, hubPorts, ldapPorts,
                                     adminPorts);
            Path socket = h.dir().resolve("haproxy-" + form + ".sock");
            Path cfg = h.dir().resolve("haproxy-" + form + ".cfg");
            Files.writeString(cfg, "global\n    stats socket " + socket + " mode 600 level admin\n" + config);
            Process check = new ProcessBuilder(haproxy.get().toString(), "-c", "-f", cfg.toString())
                    .redirectErrorStream(true).start();
            String checkOut = new String(check.getInputStream().readAllBytes());
            assertEquals(0, check.waitFor(), form + ": haproxy -c refused the README's configuration: " + checkOut);
            Process balancer = new ProcessBuilder(haproxy.get().toString(), "-db", "-f", cfg.toString())
                    .redirectErrorStream(true).redirectOutput(h.dir().resolve("haproxy-" + form + ".log").toFile()).start();
            h.closeLater((AutoCloseable) balancer::destroyForcibly);
            Harness.await(Duration.ofSeconds(20), () -> Files.exists(socket) && FaultKit.accepts("127.0.0.1", tunnelPort, 200),
                          form + ": haproxy listening");

            long start = System.nanoTime();
            awaitAll(socket, "hubs_tunnel", "UP", form);
            // no agent yet: /readyz?connector=ldap is 503 on every replica, so no client is sent anywhere
            awaitAll(socket, "hubs_ldap", "DOWN", form);

            Map<String, String> vars = new HashMap<>(h.agentVars(0, Map.of("ldap", echo.port())));
            vars.put("NC_AGENT_URL", "ws://127.0.0.1:" + tunnelPort + "/tunnel");
            Agent agent = h.startAgent(vars);
            awaitAll(socket, "hubs_ldap", "UP", form);
            report("haproxy", form + ": every replica UP in both backends "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms after haproxy started");
            h.stopAgent(agent, Duration.ZERO);
            balancer.destroy();
            assertTrue(balancer.waitFor(10, TimeUnit.SECONDS), "haproxy stopped");
        }
    }

    /** The indented block after the README's {@code <!-- NAME ... -->} marker. */
    static String block(String readme, String name) {
        int marker = readme.indexOf("<!-- " + name + " ");
        assertTrue(marker >= 0, "README.md has no <!-- " + name + " --> block");
        List<String> lines = readme.substring(readme.indexOf('\n', marker) + 1).lines().toList();
        StringBuilder sb = new StringBuilder();
        boolean started = false;
        for (String line : lines) {
            if (line.isBlank()) {
                if (started) {
                    break;
                }
                continue;
            }
            if (!line.startsWith("    ")) {
                break;
            }
            started = true;
            sb.append(line.substring(4)).append('\n');
        }
        assertTrue(started, "README.md: no indented block after <!-- " + name + " -->");
        return sb.toString();
    }

    /** The README's addresses and ports, and nothing else, replaced with this test's loopback ones. */
    static String loopback(String config, int tunnelPort, int ldapPort, int[] hubPorts, int[] ldapPorts, int[] adminPorts) {
        StringBuilder sb = new StringBuilder();
        int servers = 0;
        for (String line : config.lines().toList()) {
            Matcher m = SERVER.matcher(line);
            if (line.strip().equals("bind :443")) {
                line = line.replace("bind :443", "bind 127.0.0.1:" + tunnelPort);
            } else if (line.strip().equals("bind :1389")) {
                line = line.replace("bind :1389", "bind 127.0.0.1:" + ldapPort);
            } else if (m.matches()) {
                int i = Integer.parseInt(m.group(2));
                int port = m.group(3).equals("8765") ? hubPorts[i] : ldapPorts[i];
                line = m.group(1) + "127.0.0.1:" + port + " check port " + adminPorts[i];
                servers++;
            }
            sb.append(line).append('\n');
        }
        String result = sb.toString();
        assertEquals(2 * REPLICAS, servers, "server lines in the README's block:\n" + config);
        assertFalse(result.contains("10.0.0.") || result.contains("9765") || result.contains(":8765"),
                    "an address left unreplaced:\n" + result);
        return result;
    }

    private static void awaitAll(Path socket, String backend, String state, String form) {
        Harness.await(WITHIN, () -> states(socket, backend).size() == REPLICAS
                && states(socket, backend).stream().allMatch(st -> st.endsWith("=" + state)),
                      form + ": every " + backend + " server " + state + " in haproxy");
    }

    private static List<String> states(Path socket, String backend) {
        return HubReplicasTest.stats(socket).stream()
                .filter(r -> backend.equals(r.get("pxname")) && String.valueOf(r.get("svname")).startsWith("hub-"))
                .map(r -> r.get("svname") + "=" + r.get("status")).toList();
    }
}
