package io.nowconnect.health;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

import io.helidon.health.HealthCheck;
import io.helidon.health.HealthCheckResponse;
import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.Status;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.spi.ServerConnectionSelector;

/**
 * The health paths of one listener ({@code /healthz}, {@code /readyz}, ...) and their answers, written once and served
 * twice: over HTTP/1.1 by Helidon's routing ({@link #route}) and over HTTP/1.0, which Helidon 4.2.0 refuses with 505, by
 * {@link #http10} (see {@link Http10Selector}). Both call the same {@link Handler}, so a balancer's HTTP/1.0 check and a
 * Kubernetes probe can never disagree.
 *
 * <p>Built before the server starts, read-only afterwards: thread-safe once built.
 */
public final class Probes {
    private final Map<String, Handler> paths = new LinkedHashMap<>();

    private Probes() {
    }

    /**
     * An empty set of paths.
     *
     * @return probes to add paths to
     */
    public static Probes create() {
        return new Probes();
    }

    /**
     * Serve a path.
     *
     * @param path exact path, for example {@code /readyz}
     * @param handler its answer, from the query parameters
     * @return this
     */
    public Probes add(String path, Handler handler) {
        paths.put(path, handler);
        return this;
    }

    /**
     * Register every path as a {@code GET} route.
     *
     * @param routing the listener's routing
     */
    public void route(HttpRouting.Builder routing) {
        paths.forEach((path, handler) -> routing.route(Method.GET, path, (req, res) ->
                send(handler.answer(name -> req.query().first(name).asOptional()), res)));
    }

    /**
     * Wrap the listener's HTTP/1 selector so that HTTP/1.0 requests get these paths too.
     *
     * @param http1 Helidon's HTTP/1.1 selector (with its upgraders)
     * @param requestDeadline how long a connection may take to send its request line (and, on HTTP/1.0, its headers);
     *                        zero when the caller puts a deadline on the whole connection already
     * @return the selector to register instead of {@code http1}
     */
    public ServerConnectionSelector http10(ServerConnectionSelector http1, Duration requestDeadline) {
        return new Http10Selector(http1, this, requestDeadline);
    }

    /**
     * The answer for a path.
     *
     * @param path request path
     * @param query query parameter by name
     * @return answer, empty for a path not served
     */
    Optional<Answer> answer(String path, Function<String, Optional<String>> query) {
        Handler h = paths.get(path);
        return h == null ? Optional.empty() : Optional.of(h.answer(query));
    }

    /**
     * A liveness answer from a health check, in the shape of Helidon's health observer:
     * {@code {"status":"UP","checks":[{"name":"hub","status":"UP","data":{...}}]}}; 503 with {@code DOWN}.
     *
     * @param name the check's name
     * @param check the check
     * @param details false: {@code {"status":"UP"}} alone (for a port that must tell strangers nothing)
     * @return handler
     */
    public static Handler liveness(String name, HealthCheck check, boolean details) {
        return query -> {
            HealthCheckResponse r = check.call();
            boolean up = r.status() == HealthCheckResponse.Status.UP;
            StringBuilder sb = new StringBuilder(96).append("{\"status\":\"").append(up ? "UP" : "DOWN").append('"');
            if (details) {
                sb.append(",\"checks\":[{\"name\":");
                Json.string(sb, name);
                sb.append(",\"status\":\"").append(r.status().name()).append('"');
                if (!r.details().isEmpty()) {
                    sb.append(",\"data\":{");
                    boolean first = true;
                    for (Map.Entry<String, Object> e : r.details().entrySet()) {
                        sb.append(first ? "" : ",");
                        Json.string(sb, e.getKey());
                        sb.append(':');
                        Json.string(sb, String.valueOf(e.getValue()));
                        first = false;
                    }
                    sb.append('}');
                }
                sb.append("}]");
            }
            return new Answer(up ? 200 : 503, sb.append('}').toString());
        };
    }

    private static void send(Answer a, ServerResponse res) {
        res.status(Status.create(a.status()))
                .header(HeaderNames.CONTENT_TYPE, "application/json")
                .header(HeaderNames.CACHE_CONTROL, "no-store")
                .send(a.body());
    }

    /** Computes one path's answer; called on the request's thread, for HTTP/1.1 and HTTP/1.0 alike. */
    @FunctionalInterface
    public interface Handler {
        /**
         * The answer now.
         *
         * @param query query parameter by name (first value)
         * @return status and JSON body
         */
        Answer answer(Function<String, Optional<String>> query);
    }

    /**
     * A status and a JSON body.
     *
     * @param status HTTP status code
     * @param body JSON text
     */
    public record Answer(int status, String body) {
    }

    /** JSON string quoting for the answers' few strings. */
    static final class Json {
        private Json() {
        }

        static void string(StringBuilder sb, String v) {
            sb.append('"');
            for (int i = 0; i < v.length(); i++) {
                char c = v.charAt(i);
                if (c == '"' || c == '\\') {
                    sb.append('\\').append(c);
                } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029) {
                    sb.append(String.format("\\u%04x", (int) c));
                } else {
                    sb.append(c);
                }
            }
            sb.append('"');
        }
    }
}
