package io.nowconnect.testkit;

import java.io.File;
import java.lang.management.ManagementFactory;

/**
 * What this JVM holds now, for the tests that check a bound: heap in use after a full collection, open file
 * descriptors, platform threads (virtual threads: {@link ThreadCensus}).
 *
 * <p>Threads: stateless, callable from any thread.
 */
public final class Gauges {
    private Gauges() {
    }

    /**
     * Heap in use after a full collection (a few rounds, so soft garbage and finalizable objects go).
     *
     * @return bytes
     */
    public static long heapUsedAfterGc() {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(30);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    /**
     * Open file descriptors of this JVM.
     *
     * @return count, -1 where /proc is missing
     */
    public static int fdCount() {
        String[] names = new File("/proc/self/fd").list();
        return names == null ? -1 : names.length;
    }

    /**
     * Open file descriptors of another process.
     *
     * @param pid process id
     * @return count, -1 when unknown
     */
    public static int fdCount(long pid) {
        String[] names = new File("/proc/" + pid + "/fd").list();
        return names == null ? -1 : names.length;
    }

    /**
     * Live platform threads of this JVM.
     *
     * @return count
     */
    public static int platformThreads() {
        return ManagementFactory.getThreadMXBean().getThreadCount();
    }
}
