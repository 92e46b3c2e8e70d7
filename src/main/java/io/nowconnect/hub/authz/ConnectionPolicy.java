package io.nowconnect.hub.authz;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.MeterRegistry;
import io.helidon.metrics.api.Tag;
import io.helidon.metrics.api.Timer;

import io.nowconnect.config.PdpSettings;
import io.nowconnect.log.Event;

/**
 * The policy check of each client connection ({@code NC_HUB_PDP_URL}): a kept decision when one is fresh, else one
 * question to the PDP within {@code NC_HUB_PDP_TIMEOUT_MS}; identical questions asked at the same moment share one
 * request. A PDP that gives no usable answer refuses the client unless {@code NC_HUB_PDP_FAIL_OPEN=true}.
 *
 * <p>Counted in {@code nowconnect_hub_pdp_decisions_total{result=allow|deny|error|cache_hit}}; the PDP's round trips are
 * timed in {@code nowconnect_hub_pdp_request_seconds}.
 *
 * <p>Threads: {@link #check} blocks the calling thread (a client's own virtual thread) for at most the timeout; each
 * request to the PDP runs on a virtual thread of its own. What is in flight is bounded by the clients waiting, which
 * the listener's connection limits bound.
 */
public final class ConnectionPolicy {
    private static final Logger LOGGER = Logger.getLogger(ConnectionPolicy.class.getName());
    private static final Executor REQUESTS = command -> Thread.ofVirtual().name("nc-hub-pdp").start(command);

    private final AuthzenClient client;
    private final DecisionCache cache;
    private final Duration timeout;
    private final boolean failOpen;
    private final Clock clock;
    private final Map<AccessRequest, CompletableFuture<DecisionCache.Decision>> inFlight = new ConcurrentHashMap<>();
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final MeterRegistry registry;
    private final Timer roundTrips;

    private ConnectionPolicy(PdpSettings settings, MeterRegistry registry, Clock clock) {
        this.client = new AuthzenClient(settings.url(), settings.caBundle(), settings.timeout());
        this.cache = new DecisionCache(settings.cacheTtl().toNanos(), settings.cacheEntries());
        this.timeout = settings.timeout();
        this.failOpen = settings.failOpen();
        this.clock = clock;
        this.registry = registry;
        this.roundTrips = registry.getOrCreate(Timer.builder("nowconnect_hub_pdp_request_seconds")
                                                       .buckets(Duration.ofMillis(1), Duration.ofMillis(5),
                                                                Duration.ofMillis(25), Duration.ofMillis(100),
                                                                Duration.ofMillis(500), Duration.ofSeconds(2))
                                                       .percentiles(new double[0])
                                                       .description("Round trips to the policy decision point"));
        for (String result : List.of("allow", "deny", "error", "cache_hit")) {
            counter(result);
        }
    }

    /**
     * A policy check for the hub's client connections.
     *
     * @param settings the PDP settings
     * @param registry where its meters go
     * @return the check
     */
    public static ConnectionPolicy create(PdpSettings settings, MeterRegistry registry) {
        ConnectionPolicy policy = new ConnectionPolicy(settings, registry, Clock.systemUTC());
        REQUESTS.execute(() -> {
            try {
                int status = policy.client.discover();
                Event.of("pdp").with("url", settings.url().toString()).with("discovery_status", status)
                        .log(LOGGER, status == 200 ? Level.INFO : Level.WARNING, status == 200
                                ? "Client connections are decided by the policy decision point"
                                : "The policy decision point answers its AuthZEN discovery document with HTTP " + status);
            } catch (IOException e) {
                Event.of("pdp_unreachable").with("url", settings.url().toString()).with("error", e.getMessage())
                        .log(LOGGER, Level.WARNING, "The policy decision point does not answer: client connections are "
                                + (settings.failOpen() ? "allowed (NC_HUB_PDP_FAIL_OPEN)" : "refused") + " until it does");
            }
        });
        return policy;
    }

    /**
     * Decide whether a client may go on. Blocks for at most {@code NC_HUB_PDP_TIMEOUT_MS}.
     *
     * @param request what is asked
     * @return the verdict
     */
    public Verdict check(AccessRequest request) {
        long now = System.nanoTime();
        Optional<DecisionCache.Decision> kept = cache.get(request, now);
        if (kept.isPresent()) {
            counter("cache_hit").increment();
            return new Verdict(kept.get().allowed(), "cache_hit", kept.get().reason());
        }
        CompletableFuture<DecisionCache.Decision> mine = new CompletableFuture<>();
        CompletableFuture<DecisionCache.Decision> shared = inFlight.putIfAbsent(request, mine);
        if (shared == null) {
            shared = mine;
            String body = request.json(clock.instant());
            REQUESTS.execute(() -> {
                long t0 = System.nanoTime();
                try {
                    DecisionCache.Decision d = client.evaluate(body);
                    roundTrips.record(Duration.ofNanos(System.nanoTime() - t0));
                    cache.put(request, d, System.nanoTime());
                    mine.complete(d);
                } catch (IOException | RuntimeException e) {
                    mine.completeExceptionally(e);
                } finally {
                    inFlight.remove(request, mine);
                }
            });
        }
        try {
            DecisionCache.Decision d = shared.get(Math.max(1, timeout.toNanos() - (System.nanoTime() - now)),
                                                  TimeUnit.NANOSECONDS);
            String result = d.allowed() ? "allow" : "deny";
            counter(result).increment();
            return new Verdict(d.allowed(), result, d.reason());
        } catch (TimeoutException e) {
            return error("no decision within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            return error(e.getCause() == null ? "PDP error" : String.valueOf(e.getCause().getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error("interrupted");
        }
    }

    /**
     * Decisions kept now (bounded by {@code NC_HUB_PDP_CACHE_ENTRIES}).
     *
     * @return count
     */
    public int cachedDecisions() {
        return cache.size();
    }

    private Verdict error(String why) {
        counter("error").increment();
        return new Verdict(failOpen, "error", Optional.of(why));
    }

    private Counter counter(String result) {
        return counters.computeIfAbsent(result, r -> registry.getOrCreate(
                Counter.builder("nowconnect_hub_pdp_decisions_total").tags(List.of(Tag.create("result", r)))
                        .description("Policy decisions on client connections, by how they were reached")));
    }
}
