package io.nowconnect.health;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.DataReader;
import io.helidon.webserver.ConnectionContext;

/**
 * One HTTP/1.0 request on a connection, answered and closed: {@code GET} or {@code HEAD} of a path in {@link Probes}
 * gets that path's answer (the very code behind the HTTP/1.1 route); another path 404, another method 405, a malformed
 * request 400, a request head over {@link #MAX_HEAD} bytes 431. Every answer has {@code Content-Length} and
 * {@code Connection: close}, and the connection ends after it (no keep-alive, nothing else is read).
 *
 * <p>Runs on the connection's virtual thread; the caller bounds its time (see {@link Http10Selector}).
 */
final class Http10Probe {
    /** Most bytes of request line and headers together. */
    static final int MAX_HEAD = 8192;

    private final ConnectionContext ctx;
    private final Probes probes;

    Http10Probe(ConnectionContext ctx, Probes probes) {
        this.ctx = ctx;
        this.probes = probes;
    }

    /** Read the request head, write the answer. */
    void answer() {
        DataReader reader = ctx.dataReader();
        String line;
        try {
            int len = reader.findNewLine(Http10Selector.MAX_LINE);
            line = reader.readAsciiString(len);
            reader.skip(2);
            int budget = MAX_HEAD - len - 2;
            while (true) {
                if (budget <= 0) {
                    write(431, "Request Header Fields Too Large", false, error("request head too large"));
                    return;
                }
                int n = reader.findNewLine(budget);
                if (n >= budget) {
                    write(431, "Request Header Fields Too Large", false, error("request head too large"));
                    return;
                }
                reader.skip(n + 2);
                budget -= n + 2;
                if (n == 0) {
                    break;
                }
            }
        } catch (DataReader.IncorrectNewLineException e) {
            write(400, "Bad Request", false, error("bad line ending"));
            return;
        }
        String[] parts = line.split(" ", -1);
        if (parts.length != 3 || parts[1].isEmpty() || parts[1].charAt(0) != '/') {
            write(400, "Bad Request", false, error("bad request line"));
            return;
        }
        String method = parts[0];
        boolean head = "HEAD".equals(method);
        if (!head && !"GET".equals(method)) {
            write(405, "Method Not Allowed", false, error("only GET and HEAD"));
            return;
        }
        int q = parts[1].indexOf('?');
        String path = q < 0 ? parts[1] : parts[1].substring(0, q);
        Map<String, String> query;
        try {
            query = query(q < 0 ? "" : parts[1].substring(q + 1));
        } catch (IllegalArgumentException e) {
            write(400, "Bad Request", false, error("bad query"));
            return;
        }
        Optional<Probes.Answer> answer = probes.answer(path, name -> Optional.ofNullable(query.get(name)));
        if (answer.isEmpty()) {
            write(404, "Not Found", head, error("not found"));
            return;
        }
        Probes.Answer a = answer.get();
        write(a.status(), reason(a.status()), head, a.body());
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> result = new HashMap<>();
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            result.putIfAbsent(name, value);
        }
        return result;
    }

    private static String error(String message) {
        return "{\"error\":\"" + message + "\"}";
    }

    private static String reason(int status) {
        return switch (status) {
        case 200 -> "OK";
        case 503 -> "Service Unavailable";
        case 404 -> "Not Found";
        default -> "Status";
        };
    }

    private void write(int status, String reason, boolean head, String body) {
        byte[] entity = body.getBytes(StandardCharsets.UTF_8);
        // HTTP/1.1 in the status line, as RFC 9110 asks of a 1.1 server; nothing in the answer needs more than 1.0
        String headers = "HTTP/1.1 " + status + " " + reason + "\r\n"
                + "Content-Type: application/json\r\n"
                + "Cache-Control: no-store\r\n"
                + "Content-Length: " + entity.length + "\r\n"
                + (status == 405 ? "Allow: GET, HEAD\r\n" : "")
                + "Connection: close\r\n\r\n";
        byte[] h = headers.getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[h.length + (head ? 0 : entity.length)];
        System.arraycopy(h, 0, all, 0, h.length);
        if (!head) {
            System.arraycopy(entity, 0, all, h.length, entity.length);
        }
        ctx.dataWriter().writeNow(BufferData.create(all));
    }
}
