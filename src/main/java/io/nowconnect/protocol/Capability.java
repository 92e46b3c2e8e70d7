package io.nowconnect.protocol;

/** Negotiated protocol extensions listed in HELLO {@code caps} and in the ack. */
public final class Capability {
    /** {@code DRAIN} frame: the hub sends no new OPEN on a draining tunnel. */
    public static final String DRAIN = "drain";
    /**
     * Binary DATA frames and per-stream credit-based flow control ({@link BinaryCodec}); JSON DATA stays valid
     * alongside.
     */
    public static final String BIN1 = "bin1";
    /**
     * The ack carries {@code max_message}, the largest WebSocket message the hub accepts; the agent keeps its frames
     * within it (JSON DATA payloads shrink to fit), so differing limits never close the tunnel with 1009.
     */
    public static final String LIMITS = "limits";
    /**
     * With {@code bin1}: each side chooses the initial window it grants per stream and announces it as {@code win} in
     * its HELLO or ack (instead of the fixed 256 KiB), sized so that its stream limit times that window fits its memory
     * budget.
     */
    public static final String WIN = "win";
    /**
     * The ack carries {@code replica}, the id of the hub replica the agent reached, and {@code replicas}, the ids of
     * every replica behind the same URL; an agent keeps one tunnel to each (see {@code tunnel.Pool}).
     */
    public static final String REPLICAS = "replicas";

    private Capability() {
    }
}
