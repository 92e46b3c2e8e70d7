package io.nowconnect.ws;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import java.util.function.Supplier;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.DataReader;
import io.helidon.common.socket.HelidonSocket;

/**
 * The byte streams of a connection that Helidon upgraded, taken from under its {@link DataReader}: the tunnel's reader
 * and writer use the socket's own streams (plain, or TLS from {@code SSLSocket}) instead of Helidon's 8 KiB reads
 * with a copy each (kept only for a quiet tunnel, {@link #quietRead()}), and the bytes Helidon had already read past
 * the upgrade (a peer may send frames right after the 101) are handed over first.
 *
 * <p>How the streams are reached: Helidon 4.2.0 gives no accessor, but {@link HelidonSocket#read(BufferData)} calls
 * {@code buffer.readFrom(inputStream)} and {@link HelidonSocket#write(BufferData)} calls
 * {@code buffer.writeTo(outputStream)} with the socket's streams ({@code PlainSocket}, which {@code TlsSocket}
 * extends): one call of each with a probe buffer that only records its argument gives them. The input stream is
 * Helidon's thin wrapper of the socket's (it ends its idle check on read), the output stream the socket's own.
 *
 * <p>Threads: the record is immutable; the tunnel's reader uses {@code in}, {@code buffered} and {@code quietRead},
 * the holder of the outbox's write lock {@code out}. Locks: none of its own.
 *
 * @param in the connection's input, to read after {@link #buffered()}
 * @param out the connection's output
 * @param buffered bytes already read from {@code in} past the upgrade, not yet consumed (often none); the reader takes
 *                 the array over
 * @param quietRead one read from {@code in} into the connection's own buffer, returned as an array of exactly the
 *                  bytes read, null at end of stream; the reader uses it while the tunnel is quiet so that it holds no
 *                  buffer of its own (Helidon's socket keeps its 8 KiB buffer for the life of the connection anyway)
 */
public record UpgradedSocket(InputStream in, OutputStream out, byte[] buffered, Supplier<byte[]> quietRead) {

    /**
     * The streams under an upgraded Helidon connection, with what its reader holds.
     *
     * @param socket the connection's socket (server: {@code ConnectionContext.serverSocket()}, client:
     *               {@code ClientConnection.helidonSocket()})
     * @param reader the connection's reader, which read the upgrade; not to be used after this call
     * @return the streams
     * @throws IllegalStateException when the socket did not hand its streams over (another Helidon version)
     */
    public static UpgradedSocket of(HelidonSocket socket, DataReader reader) {
        Probe probe = new Probe();
        BufferData buffer = (BufferData) Proxy.newProxyInstance(BufferData.class.getClassLoader(),
                                                                new Class<?>[] {BufferData.class}, probe);
        socket.read(buffer);
        socket.write(buffer);
        if (probe.in == null || probe.out == null) {
            throw new IllegalStateException("the socket " + socket.getClass().getName() + " did not give its streams");
        }
        int available = reader.available();
        // readBytes(0) would block for one more byte
        byte[] buffered = available == 0 ? new byte[0] : reader.readBytes(available);
        // PlainSocket.get(): one read into its buffer, an exact copy out (UncheckedIOException when reading fails)
        return new UpgradedSocket(probe.in, probe.out, buffered, socket);
    }

    /**
     * Streams of a socket (tests: {@link java.net.Socket}, pipes); a quiet read takes a temporary 1 KiB array.
     *
     * @param in input
     * @param out output
     * @return the streams, nothing buffered
     */
    public static UpgradedSocket of(InputStream in, OutputStream out) {
        return new UpgradedSocket(in, out, new byte[0], () -> {
            byte[] b = new byte[WsReader.SMALL_BUFFER];
            try {
                int n = in.read(b);
                return n < 0 ? null : Arrays.copyOf(b, n);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Records the stream a socket passes to {@code readFrom} or {@code writeTo}; moves no byte. */
    private static final class Probe implements InvocationHandler {
        private InputStream in;
        private OutputStream out;

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) {
            switch (method.getName()) {
            case "readFrom" -> {
                if (args[0] instanceof InputStream s) {
                    in = s;
                    return 0;
                }
            }
            case "writeTo" -> {
                if (args.length == 1 && args[0] instanceof OutputStream s) {
                    out = s;
                    return null;
                }
            }
            case "toString" -> {
                return "stream probe";
            }
            case "hashCode" -> {
                return System.identityHashCode(proxy);
            }
            case "equals" -> {
                return proxy == args[0];
            }
            default -> {
            }
            }
            throw new UnsupportedOperationException("stream probe: " + method.getName());
        }
    }
}
