package io.nowconnect.ws;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketImpl;
import java.net.SocketOption;
import java.nio.channels.SocketChannel;
import java.util.Set;

/**
 * A TCP socket to put under the JDK's {@code SSLSocket} (a layered TLS socket, {@code createSocket(socket, ...)}) so
 * that TLS records cost fewer system calls: the JDK writes every record of at most 16 KiB with a write and a flush of
 * its own, and reads every record with two reads (its 5-byte header, then its body). Here the records that one
 * {@link WsWriter} batch produces are gathered and written together ({@link WriteBatch}: the flushes within a batch
 * are deferred to its end), and a read takes what the kernel holds (several records) into a buffer that serves the
 * next reads. Everything else goes to the wrapped socket.
 *
 * <p>Memory: a quiet connection holds no buffer. The read buffer ({@link #READ_BUFFER}) is taken when a read brings a
 * full record body of at least 4 KiB and let go once a read into it was short and it is empty again; the write
 * buffer ({@link #WRITE_BUFFER}) is taken by a batch of at least {@link WriteBatch#MIN_BYTES} and let go at the next
 * write outside a batch (a ping at the latest).
 *
 * <p>Threads: the input is read by one thread at a time (the TLS socket's read lock); writes come under the TLS socket's
 * record lock, the deferred flush from the batch's writer: the output's methods are synchronized. No payload byte is
 * logged.
 */
public final class CoalescingSocket extends Socket {
    /** Bytes one read may take from the kernel: four full TLS records and their headers. */
    static final int READ_BUFFER = 4 * (16 * 1024 + 256);
    /** Bytes gathered before they are written: eight full TLS records. */
    static final int WRITE_BUFFER = 8 * (16 * 1024 + 256);
    /** A read of this many bytes or more is bulk: the reads after it go through the buffer. */
    private static final int BULK_READ = 4096;

    private final Socket raw;
    private final Input in;
    private final Output out;

    private CoalescingSocket(Socket raw) throws IOException {
        super((SocketImpl) null);
        this.raw = raw;
        this.in = new Input(raw.getInputStream());
        this.out = new Output(raw.getOutputStream());
    }

    /**
     * Wrap a connected socket, to layer TLS over.
     *
     * @param raw the connected TCP socket
     * @return the wrapper
     * @throws IOException when the socket's streams cannot be had (closed)
     */
    public static Socket wrap(Socket raw) throws IOException {
        return new CoalescingSocket(raw);
    }

    @Override
    public InputStream getInputStream() {
        return in;
    }

    @Override
    public OutputStream getOutputStream() {
        return out;
    }

    @Override
    public void connect(SocketAddress endpoint) throws IOException {
        raw.connect(endpoint);
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
        raw.connect(endpoint, timeout);
    }

    @Override
    public void bind(SocketAddress bindpoint) throws IOException {
        raw.bind(bindpoint);
    }

    @Override
    public InetAddress getInetAddress() {
        return raw.getInetAddress();
    }

    @Override
    public InetAddress getLocalAddress() {
        return raw.getLocalAddress();
    }

    @Override
    public int getPort() {
        return raw.getPort();
    }

    @Override
    public int getLocalPort() {
        return raw.getLocalPort();
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
        return raw.getRemoteSocketAddress();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
        return raw.getLocalSocketAddress();
    }

