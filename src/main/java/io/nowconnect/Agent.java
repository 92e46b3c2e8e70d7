package io.nowconnect;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.metrics.api.Metrics;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigException;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.health.AgentMetrics;
import io.nowconnect.health.AgentStatusPage;
import io.nowconnect.health.HttpEndpoint;
import io.nowconnect.health.TcpHealthServer;
import io.nowconnect.log.Event;
import io.nowconnect.stream.MemoryBudget;
import io.nowconnect.stream.Shares;
import io.nowconnect.stream.StreamObserver;
import io.nowconnect.tunnel.AgentAccessLog;
import io.nowconnect.watch.FileWatch;
import io.nowconnect.tunnel.Pool;
import io.nowconnect.tunnel.TunnelStatus;

/**
 * A running premise agent: the TCP health port and the tunnel {@link Pool} (a supervisor per hub replica), wired
 * from one {@link AgentConfig}.
 * Used by the {@code agent} and {@code demo} modes and by tests.
 */
public final class Agent {
    private static final Logger LOGGER = Logger.getLogger(Agent.class.getName());

    private final AgentConfig config;
    private final TunnelStatus status;
    private final Pool pool;
    private final TcpHealthServer health;
    private final AgentMetrics metrics;
    private final HttpEndpoint http;
    private volatile AgentConfig running;
    private volatile FileWatch envWatch;

    private Agent(AgentConfig config, TunnelStatus status, Pool pool, TcpHealthServer health,
                  AgentMetrics metrics, HttpEndpoint http) {
        this.config = config;
        this.status = status;
        this.pool = pool;
        this.health = health;
        this.metrics = metrics;
        this.http = http;
        this.running = config;
    }

    /**
     * Start an agent: the health port first (so probes answer {@code OK} at once), then the tunnel.
     *
     * @param config validated configuration
     * @return the running agent
     * @throws ConfigException when the health port cannot be bound or TLS material is unusable
     */
    public static Agent start(AgentConfig config) {
        return start(config, StreamObserver.NONE);
    }

    /**
     * Start an agent that also reports stream events to another observer (tests, embedders).
     *
     * @param config validated configuration
     * @param observer extra stream observer, told after the metrics
     * @return the running agent
     */
    public static Agent start(AgentConfig config, StreamObserver observer) {
        TunnelStatus status = TunnelStatus.create(config.urls().stream().map(Object::toString)
                                                          .collect(java.util.stream.Collectors.joining(",")));
        MemoryBudget memory = MemoryBudget.create(config.memoryBudgetBytes());
        AgentMetrics metrics = AgentMetrics.create(Metrics.globalRegistry(), config.connectorNames(), status, memory);
        Pool pool;
        TcpHealthServer health;
        HttpEndpoint http = null;
        try {
            // one tunnel pool per URL, one tunnel per hub replica: READY while any tunnel is acknowledged
            StreamObserver streams = StreamObserver.both(metrics, observer);
            if (config.log().access()) {
                // NC_ACCESS_LOG: one line per stream at its end
                streams = StreamObserver.both(streams, new AgentAccessLog(config));
            }
            pool = Pool.create(config, Version.current(), status, Shares.of(memory), streams);
            health = TcpHealthServer.start(config.healthHost(), config.healthPort(), () -> status.snapshot().ready());
        } catch (IOException e) {
            metrics.close();
            throw new ConfigException(List.of("NC_HEALTH_HOST/NC_HEALTH_PORT: cannot listen on " + config.healthHost() + ":"
                                                      + config.healthPort() + " (" + e.getMessage() + ")"));
        } catch (RuntimeException e) {
            metrics.close();
            throw e;
        }
        if (config.httpPort().isPresent()) {
            try {
                AgentStatusPage page = new AgentStatusPage(config, status, metrics);
                http = HttpEndpoint.start(config.httpHost(), config.httpPort().get(), status, pool::isRunning, page::register);
            } catch (RuntimeException e) {
                health.close();
                metrics.close();
                throw e;
            }
        }
        if (config.tokenFile().isEmpty()) {
            Event.of("no_token").with("agent_id", config.agentId())
                    .log(LOGGER, Level.WARNING, "NC_TOKEN_FILE is not set: connecting without Authorization");
        }
        Event.of("starting").with("agent_id", config.agentId()).with("version", Version.current())
                .with("connectors", String.join(",", config.connectorNames())).with("health_port", health.port())
                .with("http_port", http == null ? null : http.port())
                .log(LOGGER, Level.INFO, "NowConnect agent starting");
        pool.start();
        return new Agent(config, status, pool, health, metrics, http);
    }

