package io.nowconnect.hub.auth;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.Gauge;
import io.helidon.metrics.api.Meter;
import io.helidon.metrics.api.MeterRegistry;
import io.helidon.metrics.api.Tag;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.Http1ClientResponse;

import io.nowconnect.log.Event;

/**
 * The identity provider's keys, fetched from its JWKS URL ({@code NC_HUB_JWKS_URL}) and kept fresh: fetched at start,
 * again when the answer's {@code Cache-Control: max-age} runs out (held between {@code NC_HUB_JWKS_MIN_REFRESH_SEC}
 * and a day; five minutes without one), and early when a token names a key id the set lacks (a provider that rotated),
 * at most once per {@code NC_HUB_JWKS_MIN_REFRESH_SEC}. A fetch that fails keeps the last good set (retried with
 * back-off up to a minute) and says so: {@link #status()} for {@code /readyz}, {@code nowconnect_hub_jwks_age_seconds}
 * and {@code nowconnect_hub_jwks_fetches_total{result}} for metrics. Until a first set arrives the source holds no key
 * and the hub accepts no agent.
 *
 * <p>Threads: one virtual thread fetches (named {@code nc-hub-jwks}); {@link #keys()} reads a volatile set from any
 * thread; {@link #refreshFor} may wait, on the caller's thread, up to the fetch timeout for a fetch it asked for. One
 * lock guards the schedule.
 */
public final class UrlKeySource implements KeySource, AutoCloseable {
    /** The variable of the URL. */
    public static final String URL_VAR = "NC_HUB_JWKS_URL";
    /** The largest JWKS document read. */
    static final int MAX_DOCUMENT = 1 << 20;
    static final Duration DEFAULT_MAX_AGE = Duration.ofMinutes(5);
    static final Duration LONGEST_MAX_AGE = Duration.ofDays(1);
    static final Duration LONGEST_RETRY = Duration.ofMinutes(1);
    private static final Logger LOGGER = Logger.getLogger(UrlKeySource.class.getName());
    private static final Pattern MAX_AGE = Pattern.compile("(?i)(?:^|[,\\s])max-age\\s*=\\s*\"?(\\d{1,10})");

    private final URI url;
    private final Http1Client client;
    private final Duration minRefresh;
    private final Duration timeout;
    private final MeterRegistry registry;
    private final List<Meter> meters;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final Condition fetched = lock.newCondition();
    private final Thread fetcher;
    private volatile KeySet keys = KeySet.EMPTY;
    private volatile long lastGoodNanos;
    private volatile boolean everFetched;
    private volatile String lastError = "not fetched yet";
    // guarded by lock
    private long nextFetchNanos;
    private long lastAttemptNanos;
    private long attempts;
    private boolean closed;

    private UrlKeySource(URI url, Optional<Path> caBundle, Duration minRefresh, Duration timeout, MeterRegistry registry) {
        this.url = url;
        this.client = ProviderHttp.client(caBundle, timeout);
        this.minRefresh = minRefresh;
        this.timeout = timeout;
        this.registry = registry;
        this.meters = List.of(
                registry.getOrCreate(Gauge.builder("nowconnect_hub_jwks_age_seconds", this,
                                                   s -> s.everFetched ? (System.nanoTime() - s.lastGoodNanos) / 1e9 : -1)
                                             .description("Seconds since the JWKS was last fetched (-1: never)")),
                registry.getOrCreate(Gauge.builder("nowconnect_hub_jwks_keys", this, s -> (double) s.keys.size())
                                             .description("Keys in the JWKS fetched from NC_HUB_JWKS_URL")));
        this.fetcher = Thread.ofVirtual().name("nc-hub-jwks").unstarted(this::run);
    }

    /**
     * Start fetching; the first fetch runs at once in the background.
     *
     * @param url the JWKS URL
     * @param caBundle PEM CAs trusted for it, if any
     * @param minRefresh shortest time between two fetches ({@code NC_HUB_JWKS_MIN_REFRESH_SEC})
     * @param timeout deadline of one fetch
     * @param registry where its meters go
     * @return the running source
     */
    public static UrlKeySource start(URI url, Optional<Path> caBundle, Duration minRefresh, Duration timeout,
                                     MeterRegistry registry) {
        UrlKeySource source = new UrlKeySource(url, caBundle, minRefresh, timeout, registry);
        source.fetcher.start();
        return source;
    }

    @Override
    public KeySet keys() {
        return keys;
    }

