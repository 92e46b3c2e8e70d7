package io.nowconnect.health;

import java.util.logging.Filter;
import java.util.logging.Logger;

import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;

/**
 * Starts a Helidon web server without Helidon's own report of a port that cannot be bound: Helidon 4.2.0 logs the bind
 * failure with its whole stack trace at SEVERE, then starts anyway with port -1; every caller here turns that into one
 * clean configuration error naming its variables, so the stack trace is noise. Only those two records, logged by the
 * starting thread during the start, are held back; everything else Helidon logs passes.
 */
public final class ServerStart {
    // JUL holds loggers weakly: keep the one that carries the filter
    private static final Logger LOOM = Logger.getLogger("io.helidon.webserver.LoomServer");
    private static final ThreadLocal<Boolean> STARTING = ThreadLocal.withInitial(() -> false);
    private static final Filter QUIET_BIND = r -> {
        if (!STARTING.get()) {
            return true;
        }
        String m = r.getMessage() == null ? "" : r.getMessage();
        return !(m.startsWith("Failed to start listener") || m.startsWith("Helidon WebServer failed to start"));
    };

    private ServerStart() {
    }

    /**
     * Build and start the server; the caller checks {@code port() < 0} (a port that could not be bound) and reports it.
     *
     * @param builder configured server builder
     * @return the started server, port -1 when the listener could not be bound
     */
    public static WebServer start(WebServerConfig.Builder builder) {
        WebServer server = builder.build();
        LOOM.setFilter(QUIET_BIND);
        STARTING.set(true);
        try {
            return server.start();
        } finally {
            STARTING.set(false);
        }
    }
}
