package io.nowconnect.hub;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

import io.helidon.common.concurrency.limits.Limit;
import io.helidon.webserver.spi.ServerConnection;

/**
 * A Helidon server connection that runs an action once when it ends (its {@code handle} returns): gives back a tunnel
 * slot, leaves a watch. Everything else goes to the wrapped connection.
 */
final class OnEnd implements ServerConnection {
    private final ServerConnection delegate;
    private final Runnable action;
    private final AtomicBoolean done = new AtomicBoolean();

    private OnEnd(ServerConnection delegate, Runnable action) {
        this.delegate = delegate;
        this.action = action;
    }

    /**
     * Wrap a connection.
     *
     * @param delegate the connection
     * @param action run once when it ends
     * @return the connection to hand to Helidon
     */
    static ServerConnection wrap(ServerConnection delegate, Runnable action) {
        return new OnEnd(delegate, action);
    }

    @Override
    public void handle(Limit limit) throws InterruptedException {
        try {
            delegate.handle(limit);
        } finally {
            if (done.compareAndSet(false, true)) {
                action.run();
            }
        }
    }

    @Override
    public Duration idleTime() {
        return delegate.idleTime();
    }

    @Override
    public void close(boolean interrupt) {
        delegate.close(interrupt);
    }
}