    @Override
    public SocketChannel getChannel() {
        return raw.getChannel();
    }

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
        raw.setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
        return raw.getTcpNoDelay();
    }

    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        raw.setSoLinger(on, linger);
    }

    @Override
    public int getSoLinger() throws SocketException {
        return raw.getSoLinger();
    }

    @Override
    public void sendUrgentData(int data) throws IOException {
        raw.sendUrgentData(data);
    }

    @Override
    public void setOOBInline(boolean on) throws SocketException {
        raw.setOOBInline(on);
    }

    @Override
    public boolean getOOBInline() throws SocketException {
        return raw.getOOBInline();
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
        raw.setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
        return raw.getSoTimeout();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
        raw.setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
        return raw.getSendBufferSize();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
        raw.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
        return raw.getReceiveBufferSize();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
        raw.setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
        return raw.getKeepAlive();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
        raw.setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
        return raw.getTrafficClass();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
        raw.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return raw.getReuseAddress();
    }

    @Override
    public void close() throws IOException {
        raw.close();
    }

    @Override
    public void shutdownInput() throws IOException {
        raw.shutdownInput();
    }

    @Override
    public void shutdownOutput() throws IOException {
        out.flush();
        raw.shutdownOutput();
    }

    @Override
    public String toString() {
        return raw.toString();
    }

    @Override
    public boolean isConnected() {
        return raw.isConnected();
    }

    @Override
    public boolean isBound() {
        return raw.isBound();
    }

    @Override
    public boolean isClosed() {
        return raw.isClosed();
    }

    @Override
    public boolean isInputShutdown() {
        return raw.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
        return raw.isOutputShutdown();
    }

    @Override
    public void setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
        raw.setPerformancePreferences(connectionTime, latency, bandwidth);
    }

    @Override
    public <T> Socket setOption(SocketOption<T> name, T value) throws IOException {
        raw.setOption(name, value);
        return this;
    }

    @Override
    public <T> T getOption(SocketOption<T> name) throws IOException {
        return raw.getOption(name);
    }

    @Override
    public Set<SocketOption<?>> supportedOptions() {
        return raw.supportedOptions();
    }

    /**
     * The socket's input behind a buffer that is used only while reads are large: a quiet connection reads straight
     * into the caller's array (as without this class) and holds nothing.
     */
    static final class Input extends InputStream {
        private final InputStream in;
        private byte[] buf;
        private int pos;
        private int lim;
        /** Whether the last read into the buffer brought less than {@link #BULK_READ} bytes. */
        private boolean shortFill;

        Input(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (pos < lim) {
                return copy(b, off, len);
            }
            if (buf == null) {
                int n = in.read(b, off, len);
                if (n >= BULK_READ && n == len) {
                    // a whole record body was waiting: more probably is, take it in larger reads from now on
                    buf = new byte[READ_BUFFER];
                }
                return n;
            }
            int n = in.read(buf, 0, buf.length);
            if (n < 0) {
                return n;
            }
            pos = 0;
            lim = n;
            shortFill = n < BULK_READ;
            return copy(b, off, len);
        }

        private int copy(byte[] b, int off, int len) {
            int n = Math.min(len, lim - pos);
            System.arraycopy(buf, pos, b, off, n);
            pos += n;
            if (pos == lim && shortFill) {
                // the bulk is over: the next read, which may wait long, holds no buffer
                buf = null;
                pos = 0;
                lim = 0;
            }
            return n;
        }

        @Override
        public int available() throws IOException {
            return (lim - pos) + in.available();
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /**
     * The socket's output: written through, except within a {@link WriteBatch} on the writing thread, where a flush is
     * deferred to the batch's end and writes are gathered up to {@link #WRITE_BUFFER} bytes.
     */
    static final class Output extends OutputStream implements WriteBatch.Deferred {
        private final OutputStream out;
        private byte[] buf;
        private int count;

        Output(OutputStream out) {
            this.out = out;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            if (!WriteBatch.open()) {
                // light traffic (a ping at the latest): the buffer of the last bulk batch goes
                flushBuffer();
                buf = null;
                out.write(b, off, len);
                return;
            }
            if (buf == null) {
                buf = new byte[WRITE_BUFFER];
            }
            if (len > buf.length - count) {
                flushBuffer();
            }
            if (len > buf.length) {
                out.write(b, off, len);
                return;
            }
            System.arraycopy(b, off, buf, count, len);
            count += len;
        }

        @Override
        public synchronized void flush() throws IOException {
            if (WriteBatch.defer(this)) {
                return;
            }
            flushBuffer();
            out.flush();
        }

        /** The batch ended: write what it gathered; the buffer stays for the next batch (bulk comes in many). */
        @Override
        public synchronized void flushDeferred() throws IOException {
            flushBuffer();
            out.flush();
        }

        private void flushBuffer() throws IOException {
            if (count > 0) {
                int n = count;
                count = 0;
                out.write(buf, 0, n);
            }
        }

        @Override
        public synchronized void close() throws IOException {
            try {
                flushBuffer();
            } finally {
                out.close();
            }
        }
    }
}
