package io.nowconnect;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.config.Config;

import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;
import io.nowconnect.config.LogSettings;
import io.nowconnect.demo.Demo;
import io.nowconnect.hub.Hub;
import io.nowconnect.hub.auth.TokenCommand;
import io.nowconnect.log.Logging;

import sun.misc.Signal;

/** The modes besides the agent, and the stop-signal handling they share. */
final class Modes {
    private static final Logger LOGGER = Logger.getLogger(Modes.class.getName());

    private Modes() {
    }

    static int hub(List<String> args, Config config, PrintStream err) {
        if (!args.isEmpty()) {
            err.println("nowconnect: unexpected arguments for hub mode: " + args);
            return 2;
        }
        HubConfig hubConfig = HubConfig.create(config);
        Logging.configure(hubConfig.log());
        Hub hub = Hub.start(hubConfig);
        CountDownLatch stopped = new CountDownLatch(1);
        // graceful: listeners first, open streams finish (NC_HUB_DRAIN_TIMEOUT_SEC) while agents stay, then the tunnels
        onStopSignal(() -> {
            hub.stop(hubConfig.drainTimeout());
            stopped.countDown();
        });
        awaitQuietly(stopped);
        return 0;
    }

    static int demo(List<String> args, Map<String, String> vars, PrintStream out, PrintStream err) {
        if (!args.isEmpty()) {
            err.println("nowconnect: unexpected arguments for demo mode: " + args);
            return 2;
        }
        LogSettings log = LogSettings.create(ConfigLoader.fromMaps(vars, Map.of()));
        Demo.validate(vars);
        Logging.configure(log);
        Demo demo = Demo.start(vars, out);
        CountDownLatch stopped = new CountDownLatch(1);
        onStopSignal(() -> {
            demo.close();
            stopped.countDown();
        });
        awaitQuietly(stopped);
        return 0;
    }

    static int token(List<String> args, PrintStream out, PrintStream err) {
        // every failure of the token mode is the user's input (options, the secret file): exit 2
        return TokenCommand.run(args.toArray(String[]::new), out, err);
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
                        // not a daemon (the signal's thread is one, and so would be this thread): when the main
                        // thread returns as the agent stops, the JVM must still wait for this stop to finish and log
                        // its last line ("stopped") before System.exit
                        Thread.ofPlatform().name("nc-stop").daemon(false).start(() -> {
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
                // no such signal on this platform, or it is ignored (SIGINT in a background job): the JVM's default stays
                LOGGER.log(Level.FINE, "Cannot handle SIG" + name + ": " + e.getMessage());
            }
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
