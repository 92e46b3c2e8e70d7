package io.nowconnect.stream;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import io.nowconnect.protocol.BinaryCodec;
import io.nowconnect.protocol.Direction;
import io.nowconnect.protocol.Frame;
import io.nowconnect.protocol.ResetReason;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bin1 window auto-tuning on one stream over a real loopback socket: a local side that takes every byte grows the
 * window by doubling (credit returned beyond what was consumed), never past {@link BinaryCodec#MAX_WINDOW}; the peer
 * may then use the grown window without a flow-control reset; and the growth goes back to the tunnel's budget when the
 * stream ends.
 */
@Timeout(60)
class StreamWindowTest {
    private static final int W = BinaryCodec.INITIAL_WINDOW;
    private static final int CHUNK = BinaryCodec.MAX_DATA_PAYLOAD;

    @Test
    void aFastLocalSideGrowsTheWindowUpToTheMaximum() throws Exception {
        LinkedBlockingQueue<Frame> sent = new LinkedBlockingQueue<>();
        LongAdder flowControlResets = new LongAdder();
        StreamObserver observer = new StreamObserver() {
            @Override
            public void wire(WireEvent event) {
                if (event == WireEvent.FLOW_CONTROL_RESET) {
                    flowControlResets.increment();
                }
            }
        };
        MemoryBudget memory = MemoryBudget.create(64L << 20);
        StreamTable table = StreamTable.create(new StreamSettings(8192, 64, Duration.ofMinutes(5), Duration.ofSeconds(5), 100),
                                               new RecordingSink((frame, urgent) -> sent.add(frame)), Direction.C2A, observer,
                                               StreamBudget.create(100), Shares.of(memory).open("tenant"));
        table.enableFlowControl(W);
        AtomicLong drained = new AtomicLong();
        try (ServerSocket server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
             Socket local = new Socket()) {
            local.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()));
            Thread sinkThread;
            try (Socket sink = server.accept()) {
                // the local side: reads everything at once
                sinkThread = Thread.ofVirtual().start(() -> {
                    byte[] buf = new byte[1 << 16];
                    try (InputStream in = sink.getInputStream()) {
                        int n;
                        while ((n = in.read(buf)) > 0) {
                            drained.addAndGet(n);
                        }
                    } catch (Exception ignored) {
                        // closed at the end
                    }
                });
                Stream stream = table.register("c1", "svc");
                stream.start(local);

                // act as the peer: send exactly the credit granted, collect WINDOWs, for 24 MiB
                long credit = W;
                long granted = 0;
                long total = 24L << 20;
                long sentBytes = 0;
                long seq = 0;
                while (sentBytes < total) {
                    while (credit >= CHUNK && sentBytes < total) {
                        table.dispatch(new Frame.Data("c1", seq++, new byte[CHUNK]));
                        credit -= CHUNK;
                        sentBytes += CHUNK;
                    }
                    if (sentBytes >= total) {
                        break;
                    }
                    Frame f = sent.poll(10, TimeUnit.SECONDS);
                    assertNotNull(f, "a WINDOW while the local side reads (sent " + sentBytes + ")");
                    Frame.Window w = (Frame.Window) f;
                    credit += w.increment();
                    granted += w.increment();
                }
                assertTrue(granted + W > sentBytes, "credit beyond what was sent: the window grew");
                assertEquals(BinaryCodec.MAX_WINDOW, stream.receiveWindow(), "doubled up to the maximum, not past it");
                assertEquals(0, flowControlResets.sum(), "the peer used the grown window legally");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (drained.get() < total && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertEquals(total, drained.get(), "every byte reached the local side");
                assertEquals(BinaryCodec.MAX_WINDOW - W, table.account().growth(), "growth charged to the tenant");
                assertEquals(memory.growthPool() - (BinaryCodec.MAX_WINDOW - W), memory.growthLeft(),
                             "growth taken from the budget");
                table.closeAll(ResetReason.RESET);
                assertEquals(0, table.account().growth(), "growth returned at close");
                assertEquals(memory.growthPool(), memory.growthLeft(), "growth back in the pool");
            }
            sinkThread.join(5000);
        }
    }
}
