package io.nowconnect.hub.tls;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketOption;
import java.nio.channels.ServerSocketChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

import io.nowconnect.hub.LogThrottle;
import io.nowconnect.log.Event;
import io.nowconnect.ws.CoalescingSocket;

/**
 * The hub's TLS port as Helidon sees it: a server socket whose {@link #accept()} returns only connections whose TLS
 * handshake has completed.
 *
 * <p>Why: Helidon 4.2.0's {@code ServerListener} takes one of {@code max-tcp-connections} permits before
 * {@code accept}, and {@code ConnectionHandler.run} runs the TLS handshake ({@code SSLSocket.startHandshake()}, with no
 * deadline) before the {@code try} whose {@code finally} gives the permit back. A connection that closes before or
 * during the handshake (a load balancer's TCP check, a port scan, a client with the wrong CA, plain HTTP on the TLS
 * port) therefore keeps its permit for ever, and one that stays silent keeps it as long as it likes: with the cap at
 * 10, ten connect-and-close locked a hub out. So the handshake is done here, before Helidon sees the connection, and
 * Helidon's own path is always the one that releases.
 *
 * <p>How: a plain {@link ServerSocket} bound where Helidon asked; an accept loop takes a slot of {@link Admission}
 * (a connection slot, {@code NC_HUB_MAX_TCP_CONNECTIONS}, and a handshake slot, {@link Admission#MAX_HANDSHAKES};
 * without both it does not accept, so the excess waits in the listen backlog), then runs the handshake of each
 * connection on its own virtual thread with the TLS context current at that moment ({@link ReloadingTls}). A sweep
 * every 250 ms closes the TCP socket of handshakes past {@code NC_HUB_TLS_HANDSHAKE_TIMEOUT_SEC}; failed and timed-out
 * handshakes are counted and logged (throttled). A completed one is queued, as a {@link HandshakenSocket}, for
 * Helidon's {@code accept}; its close gives the slot back. After the handshake the bytes flow through the JDK's
 * {@code SSLSocket}, layered over a {@link CoalescingSocket} so that its records cost fewer system calls.
 *
 * <p>Threads: the accept loop (one virtual thread), one virtual thread per handshake, the sweep (one virtual thread);
 * Helidon's listener thread blocks in {@link #accept()}. No lock: a concurrent set of handshakes in progress (an entry
 * is settled by whoever removes it, the handshake or the sweep) and a queue.
 */
final class FrontDoor extends SSLServerSocket {
    private static final Logger LOGGER = Logger.getLogger(FrontDoor.class.getName());
    private static final long SWEEP_MILLIS = 250;
    /** TLS record content type of a handshake message, the first byte a TLS client sends. */
    private static final int HANDSHAKE_RECORD = 0x16;
    /** Put in the queue by {@link #close()} to wake Helidon's {@code accept}. */
    private static final Socket END = new Socket();

    private final ServerSocket tcp;
    private final Admission admission;
    private final Supplier<SSLContext> context;
    private final LinkedBlockingQueue<Socket> ready = new LinkedBlockingQueue<>();
    private final Set<Pending> pending = ConcurrentHashMap.newKeySet();
    private final LogThrottle failures = new LogThrottle();
    private final LogThrottle timeouts = new LogThrottle();
    private volatile SSLParameters parameters = new SSLParameters();
    private volatile boolean closed;
    private volatile Thread acceptor;
    private volatile ScheduledExecutorService sweeper;

    FrontDoor(Admission admission, Supplier<SSLContext> context) throws IOException {
        this.tcp = new ServerSocket();
        this.admission = admission;
        this.context = context;
    }

    @Override
    public void bind(SocketAddress endpoint) throws IOException {
        bind(endpoint, 0);
    }

    @Override
    public void bind(SocketAddress endpoint, int backlog) throws IOException {
        tcp.bind(endpoint, backlog);
        sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("nc-hub-tls-sweep").factory());
        sweeper.scheduleWithFixedDelay(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        acceptor = Thread.ofVirtual().name("nc-hub-tls-accept").start(this::acceptLoop);
    }

