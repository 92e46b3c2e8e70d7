package io.nowconnect.protocol;

import java.util.List;
import java.util.Objects;

/**
 * One tunnel frame. Records are immutable; a {@link Data} frame owns its byte array (callers must not
 * reuse it after handing it over).
 */
public sealed interface Frame {

    /**
     * Wire name of this frame's type ({@code t} field).
     *
     * @return the type
     */
    FrameType type();

    /**
     * Agent to hub: first frame on a tunnel.
     *
     * @param agentId agent id
     * @param connectors exported connectors
     * @param version agent version
     * @param caps offered capabilities
     * @param window with {@code win}: the initial {@code bin1} window the agent grants per stream; 0 when not given
     */
    record Hello(String agentId, List<String> connectors, String version, List<String> caps, int window)
            implements Frame {
        public Hello {
            Objects.requireNonNull(agentId, "agentId");
            connectors = List.copyOf(connectors);
            caps = List.copyOf(caps);
        }

        /**
         * A HELLO without a window.
         *
         * @param agentId agent id
         * @param connectors exported connectors
         * @param version agent version
         * @param caps offered capabilities
         */
        public Hello(String agentId, List<String> connectors, String version, List<String> caps) {
            this(agentId, connectors, version, caps, 0);
        }

        @Override
        public FrameType type() {
            return FrameType.HELLO;
        }
    }

    /**
     * Hub to agent: HELLO accepted. {@code WELCOME} (HA hubs) is decoded into this record too, with its epoch.
     *
     * @param caps capabilities the hub agreed to, empty for a plain v1 hub
     * @param epoch epoch of a {@code WELCOME}, or {@code -1} for {@code HELLO_ACK}
     * @param maxMessage with the {@code limits} capability: the largest WebSocket message the hub accepts
     *                   ({@code max_message}); 0 when not given
     * @param window with {@code win}: the initial {@code bin1} window the hub grants per stream; 0 when not given
     * @param replica with the {@code replicas} capability: id of the hub replica that answered; empty when not given
     * @param replicas with the {@code replicas} capability: ids of every replica behind the URL; empty when not given
     */
    record HelloAck(List<String> caps, long epoch, int maxMessage, int window, String replica, List<String> replicas)
            implements Frame {
        public HelloAck {
            caps = List.copyOf(caps);
            replica = replica == null ? "" : replica;
            replicas = List.copyOf(replicas);
        }

        /**
         * An ack with limits and a window, without replica fields.
         *
         * @param caps agreed capabilities
         * @param epoch epoch, or {@code -1}
         * @param maxMessage largest message the hub accepts, 0 when not given
         * @param window initial window the hub grants per stream, 0 when not given
         */
        public HelloAck(List<String> caps, long epoch, int maxMessage, int window) {
            this(caps, epoch, maxMessage, window, "", List.of());
        }

        /**
         * An ack with limits but no window.
         *
         * @param caps agreed capabilities
         * @param epoch epoch, or {@code -1}
         * @param maxMessage largest message the hub accepts, 0 when not given
         */
        public HelloAck(List<String> caps, long epoch, int maxMessage) {
            this(caps, epoch, maxMessage, 0);
        }

        /**
         * An ack without limits.
         *
         * @param caps agreed capabilities
         * @param epoch epoch, or {@code -1}
         */
        public HelloAck(List<String> caps, long epoch) {
            this(caps, epoch, 0, 0);
        }

        @Override
        public FrameType type() {
            return epoch < 0 ? FrameType.HELLO_ACK : FrameType.WELCOME;
        }
    }

    /** Hub to agent: dial the connector's target for a new stream. */
    record Open(String cid, String connector) implements Frame {
        public Open {
            Objects.requireNonNull(cid, "cid");
            Objects.requireNonNull(connector, "connector");
        }

        @Override
        public FrameType type() {
            return FrameType.OPEN;
        }
    }

    /** Bytes of one stream in one direction; {@code seq} counts DATA frames per stream and direction from 0. */
    record Data(String cid, long seq, byte[] payload) implements Frame {
        public Data {
            Objects.requireNonNull(cid, "cid");
            Objects.requireNonNull(payload, "payload");
        }

        @Override
        public FrameType type() {
            return FrameType.DATA;
        }

        @Override
        public String toString() {
            // never print payload bytes
            return "Data[cid=" + cid + ", seq=" + seq + ", bytes=" + payload.length + "]";
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Data d && d.seq == seq && d.cid.equals(cid) && java.util.Arrays.equals(d.payload, payload);
        }

        @Override
        public int hashCode() {
            return cid.hashCode() * 31 + Long.hashCode(seq);
        }
    }

    /** One direction of a stream has finished sending. */
    record Fin(String cid, Direction dir) implements Frame {
        public Fin {
            Objects.requireNonNull(cid, "cid");
            Objects.requireNonNull(dir, "dir");
        }

        @Override
        public FrameType type() {
            return FrameType.FIN;
        }
    }

    /**
     * Abort a stream now.
     *
     * @param cid the stream
     * @param err reason; any string is accepted on receipt, see {@link ResetReason} for the known ones
     */
    record Rst(String cid, String err) implements Frame {
        public Rst {
            Objects.requireNonNull(cid, "cid");
            err = err == null ? "" : err;
        }

        @Override
        public FrameType type() {
            return FrameType.RST;
        }
    }

    /**
     * {@code bin1} only, both directions: the sender's local socket consumed {@code increment} more bytes of this
     * stream, so the peer may send that many more DATA bytes. Travels as a binary frame ({@link BinaryCodec}).
     *
     * @param cid the stream
     * @param increment bytes of credit returned, 1 to 2^32-1
     */
    record Window(String cid, long increment) implements Frame {
        public Window {
            Objects.requireNonNull(cid, "cid");
            if (increment <= 0 || increment > BinaryCodec.MAX_UINT32) {
                throw new IllegalArgumentException("WINDOW increment out of range: " + increment);
            }
        }

        @Override
        public FrameType type() {
            return FrameType.WINDOW;
        }
    }

    /** Agent to hub ({@code drain} capability): send no new OPEN on this tunnel. */
    record Drain() implements Frame {
        @Override
        public FrameType type() {
            return FrameType.DRAIN;
        }
    }
}
