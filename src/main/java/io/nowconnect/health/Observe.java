package io.nowconnect.health;

import io.helidon.health.HealthCheck;
import io.helidon.health.HealthCheckResponse;
import io.helidon.health.HealthCheckType;
import io.helidon.metrics.api.Metrics;
import io.helidon.webserver.observe.ObserveFeature;
import io.helidon.webserver.observe.health.HealthObserver;
import io.helidon.webserver.observe.metrics.MetricsObserver;

/**
 * Helidon's observe feature as the agent and the hub serve it: {@code /healthz} and {@code /metrics} at the root and
 * nothing else (no discovered observers, no {@code /observe} prefix).
 */
public final class Observe {
    private Observe() {
    }

    /**
     * The feature, with one liveness check.
     *
     * @param name the check's name in {@code /healthz} ({@code supervisor}, {@code hub})
     * @param check liveness check
     * @return observe feature to add to a server built with {@code featuresDiscoverServices(false)}
     */
    public static ObserveFeature feature(String name, HealthCheck check) {
        // a lambda's name() is its class name (Hub$$Lambda/0x...): give the check a real one
        HealthCheck liveness = new HealthCheck() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public HealthCheckType type() {
                return HealthCheckType.LIVENESS;
            }

            @Override
            public HealthCheckResponse call() {
                return check.call();
            }
        };
        return ObserveFeature.builder()
                .observersDiscoverServices(false)
                .endpoint("/")
                .addObserver(HealthObserver.builder()
                                     .endpoint("/healthz")
                                     // 200 with a JSON body, not Helidon's default 204: load balancers' health checks
                                     // often accept 200 only
                                     .details(true)
                                     .useSystemServices(false)
                                     .addCheck(liveness, HealthCheckType.LIVENESS)
                                     .build())
                // the registry the meters live in: without it, Helidon replaces the global registry
                .addObserver(MetricsObserver.builder().endpoint("/metrics").meterRegistry(Metrics.globalRegistry()).build())
                .build();
    }
}
