package io.nowconnect.mux;

import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Whether a tunnel's peer is alive, and when to ping it: the HELLO deadline, the pong deadline (any frame received
 * counts, so a pong queued behind bulk data never kills a busy tunnel), writes that make no progress (a peer that
 * sends but stopped reading), and the ping schedule. Pure bookkeeping: the {@link Mux}'s timer task asks and acts.
 *
 * <p>Threads: the reader calls {@link #received} and {@link #pong}; the timer task calls the rest. Fields the reader
 * writes are volatile; the ping schedule is the timer task's alone, and {@link #pingOutstanding} publishes it. No
 * locks.
 */
final class Liveness {
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A reason and detail the tunnel ends with when the peer is found dead. */
    record Verdict(MuxReason reason, String detail) {
    }

    private final MuxSettings settings;
    private final long createdNanos = System.nanoTime();
    private volatile long lastReceivedNanos = createdNanos;
    // timer task only, published through pingOutstanding
    private long lastPingNanos = createdNanos;
    private long lastSweepNanos = createdNanos;
    private long pingPayload;
    private long pingSentAtNanos;
    private volatile boolean pingOutstanding;

    Liveness(MuxSettings settings) {
        this.settings = settings;
    }

    /** Reader: something arrived from the peer. */
    void received() {
        lastReceivedNanos = System.nanoTime();
    }

    /**
     * Time since the peer last sent anything.
     *
     * @return idle time
     */
    Duration idle() {
        return Duration.ofNanos(System.nanoTime() - lastReceivedNanos);
    }

    /**
     * Reader: a pong arrived.
     *
     * @param payload its payload
     * @return the round trip of our ping it answers, or -1 when it answers none
     */
    long pong(byte[] payload) {
        if (payload.length != 8 || !pingOutstanding || ByteBuffer.wrap(payload).getLong() != pingPayload) {
            return -1;
        }
        pingOutstanding = false;
        return System.nanoTime() - pingSentAtNanos;
    }

    /**
     * Timer: whether the peer must be taken for dead now.
     *
     * @param now current {@link System#nanoTime()}
     * @param ready whether HELLO was answered
     * @param stalledNanos how long the current socket write has made no progress (0 when none)
     * @return the verdict, or null while the peer is alive
     */
    Verdict check(long now, boolean ready, long stalledNanos) {
        Duration timeout = settings.pingTimeout();
        if (!ready && now - createdNanos > timeout.toNanos()) {
            return new Verdict(MuxReason.HELLO_TIMEOUT, "no " + (settings.side().server() ? "HELLO" : "HELLO_ACK")
                    + " within " + timeout.toSeconds() + " s");
        }
        // a peer that stops reading (TCP zero window) but keeps sending looks alive to the pong check: a socket write
        // that made no progress for the ping timeout ends the tunnel (a slow but reading peer finishes each write,
        // see WsWriter.MAX_SOCKET_WRITE)
        if (stalledNanos > timeout.toNanos()) {
            return new Verdict(MuxReason.WRITE_STALLED, settings.side().peer() + " stopped reading: no write progress for "
                    + TimeUnit.NANOSECONDS.toSeconds(stalledNanos) + " s");
        }
        if (pingOutstanding && now - Math.max(pingSentAtNanos, lastReceivedNanos) > timeout.toNanos()) {
            return new Verdict(MuxReason.PING_TIMEOUT, "no pong within " + timeout.toSeconds() + " s");
        }
        return null;
    }

    /**
     * Timer: the payload of a ping to send now, if one is due (8 random bytes; the pong must echo them).
     *
     * @param now current {@link System#nanoTime()}
     * @return payload, or null when no ping is due
     */
    byte[] pingDue(long now) {
        if (pingOutstanding || now - lastPingNanos < settings.pingInterval().toNanos()) {
            return null;
        }
        lastPingNanos = now;
        pingPayload = RANDOM.nextLong();
        pingSentAtNanos = now;
        pingOutstanding = true;
        return ByteBuffer.allocate(8).putLong(pingPayload).array();
    }

    /**
     * Timer: whether the once-a-second work (idle sweep, the role's check) is due.
     *
     * @param now current {@link System#nanoTime()}
     * @return true once a second
     */
    boolean secondDue(long now) {
        if (now - lastSweepNanos < 1_000_000_000L) {
            return false;
        }
        lastSweepNanos = now;
        return true;
    }
}
