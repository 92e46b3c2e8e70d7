package io.nowconnect.mux;

import java.io.IOException;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.function.Function;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.JsonCodec;
import io.nowconnect.stream.FrameSink;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.stream.WireEvent;
import io.nowconnect.ws.WsWriter;

/**
 * A tunnel's one send path: encodes frames in the agreed encoding (v1 JSON, or {@code bin1} binary DATA and WINDOW)
 * and puts them on the lanes of its {@link WsWriter}. Streams send through it as their {@link FrameSink} (DATA, FIN,
 * RST, WINDOW); the {@link Mux} sends the tunnel's control frames through {@link #sendControl}. A stream's ordered
 * frames (OPEN, DATA, FIN) share the writer's queue of that stream, so they keep their order.
 *
 * <p>Threads: any thread may send; ordered sends block while the stream's queue in the writer is full, urgent ones
 * never block. Locks: none of its own (the writer has its own); the writer and the encoding are volatile, set once
 * each. A write that fails is reported to the multiplexer (which ends the tunnel) and thrown as an
 * {@link IOException}.
 */
final class MuxSink implements FrameSink {
    private final StreamObserver observer;
    private final Consumer<RuntimeException> failed;
    private volatile WsWriter writer;
    /** Whether {@code bin1} was agreed: DATA goes as binary messages. */
    private volatile boolean bin1;
    /** An open stream's connector by its id (the writer's group of the stream's queue); set once the table exists. */
    private volatile Function<String, String> connectors = cid -> null;

    /**
     * A sink not yet attached to a writer.
     *
     * @param observer counts the frames sent by encoding
     * @param failed told of a write that failed (the tunnel is gone)
     */
    MuxSink(StreamObserver observer, Consumer<RuntimeException> failed) {
        this.observer = observer;
        this.failed = failed;
    }

    /** The writer frames go to from now on. */
    void attach(WsWriter w) {
        this.writer = w;
    }

    /**
     * Where a stream's connector is found: the writer shares the tunnel between connectors first, then between a
     * connector's streams.
     *
     * @param lookup connector by stream id, null when unknown
     */
    void connectors(Function<String, String> lookup) {
        this.connectors = lookup;
    }

    private String connectorOf(String cid) {
        return connectors.apply(cid);
    }

    /** {@code bin1} was agreed: DATA goes as binary messages from now on. */
    void binaryData() {
        bin1 = true;
    }

    @Override
    public void sendData(String cid, String connector, long seq, byte[] buf, int length, Runnable taken)
            throws IOException {
        Runnable pending = taken;
        try {
            WsWriter w = writer();
            if (bin1) {
                byte[] header = BinaryCodec.dataHeader(cid, seq);
                pending = null;
                w.binary(header, buf, length, cid, connector, taken);
                observer.wire(WireEvent.BINARY_DATA_SENT);
            } else {
                String text = JsonCodec.encode(new Frame.Data(cid, seq, Arrays.copyOf(buf, length)));
                pending = null;
                w.text(text, cid, connector, taken);
                observer.wire(WireEvent.JSON_DATA_SENT);
            }
        } catch (RuntimeException e) {
            throw failed(e);
        } finally {
            if (pending != null) {
                pending.run();
            }
        }
    }

    /**
     * A stream's frame other than DATA: FIN in order, RST and WINDOW urgent.
     *
     * @throws IllegalArgumentException for DATA (it goes through {@link #sendData}) and frames of no stream
     */
    @Override
    public void send(Frame frame, boolean urgent) throws IOException {
        switch (frame) {
        case Frame.Fin f -> write(frame, urgent, f.cid(), connectorOf(f.cid()));
        case Frame.Rst r -> write(frame, urgent, r.cid(), connectorOf(r.cid()));
        case Frame.Window w -> write(frame, true, w.cid(), null);
        default -> throw new IllegalArgumentException(frame.type().wire() + " is not sent by a stream this way");
        }
    }

    /**
     * A control frame of the tunnel (HELLO, HELLO_ACK, DRAIN, OPEN, the RST that refuses an OPEN), always JSON. An
     * OPEN goes in its stream's queue, ahead of the stream's DATA.
     *
     * @param frame frame
     * @param urgent whether it may overtake queued frames (never blocks) or goes in order (blocks while the queue is
     *               full)
     * @throws IOException when the tunnel is gone
     * @throws IllegalArgumentException for DATA, WINDOW and FIN, which streams send through their sink
     */
    void sendControl(Frame frame, boolean urgent) throws IOException {
        switch (frame) {
        case Frame.Data d -> throw new IllegalArgumentException("DATA is sent by its stream");
        case Frame.Window w -> throw new IllegalArgumentException("WINDOW is sent by its stream");
        case Frame.Fin f -> throw new IllegalArgumentException("FIN is sent by its stream");
        case Frame.Open o -> write(frame, urgent, o.cid(), o.connector());
        default -> write(frame, urgent, null, null);
        }
    }

    /** Encode one frame that is not DATA and queue it: WINDOW binary and urgent, the rest JSON. */
    private void write(Frame frame, boolean urgent, String queue, String group) throws IOException {
        try {
            WsWriter w = writer();
            if (frame instanceof Frame.Window) {
                // credit must never wait behind bulk DATA
                w.urgentBinary(BinaryCodec.encode(frame));
                observer.wire(WireEvent.WINDOW_SENT);
            } else if (urgent) {
                w.urgentText(JsonCodec.encode(frame));
            } else {
                w.text(JsonCodec.encode(frame), queue, group, null);
            }
        } catch (RuntimeException e) {
            throw failed(e);
        }
    }

    private WsWriter writer() throws IOException {
        WsWriter w = writer;
        if (w == null) {
            throw new IOException("tunnel not connected");
        }
        return w;
    }

    private IOException failed(RuntimeException e) {
        failed.accept(e);
        return new IOException("tunnel write failed", e);
    }
}
