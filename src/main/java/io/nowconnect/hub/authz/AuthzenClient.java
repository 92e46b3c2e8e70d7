package io.nowconnect.hub.authz;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import io.helidon.http.HeaderValues;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.Http1ClientResponse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.nowconnect.hub.auth.ProviderHttp;

/**
 * One AuthZEN evaluation over HTTP: {@code POST {url}/access/v1/evaluation} with the request's JSON, the answer's
 * {@code decision} (a boolean) and its reason when the PDP gives one ({@code context.reason_admin}, {@code
 * context.reason_user} or {@code context.reason}). Anything else (a status other than 200, a body that is not such
 * JSON, more than {@link #MAX_RESPONSE} bytes, no answer within the timeout) is an error, never an allow.
 *
 * <p>Threads: any; Helidon's client keeps a small pool of kept-alive connections to the PDP.
 */
final class AuthzenClient {
    /** The largest answer read from a PDP: a decision is a few dozen bytes. */
    static final int MAX_RESPONSE = 64 * 1024;
    private static final int MAX_REASON = 200;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Http1Client client;
    private final URI evaluation;
    private final URI discovery;

    AuthzenClient(URI base, Optional<Path> caBundle, Duration timeout) {
        this.evaluation = URI.create(base + "/access/v1/evaluation");
        this.discovery = URI.create(base + "/.well-known/authzen-configuration");
        this.client = ProviderHttp.client(caBundle, timeout);
    }

    /**
     * Ask the PDP.
     *
     * @param body the AuthZEN request's JSON
     * @return its decision
     * @throws IOException when it gave no usable answer (the message says why, without the body)
     */
    DecisionCache.Decision evaluate(String body) throws IOException {
        try (Http1ClientResponse res = client.post().uri(evaluation)
                .header(HeaderValues.CONTENT_TYPE_JSON)
                .header(HeaderValues.ACCEPT_JSON)
                .submit(body.getBytes(StandardCharsets.UTF_8))) {
            int status = res.status().code();
            byte[] answer = readAtMost(res.inputStream());
            if (status != 200) {
                throw new IOException("the PDP answered HTTP " + status);
            }
            JsonNode json;
            try {
                json = JSON.readTree(answer);
            } catch (IOException e) {
                throw new IOException("the PDP's answer is not JSON");
            }
            JsonNode decision = json == null ? null : json.get("decision");
            if (decision == null || !decision.isBoolean()) {
                throw new IOException("the PDP's answer has no boolean \"decision\"");
            }
            return new DecisionCache.Decision(decision.booleanValue(), reason(json.get("context")));
        } catch (RuntimeException e) {
            // Helidon's client throws unchecked exceptions for connect failures and timeouts
            throw new IOException("no answer from the PDP (" + ProviderHttp.cause(e) + ")", e);
        }
    }

    /**
     * Read the PDP's AuthZEN discovery document once: opens a kept-alive connection (and loads the client's classes)
     * before the first client arrives, and tells the operator at start whether the PDP answers.
     *
     * @return the HTTP status of the discovery document
     * @throws IOException when the PDP does not answer
     */
    int discover() throws IOException {
        try (Http1ClientResponse res = client.get().uri(discovery).header(HeaderValues.ACCEPT_JSON).request()) {
            readAtMost(res.inputStream());
            return res.status().code();
        } catch (RuntimeException e) {
            throw new IOException("no answer from the PDP (" + ProviderHttp.cause(e) + ")", e);
        }
    }

    private static byte[] readAtMost(InputStream in) throws IOException {
        return ProviderHttp.readAtMost(in, MAX_RESPONSE, "the PDP");
    }

    /** A short reason text from an AuthZEN answer's context, if it has one. */
    private static Optional<String> reason(JsonNode context) {
        if (context == null || !context.isObject()) {
            return Optional.empty();
        }
        for (String field : List.of("reason_admin", "reason_user", "reason")) {
            JsonNode r = context.get(field);
            if (r == null) {
                continue;
            }
            String text = r.isTextual() ? r.asText()
                    : r.isObject() && r.size() > 0 ? (r.has("en") ? r.get("en") : r.elements().next()).asText() : "";
            if (!text.isBlank()) {
                return Optional.of(text.length() > MAX_REASON ? text.substring(0, MAX_REASON) + "…" : text);
            }
        }
        return Optional.empty();
    }
}
