package io.nowconnect.stream;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

import io.nowconnect.protocol.Direction;

/**
 * Process-wide counters of how stream frames travel, one set for the agent side and one for the hub side (a test
 * JVM runs both): DATA frames by encoding (binary {@code bin1} or JSON), WINDOW frames, waits for credit and
 * flow-control resets. For diagnostics and tests; cheap enough for the hot path ({@link LongAdder}).
 */
public final class WireStats {
    private static final WireStats AGENT = new WireStats();
    private static final WireStats HUB = new WireStats();

    final LongAdder binaryDataSent = new LongAdder();
    final LongAdder binaryDataReceived = new LongAdder();
    final LongAdder jsonDataSent = new LongAdder();
    final LongAdder jsonDataReceived = new LongAdder();
    final LongAdder windowSent = new LongAdder();
    final LongAdder windowReceived = new LongAdder();
    final LongAdder creditWaits = new LongAdder();
    final LongAdder flowControlResets = new LongAdder();

    private WireStats() {
    }

    /**
     * Counters of one side.
     *
     * @param outbound the side's outbound direction: {@code a2c} for agents, {@code c2a} for hubs
     * @return the side's counters
     */
    public static WireStats of(Direction outbound) {
        return outbound == Direction.A2C ? AGENT : HUB;
    }

    /**
     * Count a DATA or WINDOW frame sent.
     *
     * @param binary whether it went as a binary message
     * @param window whether it was a WINDOW (else DATA)
     */
    public void sent(boolean binary, boolean window) {
        (window ? windowSent : binary ? binaryDataSent : jsonDataSent).increment();
    }

    /**
     * Count a DATA or WINDOW frame received.
     *
     * @param binary whether it came as a binary message
     * @param window whether it was a WINDOW (else DATA)
     */
    public void received(boolean binary, boolean window) {
        (window ? windowReceived : binary ? binaryDataReceived : jsonDataReceived).increment();
    }

    /**
     * All counters by name, e.g. {@code binary_data_sent}.
     *
     * @return snapshot
     */
    public Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("binary_data_sent", binaryDataSent.sum());
        m.put("binary_data_received", binaryDataReceived.sum());
        m.put("json_data_sent", jsonDataSent.sum());
        m.put("json_data_received", jsonDataReceived.sum());
        m.put("window_sent", windowSent.sum());
        m.put("window_received", windowReceived.sum());
        m.put("credit_waits", creditWaits.sum());
        m.put("flow_control_resets", flowControlResets.sum());
        return m;
    }

    /**
     * One counter of {@link #snapshot()}.
     *
     * @param name counter name
     * @return its value
     */
    public long get(String name) {
        Long v = snapshot().get(name);
        if (v == null) {
            throw new IllegalArgumentException("no counter " + name);
        }
        return v;
    }
}
