package io.nowconnect.hub.tls;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketOption;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiFunction;

import javax.net.ssl.HandshakeCompletedListener;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;

/**
 * A TLS server socket whose handshake {@link FrontDoor} has already completed, as Helidon's {@code accept()} returns
 * it. Everything goes to the JDK's own {@code SSLSocket} (the streams are that socket's own, so the data path is
 * unchanged) except two things: {@link #startHandshake()} does nothing, because Helidon calls it on every accepted
 * socket and on a negotiated JDK socket it would start a renegotiation (TLS 1.2) or a key update (TLS 1.3); and
 * {@link #close()} gives the connection's slot back, once, after the socket is closed.
 *
 * <p>Thread-safe as the JDK socket is; {@link #close()} may be called from any thread, any number of times.
 */
final class HandshakenSocket extends SSLSocket {
    private final SSLSocket ssl;
    private final Socket raw;
    private final InputStream in;
    private final OutputStream out;
    private final Runnable onClose;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Wrap a socket after its handshake.
     *
     * @param ssl the JDK's TLS socket over {@code raw}, handshake completed
     * @param raw the accepted TCP socket
     * @param in {@code ssl}'s input stream
     * @param out {@code ssl}'s output stream
     * @param onClose run once, after both sockets are closed
     */
    HandshakenSocket(SSLSocket ssl, Socket raw, InputStream in, OutputStream out, Runnable onClose) {
        this.ssl = ssl;
        this.raw = raw;
        this.in = in;
        this.out = out;
        this.onClose = onClose;
    }

    @Override
    public void startHandshake() {
        // done by FrontDoor before Helidon saw this socket
    }

    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            ssl.close();
        } finally {
            try {
                raw.close();
            } finally {
                onClose.run();
            }
        }
    }

    @Override
    public boolean isClosed() {
        return closed.get() || ssl.isClosed();
    }

    @Override
    public InputStream getInputStream() throws IOException {
        if (isClosed()) {
            throw new SocketException("Socket is closed");
        }
        return in;
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
        if (isClosed()) {
            throw new SocketException("Socket is closed");
        }
        return out;
    }

    @Override
    public SSLSession getSession() {
        return ssl.getSession();
    }

    @Override
    public SSLSession getHandshakeSession() {
        return ssl.getHandshakeSession();
    }

    @Override
    public String getApplicationProtocol() {
        return ssl.getApplicationProtocol();
    }

    @Override
    public String getHandshakeApplicationProtocol() {
        return ssl.getHandshakeApplicationProtocol();
    }

    @Override
    public void setHandshakeApplicationProtocolSelector(BiFunction<SSLSocket, List<String>, String> selector) {
        // the handshake is over: nothing left to select
    }

    @Override
    public BiFunction<SSLSocket, List<String>, String> getHandshakeApplicationProtocolSelector() {
        return ssl.getHandshakeApplicationProtocolSelector();
    }

    @Override
    public SSLParameters getSSLParameters() {
        return ssl.getSSLParameters();
    }

    @Override
    public void setSSLParameters(SSLParameters params) {
        ssl.setSSLParameters(params);
    }

    @Override
    public String[] getSupportedCipherSuites() {
        return ssl.getSupportedCipherSuites();
    }

    @Override
    public String[] getEnabledCipherSuites() {
        return ssl.getEnabledCipherSuites();
    }

    @Override
    public void setEnabledCipherSuites(String[] suites) {
        ssl.setEnabledCipherSuites(suites);
    }

    @Override
    public String[] getSupportedProtocols() {
        return ssl.getSupportedProtocols();
    }

    @Override
    public String[] getEnabledProtocols() {
        return ssl.getEnabledProtocols();
    }

    @Override
    public void setEnabledProtocols(String[] protocols) {
        ssl.setEnabledProtocols(protocols);
    }

    @Override
    public void addHandshakeCompletedListener(HandshakeCompletedListener listener) {
        ssl.addHandshakeCompletedListener(listener);
    }

    @Override
    public void removeHandshakeCompletedListener(HandshakeCompletedListener listener) {
        ssl.removeHandshakeCompletedListener(listener);
    }

    @Override
    public void setUseClientMode(boolean mode) {
        ssl.setUseClientMode(mode);
    }

    @Override
    public boolean getUseClientMode() {
        return ssl.getUseClientMode();
    }

    @Override
    public void setNeedClientAuth(boolean need) {
        ssl.setNeedClientAuth(need);
    }

    @Override
    public boolean getNeedClientAuth() {
        return ssl.getNeedClientAuth();
    }

    @Override
    public void setWantClientAuth(boolean want) {
        ssl.setWantClientAuth(want);
    }

    @Override
    public boolean getWantClientAuth() {
        return ssl.getWantClientAuth();
    }

    @Override
    public void setEnableSessionCreation(boolean flag) {
        ssl.setEnableSessionCreation(flag);
    }

    @Override
    public boolean getEnableSessionCreation() {
        return ssl.getEnableSessionCreation();
    }

    // the plain socket's side: options, addresses and half-close go to the JDK socket, which passes them to the TCP one

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
        throw new SocketException("already connected");
    }

    @Override
    public void bind(SocketAddress bindpoint) throws IOException {
        throw new SocketException("already bound");
    }

    @Override
    public InetAddress getInetAddress() {
        return ssl.getInetAddress();
    }

    @Override
    public InetAddress getLocalAddress() {
        return ssl.getLocalAddress();
    }

    @Override
    public int getPort() {
        return ssl.getPort();
    }

    @Override
    public int getLocalPort() {
        return ssl.getLocalPort();
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
        return ssl.getRemoteSocketAddress();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
        return ssl.getLocalSocketAddress();
    }

    @Override
    public SocketChannel getChannel() {
        return null;
    }

    @Override
    public boolean isConnected() {
        return ssl.isConnected();
    }

    @Override
    public boolean isBound() {
        return ssl.isBound();
    }

    @Override
    public boolean isInputShutdown() {
        return ssl.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
        return ssl.isOutputShutdown();
    }

    @Override
    public void shutdownInput() throws IOException {
        ssl.shutdownInput();
    }

    @Override
    public void shutdownOutput() throws IOException {
        ssl.shutdownOutput();
    }

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
        ssl.setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
        return ssl.getTcpNoDelay();
    }

    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        ssl.setSoLinger(on, linger);
    }

    @Override
    public int getSoLinger() throws SocketException {
        return ssl.getSoLinger();
    }

    @Override
    public void sendUrgentData(int data) throws IOException {
        ssl.sendUrgentData(data);
    }

    @Override
    public void setOOBInline(boolean on) throws SocketException {
        ssl.setOOBInline(on);
    }

    @Override
    public boolean getOOBInline() throws SocketException {
        return ssl.getOOBInline();
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
        ssl.setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
        return ssl.getSoTimeout();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
        ssl.setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
        return ssl.getSendBufferSize();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
        ssl.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
        return ssl.getReceiveBufferSize();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
        ssl.setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
        return ssl.getKeepAlive();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
        ssl.setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
        return ssl.getTrafficClass();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
        ssl.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return ssl.getReuseAddress();
    }

    @Override
    public <T> Socket setOption(SocketOption<T> name, T value) throws IOException {
        // the TCP socket's options; the JDK's layered TLS socket refuses some of them
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

    @Override
    public String toString() {
        return "HandshakenSocket[" + ssl + "]";
    }
}
