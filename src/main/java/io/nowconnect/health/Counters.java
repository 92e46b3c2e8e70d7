package io.nowconnect.health;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;

import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.FunctionalCounter;
import io.helidon.metrics.api.Meter;
import io.helidon.metrics.api.MeterRegistry;
import io.helidon.metrics.api.Tag;

import io.nowconnect.protocol.Direction;
import io.nowconnect.stream.WireEvent;

/**
 * Labelled counters of one agent or hub, created on first use and looked up cheaply after that. The byte and wire
 * counters are bumped for every frame, so their lookup builds no strings and they count in a {@link LongAdder} that
 * the registry reads when scraped (a {@link FunctionalCounter}), not through a registry counter per increment, which
 * was a tenth of the CPU of a small-request load. Thread-safe.
 */
public final class Counters {
    private final MeterRegistry registry;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, LongAdder[]> bytes = new ConcurrentHashMap<>();
    private final String bytesName;
    private final LongAdder[] wire = new LongAdder[WireEvent.values().length];
    /** Adders of functional counters by meter (name and labels), one per JVM like the registry's meters. */
    private static final Map<String, Shared> SHARED = new ConcurrentHashMap<>();
    /** Keys in {@link #SHARED} this instance used, removed by {@link #removeAll}. */
    private final List<String> adders = new CopyOnWriteArrayList<>();

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
        return counters.computeIfAbsent(key(name, labels), k -> registry.getOrCreate(Counter.builder(name)
                                                                                         .tags(tags(labels))));
    }

    /**
     * Count bytes of a connector in a direction.
     *
     * @param connector connector label
     * @param direction direction
     * @param n bytes
     */
    public void bytes(String connector, Direction direction, int n) {
        LongAdder[] byDirection = bytes.computeIfAbsent(connector, c -> new LongAdder[Direction.values().length]);
        LongAdder a = byDirection[direction.ordinal()];
        if (a == null) {
            a = adder(byDirection, direction.ordinal(), bytesName, "connector", connector, "direction", direction.wire());
        }
        a.add(n);
    }

    /**
     * Bytes counted for a connector, both directions (what the byte counters of this JVM hold).
     *
     * @param connector connector label
     * @return bytes
     */
    public long bytesTotal(String connector) {
        LongAdder[] byDirection = bytes.get(connector);
        long sum = 0;
        if (byDirection != null) {
            for (LongAdder a : byDirection) {
                sum += a == null ? 0 : a.sum();
            }
        }
        return sum;
    }

    /**
     * Count a wire event in the family {@code name} (label {@code kind}); the lookup builds no strings.
     *
     * @param name counter family, e.g. {@code nowconnect_wire_frames_total}
     * @param event what happened
     */
    public void wire(String name, WireEvent event) {
        LongAdder a = wire[event.ordinal()];
        if (a == null) {
            a = adder(wire, event.ordinal(), name, "kind", event.label());
        }
        a.increment();
    }

    /**
     * The adder of a slot, registered as a functional counter on first use. Adders are shared per meter (name and
     * labels) within the JVM, like registry counters: two agents or hubs in one JVM (tests, embedders) count into the
     * same meter, since the registry keeps the first functional counter registered under a name.
     */
    private LongAdder adder(LongAdder[] slots, int slot, String name, String... labels) {
        synchronized (slots) {
            LongAdder a = slots[slot];
            if (a == null) {
                String key = key(name, labels);
                a = SHARED.computeIfAbsent(key, k -> {
                    LongAdder shared = new LongAdder();
                    return new Shared(shared, registry.getOrCreate(FunctionalCounter.builder(name, shared, LongAdder::sum)
                                                                          .tags(tags(labels))));
                }).adder();
                adders.add(key);
                slots[slot] = a;
            }
            return a;
        }
    }

    /** Remove every counter made here from the registry (tests and embedders run several in one JVM). */
    public void removeAll() {
        counters.values().forEach(registry::remove);
        counters.clear();
        for (String key : adders) {
            Shared shared = SHARED.remove(key);
            if (shared != null) {
                registry.remove(shared.meter());
            }
        }
        adders.clear();
        bytes.clear();
        synchronized (wire) {
            Arrays.fill(wire, null);
        }
    }

    /** A meter's key: its name and label pairs. */
    private static String key(String name, String... labels) {
        return name + '\u0000' + String.join("\u0000", labels);
    }

    /** Tags from label name, value, name, value, ... */
    private static List<Tag> tags(String... labels) {
        List<Tag> tags = new ArrayList<>();
        for (int i = 0; i < labels.length; i += 2) {
            tags.add(Tag.create(labels[i], labels[i + 1]));
        }
        return tags;
    }

    /** A functional counter and the adder it reads. */
    private record Shared(LongAdder adder, Meter meter) {
    }
}
