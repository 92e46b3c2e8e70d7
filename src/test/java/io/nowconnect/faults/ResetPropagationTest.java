package io.nowconnect.faults;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.nowconnect.Agent;
import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import static io.nowconnect.faults.FaultKit.report;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A stream that ends by a reset must end by a reset for the local peers too: a client whose target refused, or whose
 * target reset the connection mid-stream, sees "connection reset", not a clean end of stream it could take for a
 * complete answer (found by the slow-consumer and soak runs: a healthy stream reset with {@code queue_overflow} came
 * back to its client as an intact prefix followed by EOF). Needs .pending/fault-abortive-close.patch.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@ExtendWith(TestKit.class)
class ResetPropagationTest {

    @Test
    void clientsOfResetStreamsSeeAResetNotAnEndOfStream(Harness h) throws Exception {
        try (ServerSocket resetting = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                while (!resetting.isClosed()) {
                    try {
                        Socket s = resetting.accept();
                        s.getInputStream().readNBytes(5);
                        s.getOutputStream().write("partial answer".getBytes());
                        Thread.sleep(100);
                        s.setSoLinger(true, 0);
                        s.close();
                    } catch (IOException | InterruptedException e) {
                        return;
                    }
                }
            });
            Hub hub = h.startHub("refuse", "reset");
            Map<String, String> vars = new HashMap<>(h.agentVars(hub.port(), Map.of("refuse", FaultKit.freePort(),
                                                                                   "reset", resetting.getLocalPort())));
            Agent agent = h.startAgent(vars);
            Harness.awaitReady(agent, Duration.ofSeconds(10));
            String refused = howItEnds(hub.listenerPorts().get("refuse"));
            String reset = howItEnds(hub.listenerPorts().get("reset"));
            report("reset propagation", "client of a refused target: " + refused + "; client of a target that reset "
                    + "mid-stream: " + reset);
            if (!refused.startsWith("reset") || !reset.startsWith("reset")) {
                fail("a reset stream ended like a complete one: refused target -> " + refused + ", reset target -> " + reset);
            }
        }
    }

    private static String howItEnds(int port) throws IOException {
        int bytes = 0;
        // the connect and the write inside the try: on a loaded machine the reset of a refused target may reach the
        // client before its write, or before its connect returned (CI: "Connection reset by peer" from pollConnect)
        try (Socket c = Harness.client(port)) {
            InputStream in = c.getInputStream();
            c.getOutputStream().write("hello".getBytes());
            int n;
            byte[] buf = new byte[1024];
            while ((n = in.read(buf)) >= 0) {
                bytes += n;
            }
            return "clean EOF after " + bytes + " bytes";
        } catch (java.net.ConnectException e) {
            // refused or timed out: the hub's listener was not there, which is no answer to what is tested
            throw e;
        } catch (SocketException e) {
            return "reset after " + bytes + " bytes (" + e.getMessage() + ")";
        }
    }
}
