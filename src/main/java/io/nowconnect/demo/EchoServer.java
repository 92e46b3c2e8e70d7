package io.nowconnect.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * A TCP echo service on loopback (RFC 862): every byte received is sent back; the client's half-close ends the echo.
 * One virtual thread per connection.
 */
public final class EchoServer implements AutoCloseable {
    private final ServerSocket server;
    private volatile boolean closed;

    private EchoServer(ServerSocket server) {
        this.server = server;
        Thread.ofVirtual().name("nc-echo-accept").start(this::acceptLoop);
    }

    /**
     * Start on a free loopback port.
     *
     * @return running server
     * @throws IOException when no port can be bound
     */
    public static EchoServer start() throws IOException {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
        return new EchoServer(s);
    }

    /**
     * Bound port.
     *
     * @return port
     */
    public int port() {
        return server.getLocalPort();
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                Thread.ofVirtual().name("nc-echo").start(() -> echo(s));
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private static void echo(Socket s) {
        try (s) {
            s.setTcpNoDelay(true);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[16384];
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
            }
            s.shutdownOutput();
        } catch (IOException ignored) {
            // client went away
        }
    }
}
