package io.nowconnect.tunnel;

import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;

import io.nowconnect.config.AgentConfig;

/**
 * What the {@link Supervisor} needs from one tunnel connection: run it, watch it become ready, drain or end it, and read
 * the token it authenticated with. {@link TunnelConnection} is the real one; tests give the supervisor fakes through a
 * {@link Factory}.
 *
 * <p>Threads: {@link #run()} blocks on a thread of its own; every other method may be called from any thread.
 */
interface Tunnel {
    /**
     * Connect and serve until the tunnel ends; never sleeps or retries.
     *
     * @return why it ended
     */
    TunnelEnd run();

    /**
     * Whether the hub acknowledged HELLO.
     *
     * @return true once ready
     */
    boolean isReady();

    /**
     * Streams open on this tunnel.
     *
     * @return count
     */
    int activeStreams();

    /**
     * Fingerprint of the token this tunnel authenticated with ({@link TokenSource#fingerprint}), null without one.
     *
     * @return fingerprint
     */
    String tokenFingerprint();

    /**
     * Lifetime of the token this tunnel authenticated with, when it is a JWT with {@code exp}.
     *
     * @return lifetime
     */
    Optional<TokenSource.Lifetime> tokenLifetime();

    /**
     * Stop taking new streams and close once the open ones end or the timeout passes (DRAIN is sent where supported).
     *
     * @param timeout longest time open streams may go on
     * @param refuse whether OPENs that still arrive are refused (shutdown) or served (graceful reconnect)
     * @param reason end reason once drained ({@link EndReason#DRAINED} or {@link EndReason#ROTATED})
     */
    void drain(Duration timeout, boolean refuse, EndReason reason);

    /**
     * End the tunnel at once; {@link #run()} returns soon after with this reason (unless it had already ended).
     *
     * @param reason why
     * @param detail detail for the log, never a secret
     */
    void kill(EndReason reason, String detail);

    /** Makes the tunnels of one supervisor; called on the supervisor thread only. */
    interface Factory {
        /**
         * A new tunnel, not started: the supervisor calls {@link Tunnel#run()} on a thread of its own.
         *
         * @param settings what the tunnel says in HELLO and its limits
         * @param onReady told once when the hub acknowledges HELLO (on the tunnel's thread; must not block)
         * @return the tunnel
         */
        Tunnel open(TunnelConnection.Settings settings, Consumer<Tunnel> onReady);

        /**
         * Re-read the TLS material (client certificate, key, CA bundle) for the tunnels opened from now on.
         *
         * @param config current configuration, naming the files
         * @throws RuntimeException when the files cannot be used (yet); the previous material stays in use
         */
        void reloadTls(AgentConfig config);
    }
}
