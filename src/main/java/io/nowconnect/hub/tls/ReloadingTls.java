package io.nowconnect.hub.tls;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.security.KeyManagementException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

import io.helidon.common.tls.Tls;
import io.helidon.common.tls.TlsClientAuth;
import io.helidon.common.tls.TlsConfig;

import io.nowconnect.log.Event;
import io.nowconnect.watch.FileWatch;

/**
 * The hub's TLS: the PEM files made into a server context ({@link PemContext}), re-read when they change (new
 * handshakes use the new pair, tunnels already open keep theirs; files that do not load keep the old pair and log an
 * error), and given to Helidon as a {@link Tls} whose server socket is the {@link FrontDoor}.
 *
 * <p>Helidon creates its listening socket with {@code Tls.createServerSocket()}, which asks the configured
 * {@link SSLContext} for its server socket factory: the context given here is a thin {@link SSLContext} whose factory
 * makes the front door and whose other parts are those of the current PEM context.
 *
 * <p>Threads: the file watch's virtual thread reloads; the current context is a volatile reference read by every
 * handshake. Thread-safe.
 */
public final class ReloadingTls implements AutoCloseable {
    private static final Logger LOGGER = Logger.getLogger(ReloadingTls.class.getName());
    private static final Duration WATCH_DEBOUNCE = Duration.ofMillis(200);
    private static final Duration WATCH_POLL = Duration.ofSeconds(10);

    private final Path cert;
    private final Path key;
    private final Optional<Path> clientCa;
    private volatile PemContext.Loaded current;
    private volatile FileWatch watch;

    private ReloadingTls(Path cert, Path key, Optional<Path> clientCa, PemContext.Loaded first) {
        this.cert = cert;
        this.key = key;
        this.clientCa = clientCa;
        this.current = first;
    }

    /**
     * Load the files and start watching them.
     *
     * @param cert {@code NC_HUB_TLS_CERT}
     * @param key {@code NC_HUB_TLS_KEY}
     * @param clientCa {@code NC_HUB_TLS_CLIENT_CA}, if set
     * @return the hub's TLS
     * @throws IllegalArgumentException when the files do not make a usable context (the reason in the message)
     */
    public static ReloadingTls start(Path cert, Path key, Optional<Path> clientCa) {
        ReloadingTls tls = new ReloadingTls(cert, key, clientCa, PemContext.load(cert, key, clientCa));
        List<Path> files = new ArrayList<>(List.of(cert, key));
        clientCa.ifPresent(files::add);
        try {
            tls.watch = FileWatch.start(files, p -> tls.reload(), WATCH_DEBOUNCE, WATCH_POLL);
        } catch (IOException e) {
            Event.of("tls_watch_failed").log(LOGGER, Level.WARNING, "The hub's TLS files cannot be watched: a new "
                    + "certificate needs a restart (" + e.getMessage() + ")");
        }
        return tls;
    }

    /**
     * Helidon's TLS for the hub's port: TLS 1.3 and 1.2, client certificates required when a client CA is set.
     *
     * @param admission the port's connection accounting and handshake deadline
     * @return the TLS to give the listener
     */
    public Tls helidonTls(Admission admission) {
        TlsConfig.Builder tls = TlsConfig.builder()
                .sslContext(new FrontContext(new Spi(admission)))
                .enabledProtocols(List.of("TLSv1.3", "TLSv1.2"));
        if (clientCa.isPresent()) {
            // Helidon's default endpoint identification ("HTTPS") is a client-side check: on a server it fails
            // every client certificate with certificate_unknown
            tls.clientAuth(TlsClientAuth.REQUIRED).endpointIdentificationAlgorithm(Tls.ENDPOINT_IDENTIFICATION_NONE);
        }
        return tls.build();
    }

    /**
     * The certificate new handshakes present (tests and logs).
     *
     * @return the current certificate
     */
    public java.security.cert.X509Certificate certificate() {
        return current.certificate();
    }

