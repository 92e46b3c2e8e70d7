package io.nowconnect.tunnel;

import io.nowconnect.protocol.Frame;

/**
 * What a {@link TunnelConnection} asks when the hub's ack names a replica ({@code replicas} capability), and tells when
 * it ends: {@link ReplicaPool} keeps one tunnel per replica with it.
 *
 * <p>Threads: {@link #admit} is called on the tunnel's reader thread, {@link #released} on the thread that ran the
 * tunnel; both must be quick and must not block.
 */
interface ReplicaGate {
    /** No pool: every tunnel is kept, and the agent does not offer {@code replicas}. */
    ReplicaGate NONE = new ReplicaGate() {
        @Override
        public boolean admit(TunnelConnection tunnel, Frame.HelloAck ack) {
            return true;
        }

        @Override
        public void released(TunnelConnection tunnel) {
        }
    };

    /**
     * Whether to keep a tunnel the hub just acknowledged.
     *
     * @param tunnel the tunnel
     * @param ack the hub's ack ({@link Frame.HelloAck#replica()} is empty from a hub without {@code replicas})
     * @return false when another tunnel of the pool holds that replica: the tunnel then drains and closes
     */
    boolean admit(TunnelConnection tunnel, Frame.HelloAck ack);

    /**
     * The tunnel ended (admitted or not, ready or not).
     *
     * @param tunnel the tunnel
     */
    void released(TunnelConnection tunnel);
}
