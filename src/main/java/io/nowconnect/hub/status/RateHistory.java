package io.nowconnect.hub.status;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The recent byte rate of each connector for the status page's plots: one sample of the byte totals per period
 * ({@code NC_HUB_STATUS_SAMPLE_SEC}, 10 s by default) in a ring of {@link #POINTS} rates (15 minutes at 10 s) per
 * configured connector. Bounded: the
 * connectors are fixed at start (names outside them are ignored), each ring holds {@code POINTS + 1} totals.
 *
 * <p>Threads and lock: one daemon thread ({@code nc-hub-status}) samples; readers and the sampler share this object's
 * monitor, held only to copy a few hundred numbers.
 */
public final class RateHistory implements AutoCloseable {
    /** Time between two samples by default. */
    public static final Duration PERIOD = Duration.ofSeconds(10);
    /** Rates kept per connector: 15 minutes of the default period. */
    public static final int POINTS = 90;
    private static final Logger LOGGER = Logger.getLogger(RateHistory.class.getName());

    private final Map<String, Ring> rings = new LinkedHashMap<>();
    private final Duration period;
    private final ScheduledExecutorService timer;

    private RateHistory(List<String> connectors, Duration period, int points, boolean sampling) {
        for (String c : connectors) {
            rings.put(c, new Ring(points + 1));
        }
        this.period = period;
        this.timer = sampling ? Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon()
                                                                                    .name("nc-hub-status").factory())
                : null;
    }

    /**
     * Start sampling now and every period.
     *
     * @param connectors the configured connectors
     * @param totals bytes per connector since start
     * @param period time between two samples
     * @return running history ({@link #close()} stops its thread)
     */
    public static RateHistory start(List<String> connectors, Supplier<Map<String, Long>> totals, Duration period) {
        RateHistory h = new RateHistory(connectors, period, POINTS, true);
        h.timer.scheduleAtFixedRate(() -> {
            try {
                h.sample(totals.get(), System.nanoTime());
            } catch (RuntimeException e) {
                LOGGER.log(Level.WARNING, "Status page sample failed: " + e);
            }
        }, 0, period.toMillis(), TimeUnit.MILLISECONDS);
        return h;
    }

    /**
     * A history without a thread, fed by {@link #sample} (tests).
     *
     * @param connectors connectors
     * @param points rates kept per connector
     * @return history
     */
    static RateHistory manual(List<String> connectors, int points) {
        return new RateHistory(connectors, PERIOD, points, false);
    }

    /**
     * Record the totals at a moment.
     *
     * @param totals bytes per connector since start
     * @param nanos {@link System#nanoTime()} of the reading
     */
    synchronized void sample(Map<String, Long> totals, long nanos) {
        rings.forEach((c, ring) -> ring.add(totals.getOrDefault(c, 0L), nanos));
    }

    /**
     * Bytes per second in each sample period, oldest first.
     *
     * @param connector connector
     * @return rates (empty before the second sample or for an unknown connector)
     */
    public synchronized List<Double> rates(String connector) {
        Ring ring = rings.get(connector);
        return ring == null ? List.of() : ring.rates();
    }

    /**
     * Time between two samples.
     *
     * @return period
     */
    public Duration period() {
        return period;
    }

    @Override
    public void close() {
        if (timer != null) {
            timer.shutdownNow();
        }
    }

    /** Totals and their times, oldest overwritten first. */
    private static final class Ring {
        private final long[] totals;
        private final long[] nanos;
        private int count;
        private int next;

        Ring(int size) {
            totals = new long[size];
            nanos = new long[size];
        }

        void add(long total, long at) {
            totals[next] = total;
            nanos[next] = at;
            next = (next + 1) % totals.length;
            count = Math.min(count + 1, totals.length);
        }

        List<Double> rates() {
            List<Double> out = new ArrayList<>(Math.max(0, count - 1));
            int first = (next - count + totals.length) % totals.length;
            for (int i = 1; i < count; i++) {
                int a = (first + i - 1) % totals.length;
                int b = (first + i) % totals.length;
                double seconds = Math.max(1, nanos[b] - nanos[a]) / 1e9;
                // a counter never goes down; if the JVM's shared counters were reset, show 0, not a negative rate
                out.add(Math.max(0, totals[b] - totals[a]) / seconds);
            }
            return out;
        }
    }
}
