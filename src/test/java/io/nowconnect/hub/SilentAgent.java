package io.nowconnect.hub;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An agent on a plain socket that does the WebSocket upgrade and HELLO itself, then stops reading: its receive buffer
 * is shrunk before it connects, so the hub's writes to it stall once a few KiB are in flight (TCP zero window). It
 * can keep sending pings meanwhile, so that the hub hears from it and only the stalled write can tell it is stuck.
 */
final class SilentAgent implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private volatile Thread pinger;

    private SilentAgent(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    /**
     * Upgrade {@code /tunnel} with a bearer token.
     *
     * @param hubPort hub port on 127.0.0.1
     * @param token bearer token
     * @param receiveBuffer SO_RCVBUF set before connecting
     * @return the upgraded agent
     * @throws IOException when the upgrade is not answered with 101
     */
    static SilentAgent connect(int hubPort, String token, int receiveBuffer) throws IOException {
        return connect(hubPort, token, receiveBuffer, new byte[0]);
    }

    /**
     * Upgrade {@code /tunnel} with a bearer token, with bytes sent in the same write as the request (frames that the
     * hub must not lose although they reach it with the request, before it answered).
     *
     * @param hubPort hub port on 127.0.0.1
     * @param token bearer token
     * @param receiveBuffer SO_RCVBUF set before connecting
     * @param early bytes written right after the request, in the same write
     * @return the upgraded agent
     * @throws IOException when the upgrade is not answered with 101
     */
    static SilentAgent connect(int hubPort, String token, int receiveBuffer, byte[] early) throws IOException {
        Socket s = new Socket();
        s.setReceiveBufferSize(receiveBuffer);
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), hubPort), 5000);
        s.setSoTimeout(10_000);
        SilentAgent agent = new SilentAgent(s);
        byte[] key = new byte[16];
        ThreadLocalRandom.current().nextBytes(key);
        String request = "GET /tunnel HTTP/1.1\r\nHost: 127.0.0.1:" + hubPort + "\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                + Base64.getEncoder().encodeToString(key) + "\r\nAuthorization: Bearer " + token + "\r\n\r\n";
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.writeBytes(request.getBytes(StandardCharsets.US_ASCII));
        all.writeBytes(early);
        agent.out.write(all.toByteArray());
        agent.out.flush();
        String head = agent.readHead();
        if (!head.startsWith("HTTP/1.1 101")) {
            s.close();
            throw new IOException("upgrade refused: " + head.lines().findFirst().orElse(""));
        }
        return agent;
    }

    /**
     * Say HELLO exporting the connectors (v1, caps {@code drain}) and wait for the ack.
     *
     * @param agentId agent id of the token
     * @param connectors connectors
     * @return the ack's text
     * @throws IOException when no text frame comes back
     */
    String hello(String agentId, String... connectors) throws IOException {
        sendFrame(0x1, helloText(agentId, connectors));
        return readText();
    }

    /**
     * A masked HELLO frame (v1, caps {@code drain}), to send with the upgrade request.
     *
     * @param agentId agent id of the token
     * @param connectors connectors
     * @return the frame's bytes
     */
    static byte[] helloFrame(String agentId, String... connectors) {
        return frame(0x1, helloText(agentId, connectors));
    }

    private static byte[] helloText(String agentId, String... connectors) {
        StringBuilder list = new StringBuilder();
        for (String c : connectors) {
            list.append(list.isEmpty() ? "" : ",").append('"').append(c).append('"');
        }
        return ("{\"t\":\"HELLO\",\"agent_id\":\"" + agentId + "\",\"connectors\":[" + list
                + "],\"ver\":\"1.5\",\"caps\":[\"drain\"]}").getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Read frames until a text frame comes.
     *
     * @return its text
     * @throws IOException when the connection ends first
     */
    String readText() throws IOException {
        while (true) {
            int b0 = in.readUnsignedByte();
            int b1 = in.readUnsignedByte();
            long len = b1 & 0x7F;
            if (len == 126) {
                len = in.readUnsignedShort();
            } else if (len == 127) {
                len = in.readLong();
            }
            byte[] payload = in.readNBytes((int) len);
            if ((b0 & 0x0F) == 0x1) {
                return new String(payload, StandardCharsets.UTF_8);
            }
        }
    }

    /**
     * From now on send a ping every interval (and read nothing), until the socket fails or {@link #close()}.
     *
     * @param intervalMillis interval
     */
    void keepPinging(long intervalMillis) {
        pinger = Thread.ofVirtual().name("test-silent-agent-ping").start(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    sendFrame(0x9, new byte[] {1, 2, 3, 4});
                    Thread.sleep(intervalMillis);
                }
            } catch (IOException | InterruptedException e) {
                // the hub closed the connection, or the test ended
            }
        });
    }

    /**
     * From now on read (and discard) at most this many bytes a second, until the socket fails or {@link #close()}: a
     * slow peer, but one that reads.
     *
     * @param bytesPerSecond reading rate
     * @param read counts the bytes read
     */
    void readSlowly(int bytesPerSecond, java.util.concurrent.atomic.AtomicLong read) {
        Thread.ofVirtual().name("test-slow-agent-read").start(() -> {
            byte[] buf = new byte[Math.max(1, bytesPerSecond / 10)];
            try {
                while (true) {
                    long start = System.nanoTime();
                    int n = in.read(buf);
                    if (n < 0) {
                        return;
                    }
                    read.addAndGet(n);
                    long spent = (System.nanoTime() - start) / 1_000_000;
                    long due = n * 1000L / bytesPerSecond;
                    if (due > spent) {
                        Thread.sleep(due - spent);
                    }
                }
            } catch (IOException | InterruptedException e) {
                // closed
            }
        });
    }

    /**
     * Whether the hub closed the connection: a write fails once the hub has closed it (the first write after the close
     * may still succeed and draw the reset).
     *
     * @return true when writing failed
     */
    boolean writeFails() {
        try {
            sendFrame(0x9, new byte[0]);
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    private synchronized void sendFrame(int opcode, byte[] payload) throws IOException {
        out.write(frame(opcode, payload));
        out.flush();
    }

    private static byte[] frame(int opcode, byte[] payload) {
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        frame.write(0x80 | opcode);
        if (payload.length < 126) {
            frame.write(0x80 | payload.length);
        } else {
            frame.write(0x80 | 126);
            frame.write(payload.length >>> 8);
            frame.write(payload.length);
        }
        byte[] mask = new byte[4];
        ThreadLocalRandom.current().nextBytes(mask);
        frame.writeBytes(mask);
        for (int i = 0; i < payload.length; i++) {
            frame.write(payload[i] ^ mask[i & 3]);
        }
        return frame.toByteArray();
    }

    private String readHead() throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        InputStream raw = in;
        while (head.size() < 8192) {
            int b = raw.read();
            if (b < 0) {
                break;
            }
            head.write(b);
            byte[] h = head.toByteArray();
            int n = h.length;
            if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
                break;
            }
        }
        return head.toString(StandardCharsets.US_ASCII);
    }

    @Override
    public void close() {
        Thread p = pinger;
        if (p != null) {
            p.interrupt();
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
