package io.nowconnect.stream;

import java.util.Arrays;
import java.util.function.BiConsumer;

import io.nowconnect.protocol.Frame;

/** A {@link FrameSink} for tests without a tunnel: hands every frame sent, DATA included, to a recorder. */
final class RecordingSink implements FrameSink {
    private final BiConsumer<Frame, Boolean> recorder;

    /**
     * A sink that records.
     *
     * @param recorder gets each frame and whether it was urgent (DATA never is)
     */
    RecordingSink(BiConsumer<Frame, Boolean> recorder) {
        this.recorder = recorder;
    }

    @Override
    public void sendData(String cid, String connector, long seq, byte[] buf, int length, Runnable taken) {
        try {
            recorder.accept(new Frame.Data(cid, seq, Arrays.copyOf(buf, length)), false);
        } finally {
            if (taken != null) {
                taken.run();
            }
        }
    }

    @Override
    public void send(Frame frame, boolean urgent) {
        recorder.accept(frame, urgent);
    }
}
