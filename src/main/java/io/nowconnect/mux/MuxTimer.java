package io.nowconnect.mux;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One timer thread for every tunnel of the process: pings, deadlines, idle sweeps and drains are short, non-blocking
 * checks, so a hub with thousands of mostly idle tunnels needs no thread (and no stack) per tunnel for them. A
 * scheduled task costs a few dozen bytes; a cancelled one is removed from the queue at once.
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
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "nc-mux-timer");
            t.setDaemon(true);
            return t;
        });
        timer.setRemoveOnCancelPolicy(true);
        timer.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
        return timer;
    }
}