    /**
     * The agent's state tracker.
     *
     * @return status
     */
    public TunnelStatus status() {
        return status;
    }

    /**
     * Port of the TCP health server.
     *
     * @return port
     */
    public int healthPort() {
        return health.port();
    }

    /**
     * Watch the env file the agent was started with: a valid change of connectors, targets or tunnel settings moves to
     * a new tunnel gracefully (streams of removed connectors drain on the old one); an invalid change is logged with
     * every problem and changes nothing; variables that need a restart are named.
     *
     * @param envFile the env file
     * @param env the process environment (wins over the file, as at start)
     */
    public void watchEnvFile(Path envFile, Map<String, String> env) {
        try {
            envWatch = FileWatch.start(List.of(envFile), p -> reload(envFile, env),
                                                             Duration.ofMillis(200), Duration.ofSeconds(10));
        } catch (IOException e) {
            Event.of("config_watch_failed").log(LOGGER, Level.WARNING, "Cannot watch the env file " + envFile, e);
        }
    }

    private void reload(Path envFile, Map<String, String> env) {
        AgentConfig next;
        try {
            next = AgentConfig.create(ConfigLoader.load(env, Optional.of(envFile)));
        } catch (ConfigException e) {
            Event.of("config_invalid").with("agent_id", running.agentId())
                    .with("error", String.join("; ", e.problems()))
                    .log(LOGGER, Level.WARNING, "Env file " + envFile + " changed but is invalid; keeping the running "
                            + "configuration: " + String.join("; ", e.problems()));
            return;
        }
        AgentConfig current = running;
        List<String> restart = current.restartNeeded(next);
        if (!restart.isEmpty()) {
            Event.of("config_restart_needed").with("agent_id", current.agentId()).with("variables", String.join(",", restart))
                    .log(LOGGER, Level.WARNING, "Env file changed " + String.join(", ", restart)
                            + ": restart needed for these to take effect");
        }
        if (current.liveSettingsDiffer(next)) {
            AgentConfig effective = current.withLiveSettingsOf(next);
            running = effective;
            Event.of("config_changed").with("agent_id", current.agentId())
                    .with("connectors", String.join(",", effective.connectorNames()))
                    .log(LOGGER, Level.INFO, "Env file changed: moving to a new tunnel with the new settings");
            pool.reconfigure(effective);
        }
    }

    /**
     * Port of the HTTP endpoint, when {@code NC_HTTP_PORT} is set.
     *
     * @return port, or -1 when the endpoint is off
     */
    public int httpPort() {
        return http == null ? -1 : http.port();
    }

    /**
     * Drain and stop: DRAIN to the hub, open streams finish for up to {@code NC_DRAIN_TIMEOUT_SEC}, normal close.
     */
    public void stop() {
        stop(config.drainTimeout());
    }

    /**
     * Drain for at most the given time, then stop.
     *
     * @param drainTimeout longest wait for open streams
     */
    public void stop(Duration drainTimeout) {
        FileWatch w = envWatch;
        if (w != null) {
            w.close();
        }
        pool.shutdown(drainTimeout);
        health.close();
        if (http != null) {
            http.close();
        }
        metrics.close();
        Event.of("stopped").with("agent_id", config.agentId()).log(LOGGER, Level.INFO, "NowConnect agent stopped");
    }

    /**
     * Block until the agent stopped.
     */
    public void awaitStopped() {
        while (!pool.awaitStopped(Duration.ofDays(1))) {
            // keep waiting
        }
    }
}
