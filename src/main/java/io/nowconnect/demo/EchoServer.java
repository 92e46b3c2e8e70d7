package io.nowconnect.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

import io.nowconnect.stream.Acceptor;

/**
 * A TCP echo service on loopback (RFC 862): every byte received is sent back; the client's half-close ends the echo.
 * One virtual thread per connection.
 */
public final class EchoServer implements AutoCloseable {
    private final Acceptor acceptor;

    private EchoServer(Acceptor acceptor) {
        this.acceptor = acceptor;
    }

    /**
     * Start on a free loopback port.
     *
     * @return running server
     * @throws IOException when no port can be bound
     */
    public static EchoServer start() throws IOException {
        return new EchoServer(Acceptor.start("127.0.0.1", 0, 1024, "nc-echo", EchoServer::echo));
    }

    /**
     * Bound port.
     *
     * @return port
     */
    public int port() {
        return acceptor.port();
    }

    @Override
    public void close() {
        acceptor.close();
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
