package io.nowconnect;

import java.io.PrintStream;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.config.Config;

import sun.misc.Signal;

/** The modes besides the agent, and the stop-signal handling they share. */
final class Modes {
    private static final Logger LOGGER = Logger.getLogger(Modes.class.getName());

    private Modes() {
    }

    static int hub(List<String> args, Config config, PrintStream err) {
        err.println("nowconnect: hub mode is not available yet");
        return 2;
    }

    static int demo(List<String> args, Config config, PrintStream out, PrintStream err) {
        err.println("nowconnect: demo mode is not available yet");
        return 2;
    }

    static int token(List<String> args, PrintStream out, PrintStream err) {
        err.println("nowconnect: token mode is not available yet");
        return 2;
    }

    /**
     * On SIGTERM or SIGINT (Ctrl-C, also what NSSM sends on stop): run the graceful stop once, then exit 0.
     *
     * @param stop graceful stop, returns when done
     */
    static void onStopSignal(Runnable stop) {
        for (String name : List.of("TERM", "INT")) {
            try {
                Signal.handle(new Signal(name), sig -> {
                    if (Main.STOPPING.compareAndSet(false, true)) {
                        Thread.ofPlatform().name("nc-stop").start(() -> {
                            try {
                                stop.run();
                            } catch (RuntimeException e) {
                                LOGGER.log(Level.WARNING, "Error while stopping", e);
                            }
                            System.exit(0);
                        });
                    }
                });
            } catch (IllegalArgumentException e) {
                // this platform has no such signal
            }
        }
    }
}