    /**
     * A token names a key id the set lacks: fetch again unless a fetch was tried within
     * {@code NC_HUB_JWKS_MIN_REFRESH_SEC}, and wait up to the fetch timeout for it.
     *
     * @param kid the unknown key id
     * @return the keys after the fetch (or the current ones when none was due)
     */
    @Override
    public KeySet refreshFor(String kid) {
        if (keys.kids().contains(kid)) {
            return keys;
        }
        long deadline = System.nanoTime() + timeout.toNanos() + 1_000_000_000L;
        lock.lock();
        try {
            long now = System.nanoTime();
            if (closed || (attempts > 0 && now - lastAttemptNanos < minRefresh.toNanos())) {
                return keys;
            }
            long seen = attempts;
            nextFetchNanos = now;
            wake.signal();
            while (attempts == seen && !closed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                fetched.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
        return keys;
    }

    /**
     * What {@code /readyz} says of the keys.
     *
     * @return status
     */
    public Status status() {
        return new Status(everFetched, everFetched ? Duration.ofNanos(System.nanoTime() - lastGoodNanos) : Duration.ZERO,
                          keys.size(), everFetched && lastError == null ? Optional.empty() : Optional.ofNullable(lastError));
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            wake.signal();
            fetched.signalAll();
        } finally {
            lock.unlock();
        }
        fetcher.interrupt();
        meters.forEach(registry::remove);
    }

    private void run() {
        Duration retry = minRefresh;
        while (true) {
            lock.lock();
            try {
                while (!closed && System.nanoTime() - nextFetchNanos < 0) {
                    wake.awaitNanos(nextFetchNanos - System.nanoTime());
                }
                if (closed) {
                    return;
                }
                lastAttemptNanos = System.nanoTime();
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            Duration next;
            try {
                next = fetch();
                retry = minRefresh;
            } catch (IOException | IllegalArgumentException e) {
                fail(e.getMessage());
                next = retry;
                retry = retry.multipliedBy(2).compareTo(LONGEST_RETRY) > 0 ? LONGEST_RETRY : retry.multipliedBy(2);
            }
            lock.lock();
            try {
                attempts++;
                nextFetchNanos = System.nanoTime() + next.toNanos();
                fetched.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** One fetch; returns when the next is due. */
    private Duration fetch() throws IOException {
        String body;
        Optional<String> cacheControl;
        try (Http1ClientResponse res = client.get().uri(url).header(HeaderValues.ACCEPT_JSON).request()) {
            byte[] bytes = ProviderHttp.readAtMost(res.inputStream(), MAX_DOCUMENT, "the JWKS URL");
            if (res.status().code() != 200) {
                throw new IOException("HTTP " + res.status().code());
            }
            body = new String(bytes, StandardCharsets.UTF_8);
            cacheControl = res.headers().first(HeaderNames.CACHE_CONTROL);
        } catch (RuntimeException e) {
            throw new IOException("no answer (" + ProviderHttp.cause(e) + ")", e);
        }
        List<VerificationKey> read = KeyFiles.jwks(URL_VAR, url, body);
        if (read.isEmpty()) {
            throw new IllegalArgumentException(URL_VAR + ": " + url + " holds no usable signing key");
        }
        KeySet before = keys;
        KeySet after = KeySet.of(read);
        keys = after;
        lastGoodNanos = System.nanoTime();
        boolean first = !everFetched;
        everFetched = true;
        lastError = null;
        counter("ok").increment();
        int added = after.missingFrom(before);
        int removed = before.missingFrom(after);
        Duration maxAge = maxAge(cacheControl);
        if (first || added > 0 || removed > 0) {
            Event.of("jwks_fetched").with("url", url.toString()).with("keys", after.size()).with("added", added)
                    .with("removed", removed).with("kids", String.join(",", after.kids()))
                    .with("max_age_sec", maxAge.toSeconds())
                    .log(LOGGER, Level.INFO, first ? "Identity provider keys fetched: agents' tokens verify with them"
                            : "Identity provider keys changed: tunnels admitted by a removed key get no new streams and "
                                    + "are closed");
        }
        return maxAge;
    }

    private void fail(String why) {
        lastError = why;
        counter("error").increment();
        Event.of("jwks_fetch_failed").with("url", url.toString()).with("error", why).with("keys", keys.size())
                .log(LOGGER, everFetched ? Level.WARNING : Level.SEVERE, everFetched
                        ? "Identity provider keys could not be fetched: keeping the last good set"
                        : "Identity provider keys could not be fetched: no agent is accepted until they are");
    }

    /** The answer's max-age, held between the shortest refresh and a day; five minutes without one. */
    Duration maxAge(Optional<String> cacheControl) {
        Duration age = DEFAULT_MAX_AGE;
        if (cacheControl.isPresent()) {
            Matcher m = MAX_AGE.matcher(cacheControl.get());
            if (m.find()) {
                age = Duration.ofSeconds(Long.parseLong(m.group(1)));
            } else if (cacheControl.get().toLowerCase(java.util.Locale.ROOT).contains("no-cache")
                    || cacheControl.get().toLowerCase(java.util.Locale.ROOT).contains("no-store")) {
                age = minRefresh;
            }
        }
        if (age.compareTo(minRefresh) < 0) {
            return minRefresh;
        }
        return age.compareTo(LONGEST_MAX_AGE) > 0 ? LONGEST_MAX_AGE : age;
    }

    private Counter counter(String result) {
        return registry.getOrCreate(Counter.builder("nowconnect_hub_jwks_fetches_total")
                                            .tags(List.of(Tag.create("result", result)))
                                            .description("Fetches of the identity provider's JWKS, by result"));
    }

    /**
     * The keys' freshness, for {@code /readyz}.
     *
     * @param fetched whether a set was ever fetched (without one the hub is not ready)
     * @param age time since the last good fetch
     * @param keys keys in the set
     * @param problem the last fetch's error, while the last fetch failed
     */
    public record Status(boolean fetched, Duration age, int keys, Optional<String> problem) {
    }
}
