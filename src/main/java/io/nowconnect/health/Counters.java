package io.nowconnect.health;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.MeterRegistry;
import io.helidon.metrics.api.Tag;

import io.nowconnect.protocol.Direction;
import io.nowconnect.stream.WireEvent;

/**
 * Labelled counters of one agent or hub, created on first use and looked up cheaply after that: the byte counters
 * are bumped for every DATA frame, so their lookup builds no strings. Thread-safe.
 */
public final class Counters {
    private final MeterRegistry registry;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, Counter[]> bytes = new ConcurrentHashMap<>();
    private final String bytesName;
    private final Counter[] wire = new Counter[WireEvent.values().length];

    /**
     * Counters registered with a registry.
     *
     * @param registry where the counters live
     * @param bytesName name of the byte counter family (labels {@code connector}, {@code direction})
     */
    public Counters(MeterRegistry registry, String bytesName) {
        this.registry = registry;
        this.bytesName = bytesName;
    }

    /**
     * The counter of a name and label pairs.
     *
     * @param name meter name
     * @param labels label name, value, name, value, ...
     * @return counter
     */
    public Counter counter(String name, String... labels) {
        String key = name + '\u0000' + String.join("\u0000", labels);
        return counters.computeIfAbsent(key, k -> {
            List<Tag> tags = new ArrayList<>();
            for (int i = 0; i < labels.length; i += 2) {
                tags.add(Tag.create(labels[i], labels[i + 1]));
            }
            return registry.getOrCreate(Counter.builder(name).tags(tags));
        });
    }

    /**
     * Count bytes of a connector in a direction.
     *
     * @param connector connector label
     * @param direction direction
     * @param n bytes
     */
    public void bytes(String connector, Direction direction, int n) {
        Counter[] byDirection = bytes.computeIfAbsent(connector, c -> new Counter[Direction.values().length]);
        Counter c = byDirection[direction.ordinal()];
        if (c == null) {
            // a race here only looks the same counter up twice
            c = counter(bytesName, "connector", connector, "direction", direction.wire());
            byDirection[direction.ordinal()] = c;
        }
        c.increment(n);
    }

    /**
     * Count a wire event in the family {@code name} (label {@code kind}); the lookup builds no strings.
     *
     * @param name counter family, e.g. {@code nowconnect_wire_frames_total}
     * @param event what happened
     */
    public void wire(String name, WireEvent event) {
        Counter c = wire[event.ordinal()];
        if (c == null) {
            // a race here only looks the same counter up twice
            c = counter(name, "kind", event.label());
            wire[event.ordinal()] = c;
        }
        c.increment();
    }

    /** Remove every counter made here from the registry (tests and embedders run several in one JVM). */
    public void removeAll() {
        counters.values().forEach(registry::remove);
        counters.clear();
        bytes.clear();
        Arrays.fill(wire, null);
    }
}