    @Override
    public Socket accept() throws IOException {
        try {
            Socket s = closed ? END : ready.take();
            if (s == END) {
                ready.add(END);
                // Helidon's listener ends quietly on a "Socket closed" SocketException
                throw new SocketException("Socket closed");
            }
            return s;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SocketException("Socket closed");
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            tcp.close();
        } finally {
            Thread a = acceptor;
            if (a != null) {
                a.interrupt();
            }
            if (sweeper != null) {
                sweeper.shutdownNow();
            }
            for (Pending p : pending) {
                if (pending.remove(p)) {
                    closeQuietly(p.raw());
                }
            }
            drain();
            ready.add(END);
        }
    }

    /** Connections handed over but not yet taken by Helidon are closed (their slots come back through close). */
    private void drain() {
        Socket s;
        while ((s = ready.poll()) != null) {
            if (s != END) {
                closeQuietly(s);
            }
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                admission.acquire();
            } catch (InterruptedException e) {
                return;
            }
            Socket raw;
            try {
                raw = tcp.accept();
            } catch (IOException e) {
                admission.unused();
                if (closed) {
                    return;
                }
                // e.g. out of file descriptors: let it pass rather than spin
                Event.of("accept_failed").with("error", e.getClass().getSimpleName())
                        .log(LOGGER, Level.WARNING, "Accept on the hub's TLS port failed: " + e.getMessage());
                pause();
                continue;
            }
            admission.accepted();
            Pending p = new Pending(raw, System.nanoTime() + admission.handshakeTimeout().toNanos());
            pending.add(p);
            if (closed && pending.remove(p)) {
                // accepted while closing, after close() went through the pending set: the handshake fails at once
                closeQuietly(raw);
            }
            Thread.ofVirtual().name("nc-hub-tls-handshake").start(() -> handshake(p));
        }
    }

    private void handshake(Pending p) {
        Socket raw = p.raw();
        SSLSocket ssl = null;
        String cut;
        try {
            // the first byte first: a connection closed at once or one that is not TLS (a TCP check, plain HTTP) costs
            // no TLS socket; a TLS client starts with a handshake record
            int first = raw.getInputStream().read();
            if (first != HANDSHAKE_RECORD) {
                throw first < 0 ? new EOFException("closed before the handshake") : new SSLException("not TLS");
            }
            // TLS over a socket that gathers the records of one tunnel write and reads several records at once
            ssl = (SSLSocket) context.get().getSocketFactory()
                    .createSocket(CoalescingSocket.wrap(raw), new ByteArrayInputStream(new byte[] {(byte) first}), true);
            ssl.setUseClientMode(false);
            ssl.setSSLParameters(parameters);
            ssl.startHandshake();
            InputStream in = ssl.getInputStream();
            OutputStream out = ssl.getOutputStream();
            if (pending.remove(p)) {
                admission.handshakeEnded();
                ready.add(new HandshakenSocket(ssl, raw, in, out, admission::closed));
                if (closed) {
                    drain();
                    ready.add(END);
                }
                return;
            }
            cut = "tls_handshake_timeout";
        } catch (IOException | RuntimeException e) {
            cut = !pending.remove(p) ? "tls_handshake_timeout" : peerClosed(e) ? "tls_handshake_closed" : "tls_handshake_failed";
        }
        admission.handshakeEnded();
        closeQuietly(ssl);
        closeQuietly(raw);
        admission.closed();
        if (closed) {
            return;
        }
        admission.cut(cut);
        if ("tls_handshake_failed".equals(cut)) {
            failures.count();
        } else if ("tls_handshake_timeout".equals(cut)) {
            timeouts.count();
        }
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Pending p : pending) {
            if (now - p.deadlineNanos() > 0 && pending.remove(p)) {
                // the handshake's read fails at once; its thread counts and releases
                closeQuietly(p.raw());
            }
        }
        long failed = failures.due();
        if (failed > 0) {
            Event.of("tls_handshake_failed").with("count", failed)
                    .log(LOGGER, Level.WARNING, failed + " TLS handshake(s) on the hub's port failed (not TLS, or a "
                            + "certificate or protocol the hub does not accept)");
        }
        long timedOut = timeouts.due();
        if (timedOut > 0) {
            long sec = admission.handshakeTimeout().toSeconds();
            Event.of("tls_handshake_timed_out").with("count", timedOut).with("timeout_sec", sec)
                    .log(LOGGER, Level.WARNING, timedOut + " connection(s) to the hub's port closed: TLS handshake not "
                            + "done within " + sec + " s (NC_HUB_TLS_HANDSHAKE_TIMEOUT_SEC)");
        }
    }

    /** The peer went away (connect-and-close, a reset): what a TCP health check does, not worth a warning. */
    private static boolean peerClosed(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof EOFException || t instanceof SocketException) {
                return true;
            }
        }
        return false;
    }

    private void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException | RuntimeException ignored) {
                // closing anyway
            }
        }
    }

    // what Helidon sets and reads on its server socket: TLS parameters are kept for the handshakes, the rest goes to the
    // TCP server socket

    @Override
    public void setSSLParameters(SSLParameters params) {
        this.parameters = params;
    }

    @Override
    public SSLParameters getSSLParameters() {
        return parameters;
    }

    @Override
    public String[] getEnabledCipherSuites() {
        String[] s = parameters.getCipherSuites();
        return s != null ? s : context.get().getDefaultSSLParameters().getCipherSuites();
    }

    @Override
    public void setEnabledCipherSuites(String[] suites) {
        parameters.setCipherSuites(suites);
    }

    @Override
    public String[] getSupportedCipherSuites() {
        return context.get().getSupportedSSLParameters().getCipherSuites();
    }

    @Override
    public String[] getSupportedProtocols() {
        return context.get().getSupportedSSLParameters().getProtocols();
    }

    @Override
    public String[] getEnabledProtocols() {
        String[] p = parameters.getProtocols();
        return p != null ? p : context.get().getDefaultSSLParameters().getProtocols();
    }

    @Override
    public void setEnabledProtocols(String[] protocols) {
        parameters.setProtocols(protocols);
    }

    @Override
    public void setNeedClientAuth(boolean need) {
        parameters.setNeedClientAuth(need);
    }

    @Override
    public boolean getNeedClientAuth() {
        return parameters.getNeedClientAuth();
    }

    @Override
    public void setWantClientAuth(boolean want) {
        parameters.setWantClientAuth(want);
    }

    @Override
    public boolean getWantClientAuth() {
        return parameters.getWantClientAuth();
    }

    @Override
    public void setUseClientMode(boolean mode) {
        if (mode) {
            throw new IllegalArgumentException("the hub's port is a TLS server");
        }
    }

    @Override
    public boolean getUseClientMode() {
        return false;
    }

    @Override
    public void setEnableSessionCreation(boolean flag) {
        if (!flag) {
            throw new IllegalArgumentException("session creation stays on");
        }
    }

    @Override
    public boolean getEnableSessionCreation() {
        return true;
    }

    @Override
    public InetAddress getInetAddress() {
        return tcp.getInetAddress();
    }

    @Override
    public int getLocalPort() {
        return tcp.getLocalPort();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
        return tcp.getLocalSocketAddress();
    }

    @Override
    public ServerSocketChannel getChannel() {
        return null;
    }

    @Override
    public boolean isBound() {
        return tcp.isBound();
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
        if (timeout != 0) {
            throw new SocketException("no accept timeout on the hub's TLS port");
        }
    }

    @Override
    public int getSoTimeout() {
        return 0;
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
        tcp.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return tcp.getReuseAddress();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
        tcp.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
        return tcp.getReceiveBufferSize();
    }

    @Override
    public void setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
        tcp.setPerformancePreferences(connectionTime, latency, bandwidth);
    }

    @Override
    public <T> ServerSocket setOption(SocketOption<T> name, T value) throws IOException {
        tcp.setOption(name, value);
        return this;
    }

    @Override
    public <T> T getOption(SocketOption<T> name) throws IOException {
        return tcp.getOption(name);
    }

    @Override
    public Set<SocketOption<?>> supportedOptions() {
        return tcp.supportedOptions();
    }

    @Override
    public String toString() {
        return "FrontDoor[" + tcp + "]";
    }

    /** A connection whose handshake runs, with its deadline. */
    private record Pending(Socket raw, long deadlineNanos) {
    }
}