    /** Re-read the files now (the watch calls it on a change). */
    public void reload() {
        try {
            PemContext.Loaded loaded = PemContext.load(cert, key, clientCa);
            if (loaded.certificate().equals(current.certificate()) && clientCa.isEmpty()) {
                return;
            }
            current = loaded;
            Event.of("tls_reloaded").with("subject", loaded.certificate().getSubjectX500Principal().getName())
                    .with("not_after", loaded.certificate().getNotAfter().toInstant())
                    .log(LOGGER, Level.INFO, "The hub's TLS certificate and key were reloaded: new handshakes use them");
        } catch (IllegalArgumentException e) {
            Event.of("tls_reload_failed").with("cert", cert).with("key", key)
                    .log(LOGGER, Level.SEVERE, "NC_HUB_TLS_CERT/NC_HUB_TLS_KEY changed but cannot be used ("
                            + e.getMessage() + "); the hub keeps serving the previous certificate");
        }
    }

    @Override
    public void close() {
        FileWatch w = watch;
        if (w != null) {
            w.close();
        }
    }

    private SSLContext context() {
        return current.context();
    }

    /** The context Helidon holds: its server sockets are front doors, everything else is the current context's. */
    private static final class FrontContext extends SSLContext {
        FrontContext(Spi spi) {
            super(spi, null, "TLS");
        }
    }

    private final class Spi extends SSLContextSpi {
        private final Admission admission;

        Spi(Admission admission) {
            this.admission = admission;
        }

        @Override
        protected void engineInit(KeyManager[] km, TrustManager[] tm, SecureRandom sr) throws KeyManagementException {
            throw new KeyManagementException("initialised from the hub's PEM files");
        }

        @Override
        protected SSLSocketFactory engineGetSocketFactory() {
            return context().getSocketFactory();
        }

        @Override
        protected SSLServerSocketFactory engineGetServerSocketFactory() {
            return new ServerSockets(admission);
        }

        @Override
        protected SSLEngine engineCreateSSLEngine() {
            return context().createSSLEngine();
        }

        @Override
        protected SSLEngine engineCreateSSLEngine(String host, int port) {
            return context().createSSLEngine(host, port);
        }

        @Override
        protected SSLSessionContext engineGetServerSessionContext() {
            return context().getServerSessionContext();
        }

        @Override
        protected SSLSessionContext engineGetClientSessionContext() {
            return context().getClientSessionContext();
        }

        @Override
        protected SSLParameters engineGetDefaultSSLParameters() {
            return context().getDefaultSSLParameters();
        }

        @Override
        protected SSLParameters engineGetSupportedSSLParameters() {
            return context().getSupportedSSLParameters();
        }
    }

    /** Makes the front door; only the unbound form is used (Helidon binds it itself). */
    private final class ServerSockets extends SSLServerSocketFactory {
        private final Admission admission;

        ServerSockets(Admission admission) {
            this.admission = admission;
        }

        @Override
        public ServerSocket createServerSocket() throws IOException {
            return new FrontDoor(admission, ReloadingTls.this::context);
        }

        @Override
        public ServerSocket createServerSocket(int port) throws IOException {
            return bound(new java.net.InetSocketAddress(port), 0);
        }

        @Override
        public ServerSocket createServerSocket(int port, int backlog) throws IOException {
            return bound(new java.net.InetSocketAddress(port), backlog);
        }

        @Override
        public ServerSocket createServerSocket(int port, int backlog, InetAddress address) throws IOException {
            return bound(new java.net.InetSocketAddress(address, port), backlog);
        }

        private ServerSocket bound(java.net.InetSocketAddress address, int backlog) throws IOException {
            ServerSocket s = createServerSocket();
            s.bind(address, backlog);
            return s;
        }

        @Override
        public String[] getDefaultCipherSuites() {
            return context().getDefaultSSLParameters().getCipherSuites();
        }

        @Override
        public String[] getSupportedCipherSuites() {
            return context().getSupportedSSLParameters().getCipherSuites();
        }
    }
}
