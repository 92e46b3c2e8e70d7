package io.nowconnect.mux;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One timer thread for every tunnel of the process: pings, deadlines, idle sweeps and drains are short, non-blocking
 * checks, so a hub with thousands of mostly idle tunnels needs no thread (and no stack) per tunnel for them. A
 * scheduled task costs a few dozen bytes; a cancelled one is removed from the queue at once. The timer is a virtual
 * thread, scheduled like the readers whose progress it judges. Locks: none of its own (the executor's queue).
 */
final class MuxTimer {
    private static final ScheduledThreadPoolExecutor TIMER = create();

    private MuxTimer() {
    }

    /**
     * Run a task at a fixed rate until it is cancelled. A task that throws is not run again.
     *
     * @param task non-blocking task
     * @param periodMillis period
     * @return handle to cancel it
     */
    static ScheduledFuture<?> schedule(Runnable task, long periodMillis) {
        return TIMER.scheduleAtFixedRate(task, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    private static ScheduledThreadPoolExecutor create() {
        // a virtual thread, like the tunnels' readers: when the carriers are saturated, a platform timer would run on
        // time while the reader that records the peer's pong waits for a carrier, and take a busy tunnel for a dead one
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, Thread.ofVirtual().name("nc-mux-timer")
                .factory());
        timer.setRemoveOnCancelPolicy(true);
        timer.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
        return timer;
    }
}
