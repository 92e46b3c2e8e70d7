package io.nowconnect.tunnel;

import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.nowconnect.config.Target;
import io.nowconnect.log.Event;
import io.nowconnect.mux.Mux;
import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Capability;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;
import io.nowconnect.stream.Stream;
import io.nowconnect.stream.StreamRefusedException;
import io.nowconnect.stream.StreamTable;

/**
 * The agent's answer to OPEN: a stream for an exported connector, whose target is dialled on a virtual thread of its
 * own (the tunnel's reader never waits for a connect), or an RST saying why not. Stateless apart from the connector
 * map; called on the tunnel's reader thread.
 */
final class Dialer {
    private static final Logger LOGGER = Logger.getLogger(Dialer.class.getName());

    private final Map<String, Target> connectors;

    Dialer(Map<String, Target> connectors) {
        this.connectors = connectors;
    }

    /**
     * Serve or refuse an OPEN.
     *
     * @param mux the tunnel
     * @param open the frame
     * @param refuse whether new streams are refused (the agent is stopping)
     */
    void onOpen(Mux mux, Frame.Open open, boolean refuse) {
        Target target = connectors.get(open.connector());
        StreamTable table = mux.streams();
        ResetReason refusal = null;
        if (target == null) {
            refusal = ResetReason.UNKNOWN_CONNECTOR;
        } else if (refuse) {
            refusal = ResetReason.DRAINING;
        } else if (mux.has(Capability.BIN1) && !BinaryCodec.fits(open.cid())) {
            refusal = ResetReason.BAD_CID;
        }
        if (refusal == null) {
            try {
                Stream stream = table.register(open.cid(), open.connector());
                Event.of("stream_open").with("cid", open.cid()).with("connector", open.connector())
                        .log(LOGGER, Level.FINE, "OPEN: dialling " + target);
                Thread.ofVirtual().name("nc-dial-" + open.cid()).start(() -> stream.dial(target));
                return;
            } catch (StreamRefusedException e) {
                refusal = e.reason();
                Optional<Stream> live = refusal == ResetReason.DUPLICATE_CID ? table.get(open.cid()) : Optional.empty();
                if (live.isPresent()) {
                    // the RST we answer names a live cid: the hub will take that stream for dead, so end it here too
                    // rather than keep a target connection that nobody will ever use
                    table.observer().refused(open.connector(), refusal.wire());
                    Event.of("stream_refused").with("cid", open.cid()).with("connector", open.connector())
                            .with("reason", refusal.wire()).log(LOGGER, Level.FINE, "Duplicate OPEN: resetting the stream");
                    live.get().reset(ResetReason.DUPLICATE_CID);
                    return;
                }
            }
        }
        // an unknown connector name is attacker-controlled: keep it out of metric labels
        table.observer().refused(target == null ? "unknown" : open.connector(), refusal.wire());
        Event.of("stream_refused").with("cid", open.cid()).with("connector", open.connector())
                .with("reason", refusal.wire()).log(LOGGER, Level.FINE, "OPEN refused");
        mux.sendUrgent(new Frame.Rst(open.cid(), refusal.wire()));
    }
}
