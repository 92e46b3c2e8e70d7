package io.nowconnect.health;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.Bytes;
import io.helidon.common.buffers.DataReader;
import io.helidon.common.concurrency.limits.Limit;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.webserver.spi.ServerConnectionSelector;

/**
 * Helidon's HTTP/1 selector with HTTP/1.0 health checks answered in front of it. Helidon 4.2.0 parses only HTTP/1.1:
 * {@code Http1Prologue} throws {@code HTTP_VERSION_NOT_SUPPORTED} (505) for a request line ending in {@code HTTP/1.0},
 * and no option of {@code Http1Config} changes that; haproxy's classic {@code option httpchk GET /readyz} and many
 * appliance monitors send exactly that line.
 *
 * <p>Each connection first reads (without consuming) up to its request line's CRLF, at most {@link #MAX_LINE} bytes,
 * within the request deadline: a line ending in {@code " HTTP/1.0"} is answered by {@link Http10Probe} from the same
 * {@link Probes} as the HTTP/1.1 routes, then closed; anything else goes to Helidon's HTTP/1 connection untouched (the
 * bytes are still in the reader), which owns it from then on. Also when Helidon asks {@link #supports} (several
 * selectors on one listener), an HTTP/1.0 line is claimed here.
 *
 * <p>Threads: everything runs on the connection's own virtual thread, plus (unless the deadline is zero: the caller
 * bounds the connection itself) one sleeping virtual thread per connection until its request line (HTTP/1.1) or its
 * answer (HTTP/1.0) is done, which closes the socket at the deadline.
 */
final class Http10Selector implements ServerConnectionSelector {
    /** Longest request line looked at; Helidon's own default prologue limit is 2048 as well. */
    static final int MAX_LINE = 2048;
    private static final byte[] HTTP_10 = " HTTP/1.0\r".getBytes(StandardCharsets.US_ASCII);

    private final ServerConnectionSelector http1;
    private final Probes probes;
    private final Duration deadline;

    Http10Selector(ServerConnectionSelector http1, Probes probes, Duration deadline) {
        this.http1 = http1;
        this.probes = probes;
        this.deadline = deadline;
    }

    @Override
    public int bytesToIdentifyConnection() {
        return http1.bytesToIdentifyConnection();
    }

    @Override
    public Support supports(BufferData data) {
        int lf = data.indexOf(Bytes.LF_BYTE);
        if (lf > 0 && data.readString(lf).endsWith(" HTTP/1.0\r")) {
            return Support.SUPPORTED;
        }
        data.rewind();
        return http1.supports(data);
    }

    @Override
    public Set<String> supportedApplicationProtocols() {
        return http1.supportedApplicationProtocols();
    }

    @Override
    public ServerConnection connection(ConnectionContext ctx) {
        return new Sniffing(ctx);
    }

    /** Is the connection's first line an HTTP/1.0 request line? Blocks for at most the line; moves nothing. */
    private static boolean http10(DataReader reader) {
        reader.ensureAvailable();
        while (true) {
            int available = reader.available();
            BufferData seen = reader.getBuffer(available);
            int lf = seen.indexOf(Bytes.LF_BYTE);
            if (lf >= 0) {
                if (lf < HTTP_10.length) {
                    return false;
                }
                byte[] tail = new byte[HTTP_10.length];
                seen.rewind();
                seen.skip(lf - HTTP_10.length);
                seen.read(tail, 0, tail.length);
                return java.util.Arrays.equals(tail, HTTP_10);
            }
            if (available >= MAX_LINE) {
                // too long for a health check: Helidon answers it (414/400)
                return false;
            }
            reader.pullData();
        }
    }

    /** Waits for the request line, then hands the connection to Helidon or answers it as HTTP/1.0. */
    private final class Sniffing implements ServerConnection {
        private final ConnectionContext ctx;
        private final long created = System.nanoTime();
        private volatile ServerConnection helidon;

        Sniffing(ConnectionContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void handle(Limit limit) throws InterruptedException {
            Thread cutter = deadline.isZero() ? null : Thread.ofVirtual().name("nc-http-request-deadline").start(() -> {
                try {
                    Thread.sleep(deadline);
                    ctx.serverSocket().close();
                } catch (InterruptedException e) {
                    // the request line (or the HTTP/1.0 answer) was in time
                }
            });
            boolean old;
            try {
                old = http10(ctx.dataReader());
                if (old) {
                    new Http10Probe(ctx, probes).answer();
                    return;
                }
            } catch (DataReader.InsufficientDataAvailableException e) {
                return;
            } finally {
                if (cutter != null) {
                    cutter.interrupt();
                }
            }
            helidon = http1.connection(ctx);
            helidon.handle(limit);
        }

        @Override
        public Duration idleTime() {
            ServerConnection h = helidon;
            return h != null ? h.idleTime() : Duration.ofNanos(System.nanoTime() - created);
        }

        @Override
        public void close(boolean interrupt) {
            ServerConnection h = helidon;
            if (h != null) {
                h.close(interrupt);
            } else {
                ctx.serverSocket().close();
            }
        }
    }
}
