package io.nowconnect.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Unauthenticated load on the hub's port, with real sockets: request headers sent a byte at a time and silent
 * connections are closed after {@code NC_HUB_REQUEST_TIMEOUT_SEC} while a tunnel lives on; connections beyond
 * {@code NC_HUB_MAX_TCP_CONNECTIONS} wait until one ends; a tunnel beyond {@code NC_HUB_MAX_TUNNELS_PER_AGENT} for one
 * {@code agent_id} is refused with 429.
 */
@ExtendWith(TestKit.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class HubAdmissionTest {

    @Test
    void slowRequestHeadersAndSilentConnectionsAreClosed(Harness harness) throws Exception {
        Hub hub = harness.hub().connectors("db").env(Map.of("NC_HUB_REQUEST_TIMEOUT_SEC", "2")).start();
        String token = Files.readString(harness.tokenFile(Harness.AGENT_ID, Duration.ofHours(1))).strip();
        RawAgent agent = harness.closeLater(RawAgent.connect(hub.port(), token));
        agent.hello("db");

        Socket silent = harness.closeLater(connect(hub.port()));
        Socket slow = harness.closeLater(connect(hub.port()));
        long start = System.nanoTime();
        // slowloris: the request line and headers, one byte every 100 ms (the whole request would take 20 s)
        byte[] request = ("GET /tunnel HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Authorization: Bearer " + token.substring(0, 40) + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        OutputStream out = slow.getOutputStream();
        int sent = 0;
        try {
            for (; sent < request.length; sent++) {
                out.write(request[sent]);
                out.flush();
                Thread.sleep(100);
            }
        } catch (IOException expected) {
            // the hub closed it
        }
        long slowCut = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(sent < request.length, "the slow request was cut before it was complete");
        assertTrue(slowCut < 10_000, "the slow request was cut after " + slowCut + " ms");
        assertEquals(-1, readOrReset(silent), "the silent connection is closed");
        long silentCut = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("[admission] slow request cut after %d ms (%d of %d bytes), silent connection after %d ms%n",
                          slowCut, sent, request.length, silentCut);

        // the tunnel, older than the deadline, lives on and answers
        assertEquals(1, hub.agentCount());
        assertTrue(!agent.isClosed(), "the tunnel is not cut by the deadline");
        String metrics = get(hub.port(), "/metrics").body();
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("nowconnect_hub_connections_cut_total")
                && l.contains("request_timeout") && !l.endsWith(" 0.0")), "counted in /metrics");
    }

    @Test
    void connectionsBeyondTheCapWaitUntilOneEnds(Harness harness) throws Exception {
        Hub hub = harness.hub().connectors("db")
                .env(Map.of("NC_HUB_MAX_TUNNELS", "2", "NC_HUB_MAX_TCP_CONNECTIONS", "3", "NC_HUB_REQUEST_TIMEOUT_SEC", "60"))
                .start();
        List<Socket> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            held.add(harness.closeLater(connect(hub.port())));
        }
        // the fourth connects (the kernel's backlog) but is not served while three are open
        Socket fourth = harness.closeLater(connect(hub.port()));
        fourth.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                                                .getBytes(StandardCharsets.US_ASCII));
        fourth.setSoTimeout(2000);
        assertThrows(SocketTimeoutException.class, () -> fourth.getInputStream().read(), "not served beyond the cap");
        long start = System.nanoTime();
        held.getFirst().close();
        fourth.setSoTimeout(10_000);
        String answer = new String(fourth.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
        assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
        System.out.printf("[admission] a fourth connection over a cap of 3 served %d ms after one ended%n",
                          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }

    @Test
    void tunnelsPerAgentIdAreCapped(Harness harness) throws Exception {
        Hub hub = harness.hub().connectors("db").env(Map.of("NC_HUB_MAX_TUNNELS_PER_AGENT", "2")).start();
        String token = Files.readString(harness.tokenFile(Harness.AGENT_ID, Duration.ofHours(1))).strip();
        String other = Files.readString(harness.tokenFile("premise-02", Duration.ofHours(1))).strip();
        RawAgent first = harness.closeLater(RawAgent.connect(hub.port(), token));
        RawAgent second = harness.closeLater(RawAgent.connect(hub.port(), token));
        assertEquals(429, RawAgent.upgradeStatus(hub.port(), "Bearer " + token), "a third tunnel of one agent_id");
        assertEquals(101, RawAgent.upgradeStatus(hub.port(), "Bearer " + other), "another agent_id is not affected");
        first.close();
        second.hello("db");
        // once the first tunnel ended, its slot is free again
        Harness.await(Duration.ofSeconds(10), () -> {
            try {
                int status = RawAgent.upgradeStatus(hub.port(), "Bearer " + token);
                return status == 101;
            } catch (Exception e) {
                return false;
            }
        }, "a tunnel slot of the agent is free again");
        String metrics = get(hub.port(), "/metrics").body();
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("nowconnect_hub_tunnels_refused_total")
                && l.contains("max_tunnels_per_agent") && !l.endsWith(" 0.0")), "counted in /metrics");
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
        s.setSoTimeout(15_000);
        return s;
    }

    /** Read one byte: -1 at EOF, also -1 when the connection was reset. */
    private static int readOrReset(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        try {
            return in.read();
        } catch (SocketTimeoutException e) {
            throw e;
        } catch (IOException reset) {
            return -1;
        }
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                             HttpResponse.BodyHandlers.ofString());
        }
    }
}
