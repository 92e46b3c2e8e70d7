// Many agents on one hub: opens N independent v1 agent tunnels (each its own agent_id, HS256 token minted with the
// hub's secret, HELLO with its connectors, OPEN answered with an echo of every DATA) from one process, one virtual
// thread per tunnel, raw sockets. Used by bench/run (figure "hubscale") and by the CI test HubScaleTest.
//   java bench/HubScale.java key=value...
//     hub=HOST:PORT        the hub's WebSocket endpoint (ws://HOST:PORT/tunnel)            (required)
//     secret=FILE          the hub's NC_HUB_JWT_SECRET_FILE                                  (required)
//     agents=N             tunnels to open                                                   (required)
//     expect=N             tunnels the hub should acknowledge (the rest refused: the cap)    (default: agents)
//     parallel=P           handshakes in flight at once                                      (default 64)
//     connector=NAME       exported by every agent                                           (default echo)
//     probe=NAME           also exported by `probes` agents picked at random                 (default probe)
//     probes=S             how many agents export the probe connector                        (default 100)
//     route=HOST:PORT      the hub's listener of the probe connector: after the release, S clients are opened
//                          one after another, each kept open, each must get its bytes echoed; as the hub picks the
//                          least busy tunnel, each lands on another of the random probe agents     (default: none)
//     release=FILE         after "state=HELD", wait until FILE exists (default: go on at once)
//     prefix=TEXT          agent_id prefix                                                   (default scale)
// Prints key=value lines: acked, refused, refused_<status>, errors, first_error, seconds_1000 (time from the first
// connect to the 1,000th acknowledgement), seconds_all, state=HELD, routed, route_errors, agents_served,
// alive_at_release, alive_at_end. Exits 0 when exactly `expect` tunnels were acknowledged, every other attempt was
// refused by an HTTP status, every probe client was echoed and every acknowledged tunnel was still open at the end.

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class HubScale {
    private static final Pattern FIELD = Pattern.compile("\"(t|cid|b64|dir|connector)\"\\s*:\\s*\"([^\"]*)\"");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Map<String, String> opts = new HashMap<>();
    private final List<Tunnel> tunnels = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger acked = new AtomicInteger();
    private final AtomicInteger errors = new AtomicInteger();
    private final Map<Integer, AtomicInteger> refused = new ConcurrentHashMap<>();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private final AtomicLong at1000 = new AtomicLong();
    private final AtomicLong lastAck = new AtomicLong();
    /** Agents that received an OPEN of the probe connector. */
    private final Set<String> served = ConcurrentHashMap.newKeySet();
    /** Sums over acknowledged tunnels, in microseconds: connect to 101, 101 to HELLO_ACK. */
    private final AtomicLong upgradeMicros = new AtomicLong();
    private final AtomicLong ackMicros = new AtomicLong();

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        HubScale tool = new HubScale();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                System.err.println("usage: java HubScale.java hub=HOST:PORT secret=FILE agents=N [expect=N] [parallel=P] "
                                           + "[connector=NAME] [probe=NAME] [probes=S] [route=HOST:PORT] [release=FILE]");
                System.exit(2);
            }
            tool.opts.put(a.substring(0, eq), a.substring(eq + 1));
        }
        System.exit(tool.run() ? 0 : 1);
    }

    private String opt(String key, String def) {
        String v = opts.get(key);
        if (v == null && def == null) {
            throw new IllegalArgumentException("missing " + key + "=");
        }
        return v == null ? def : v;
    }

    private boolean run() throws Exception {
        String[] hub = opt("hub", null).split(":");
        InetSocketAddress hubAddress = new InetSocketAddress(hub[0], Integer.parseInt(hub[1]));
        byte[] secret = new String(Files.readAllBytes(Path.of(opt("secret", null))), StandardCharsets.UTF_8).strip()
                .getBytes(StandardCharsets.UTF_8);
        int agents = Integer.parseInt(opt("agents", null));
        int expect = Integer.parseInt(opt("expect", Integer.toString(agents)));
        int parallel = Integer.parseInt(opt("parallel", "64"));
        String connector = opt("connector", "echo");
        String probe = opt("probe", "probe");
        int probes = Math.min(agents, Integer.parseInt(opt("probes", "100")));
        String prefix = opt("prefix", "scale");
        // probes among the agents that are sure to get a slot: with `parallel` handshakes in flight, one of the last
        // `parallel` before the cap can lose its slot to a later one and be refused
        int sure = Math.max(1, expect - parallel);
        Set<Integer> probeAgents = new HashSet<>();
        while (probeAgents.size() < Math.min(probes, sure)) {
            probeAgents.add(RANDOM.nextInt(sure));
        }

        long t0 = System.nanoTime();
        Semaphore inFlight = new Semaphore(parallel);
        CountDownLatch done = new CountDownLatch(agents);
        for (int i = 0; i < agents; i++) {
            inFlight.acquire();
            String agentId = prefix + "-" + i;
            List<String> exported = probeAgents.contains(i) ? List.of(connector, probe) : List.of(connector);
            Thread.ofVirtual().start(() -> {
                try {
                    Tunnel t = new Tunnel(agentId, exported, probe);
                    if (t.open(hubAddress, token(secret, agentId, exported))) {
                        tunnels.add(t);
                        long now = System.nanoTime() - t0;
                        lastAck.accumulateAndGet(now, Math::max);
                        if (acked.incrementAndGet() == 1000) {
                            at1000.set(now);
                        }
                        inFlight.release();
                        done.countDown();
                        t.serve();
                        return;
                    }
                } catch (Exception e) {
                    error(agentId, e);
                }
                inFlight.release();
                done.countDown();
            });
        }
        done.await();
        int refusedAll = refused.values().stream().mapToInt(AtomicInteger::get).sum();
        out("acked", acked.get());
        out("refused", refusedAll);
        refused.forEach((status, n) -> out("refused_" + status, n.get()));
        out("errors", errors.get());
        if (firstError.get() != null) {
            out("first_error", firstError.get());
        }
        if (acked.get() >= 1000) {
            out("seconds_1000", String.format("%.3f", at1000.get() / 1e9));
        }
        out("seconds_all", String.format("%.3f", lastAck.get() / 1e9));
        if (acked.get() > 0) {
            out("upgrade_ms_avg", String.format("%.2f", upgradeMicros.get() / 1e3 / acked.get()));
            out("ack_ms_avg", String.format("%.2f", ackMicros.get() / 1e3 / acked.get()));
        }
        out("state", "HELD");

        String release = opts.get("release");
        if (release != null) {
            while (!Files.exists(Path.of(release))) {
                Thread.sleep(50);
            }
        }
        int aliveAtRelease = alive();
        out("alive_at_release", aliveAtRelease);

        boolean routedAll = true;
        String route = opts.get("route");
        if (route != null) {
            routedAll = route(route, probeAgents.size());
        }
        int aliveAtEnd = alive();
        out("alive_at_end", aliveAtEnd);
        for (Tunnel t : tunnels) {
            t.close();
        }
        return acked.get() == expect && acked.get() + refusedAll == agents && errors.get() == 0 && routedAll
                && aliveAtRelease == expect && aliveAtEnd == expect;
    }

    /** S clients one after another on the probe listener, each kept open until all were echoed. */
    private boolean route(String route, int clients) {
        String[] r = route.split(":");
        List<Socket> open = new ArrayList<>();
        int ok = 0;
        int failed = 0;
        String firstFailure = null;
        long t0 = System.nanoTime();
        for (int i = 0; i < clients; i++) {
            try {
                Socket s = new Socket();
                open.add(s);
                s.connect(new InetSocketAddress(r[0], Integer.parseInt(r[1])), 5000);
                s.setSoTimeout(10_000);
                byte[] sent = new byte[64];
                RANDOM.nextBytes(sent);
                s.getOutputStream().write(sent);
                byte[] got = s.getInputStream().readNBytes(sent.length);
                if (Arrays.equals(sent, got)) {
                    ok++;
                } else {
                    throw new IOException("echo differs after " + got.length + " bytes");
                }
            } catch (IOException e) {
                failed++;
                if (firstFailure == null) {
                    firstFailure = e.toString();
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        out("routed", ok);
        out("route_errors", failed);
        out("route_seconds", String.format("%.3f", seconds));
        if (firstFailure != null) {
            out("first_route_error", firstFailure);
        }
        out("agents_served", served.size());
        return failed == 0 && ok == clients;
    }

    private int alive() {
        int n = 0;
        synchronized (tunnels) {
            for (Tunnel t : tunnels) {
                if (!t.ended) {
                    n++;
                }
            }
        }
        return n;
    }

    private void error(String agentId, Exception e) {
        errors.incrementAndGet();
        firstError.compareAndSet(null, agentId + ": " + e);
    }

    private static synchronized void out(String key, Object value) {
        System.out.println(key + "=" + value);
        System.out.flush();
    }

    /** A compact HS256 JWT as the hub's {@code token} mode mints it, scoped to the agent's connectors. */
    static String token(byte[] secret, String agentId, List<String> connectors) throws Exception {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        long now = Instant.now().getEpochSecond();
        String header = b64.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String claims = b64.encodeToString(("{\"agent_id\":\"" + agentId + "\",\"sub\":\"" + agentId
                + "\",\"aud\":[\"nowconnect\"],\"iat\":" + now + ",\"exp\":" + (now + 7200) + ",\"jti\":\""
                + UUID.randomUUID() + "\",\"connectors\":[\"" + String.join("\",\"", connectors) + "\"]}")
                .getBytes(StandardCharsets.UTF_8));
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret, "HmacSHA256"));
        byte[] sig = mac.doFinal((header + "." + claims).getBytes(StandardCharsets.US_ASCII));
        return header + "." + claims + "." + b64.encodeToString(sig);
    }

    /** One v1 agent tunnel: handshake, HELLO, then OPEN/DATA/FIN answered with an echo, pings with pongs. */
    private final class Tunnel {
        private final String agentId;
        private final List<String> connectors;
        private final String probe;
        private final Map<String, AtomicLong> seqs = new HashMap<>();
        private Socket socket;
        private InputStream in;
        private OutputStream out;
        volatile boolean ended;

        Tunnel(String agentId, List<String> connectors, String probe) {
            this.agentId = agentId;
            this.connectors = connectors;
            this.probe = probe;
        }

        /** Upgrade and HELLO; true once acknowledged, false when refused with an HTTP status. */
        boolean open(InetSocketAddress hub, String token) throws IOException {
            socket = new Socket();
            socket.connect(hub, 10_000);
            socket.setSoTimeout(60_000);
            socket.setTcpNoDelay(true);
            in = new BufferedInputStream(socket.getInputStream(), 512);
            out = socket.getOutputStream();
            byte[] key = new byte[16];
            RANDOM.nextBytes(key);
            String request = "GET /tunnel HTTP/1.1\r\nHost: " + hub.getHostString() + ":" + hub.getPort()
                    + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                    + Base64.getEncoder().encodeToString(key) + "\r\nAuthorization: Bearer " + token + "\r\n\r\n";
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            long t0 = System.nanoTime();
            String status = line();
            int code = Integer.parseInt(status.split(" ")[1]);
            while (!line().isEmpty()) {
                // headers
            }
            if (code != 101) {
                refused.computeIfAbsent(code, c -> new AtomicInteger()).incrementAndGet();
                socket.close();
                ended = true;
                return false;
            }
            long t1 = System.nanoTime();
            send(1, ("{\"t\":\"HELLO\",\"agent_id\":\"" + agentId + "\",\"connectors\":[\"" + String.join("\",\"", connectors)
                    + "\"],\"ver\":\"1.0\"}").getBytes(StandardCharsets.UTF_8));
            while (true) {
                Frame f = read();
                if (f.op == 9) {
                    send(10, f.payload);
                } else if (f.op == 8) {
                    throw new IOException("closed before HELLO_ACK");
                } else if (f.op == 1) {
                    String t = field(new String(f.payload, StandardCharsets.UTF_8), "t");
                    if ("HELLO_ACK".equals(t) || "WELCOME".equals(t)) {
                        upgradeMicros.addAndGet((t1 - t0) / 1000);
                        ackMicros.addAndGet((System.nanoTime() - t1) / 1000);
                        socket.setSoTimeout(0);
                        return true;
                    }
                }
            }
        }

        /** Until the hub closes: pong pings, echo every stream's DATA, answer FIN with FIN. */
        void serve() {
            try {
                while (true) {
                    Frame f = read();
                    switch (f.op) {
                    case 9 -> send(10, f.payload);
                    case 8 -> {
                        return;
                    }
                    case 1 -> onText(new String(f.payload, StandardCharsets.UTF_8));
                    default -> {
                        // binary: not offered (v1), nothing to do
                    }
                    }
                }
            } catch (IOException e) {
                // the tunnel ended
            } finally {
                ended = true;
            }
        }

        private void onText(String json) throws IOException {
            String t = field(json, "t");
            String cid = field(json, "cid");
            if (t == null || cid == null) {
                return;
            }
            switch (t) {
            case "OPEN" -> {
                seqs.put(cid, new AtomicLong());
                if (probe.equals(field(json, "connector"))) {
                    served.add(agentId);
                }
            }
            case "DATA" -> {
                AtomicLong seq = seqs.get(cid);
                if (seq != null) {
                    send(1, ("{\"t\":\"DATA\",\"cid\":\"" + cid + "\",\"seq\":" + seq.getAndIncrement() + ",\"b64\":\""
                            + field(json, "b64") + "\"}").getBytes(StandardCharsets.UTF_8));
                }
            }
            case "FIN" -> {
                if (seqs.remove(cid) != null) {
                    send(1, ("{\"t\":\"FIN\",\"cid\":\"" + cid + "\",\"dir\":\"a2c\"}").getBytes(StandardCharsets.UTF_8));
                }
            }
            case "RST" -> seqs.remove(cid);
            default -> {
                // other frames mean nothing here
            }
            }
        }

        void close() {
            ended = true;
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != '\n') {
                if (c < 0) {
                    throw new EOFException("connection closed during the handshake");
                }
                if (c != '\r') {
                    b.write(c);
                }
            }
            return b.toString(StandardCharsets.US_ASCII);
        }

        private Frame read() throws IOException {
            int b0 = in.read();
            int b1 = in.read();
            if (b0 < 0 || b1 < 0) {
                throw new EOFException();
            }
            long len = b1 & 0x7F;
            if (len == 126) {
                len = (in.read() << 8) | in.read();
            } else if (len == 127) {
                len = 0;
                for (int i = 0; i < 8; i++) {
                    len = (len << 8) | in.read();
                }
            }
            byte[] payload = in.readNBytes((int) len);
            if (payload.length != len) {
                throw new EOFException();
            }
            return new Frame(b0 & 0x0F, payload);
        }

        /** One masked frame, FIN set (a client's frames are masked, RFC 6455 5.3). */
        private synchronized void send(int op, byte[] payload) throws IOException {
            int len = payload.length;
            ByteArrayOutputStream b = new ByteArrayOutputStream(len + 14);
            b.write(0x80 | op);
            if (len < 126) {
                b.write(0x80 | len);
            } else if (len < 65536) {
                b.write(0x80 | 126);
                b.write(len >>> 8);
                b.write(len);
            } else {
                b.write(0x80 | 127);
                for (int i = 7; i >= 0; i--) {
                    b.write((int) ((long) len >>> (8 * i)));
                }
            }
            byte[] mask = new byte[4];
            RANDOM.nextBytes(mask);
            b.write(mask, 0, 4);
            for (int i = 0; i < len; i++) {
                b.write(payload[i] ^ mask[i & 3]);
            }
            out.write(b.toByteArray());
            out.flush();
        }
    }

    private record Frame(int op, byte[] payload) {
    }

    private static String field(String json, String name) {
        Matcher m = FIELD.matcher(json);
        while (m.find()) {
            if (m.group(1).equals(name)) {
                return m.group(2);
            }
        }
        return null;
    }
}
