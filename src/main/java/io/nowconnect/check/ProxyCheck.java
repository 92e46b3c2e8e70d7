package io.nowconnect.check;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Optional;

import io.nowconnect.config.ProxySettings;
import io.nowconnect.tunnel.HubProbe;

/**
 * The proxy the agent uses for a hub: reachable, and whether it allows {@code CONNECT host:port} to the hub (with the
 * Basic credentials of the proxy URL, as the agent sends them). The answer's status line is shown; the credentials
 * never are.
 *
 * <p>Threads: the caller's.
 */
final class ProxyCheck {
    private static final int MAX_HEADER_BYTES = 16 * 1024;

    private ProxyCheck() {
    }

    /**
     * Check the proxy and open a CONNECT tunnel to the hub through it.
     *
     * @param proxy the proxy
     * @param hub hub URL
     * @param timeout connect and read timeout
     * @param report where the lines go
     * @return a socket tunnelled to the hub, for the TLS check; empty when the proxy failed
     */
    static Optional<Socket> connect(ProxySettings.Server proxy, URI hub, Duration timeout, Report report) {
        String name = "proxy " + proxy.address();
        Net.Connected c;
        try {
            c = Net.connect(new InetSocketAddress(proxy.host(), proxy.port()), timeout);
        } catch (IOException e) {
            report.fail(name, "", "unreachable (" + proxy.variable() + "): " + Net.why(e),
                        "check the proxy's host and port in " + proxy.variable() + ", or that it runs");
            return Optional.empty();
        }
        String target = hostPort(hub);
        Socket s = c.connected();
        try {
            long start = System.nanoTime();
            OutputStream out = s.getOutputStream();
            StringBuilder req = new StringBuilder("CONNECT ").append(target).append(" HTTP/1.1\r\nHost: ").append(target)
                    .append("\r\n");
            if (proxy.username().isPresent()) {
                String cred = proxy.username().get() + ":" + proxy.password().orElse("");
                req.append("Proxy-Authorization: Basic ")
                        .append(Base64.getEncoder().encodeToString(cred.getBytes(StandardCharsets.UTF_8))).append("\r\n");
            }
            out.write(req.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String status = readHeader(s.getInputStream());
            long ms = Net.millis(start);
            String[] words = status.split(" ", 3);
            int code = words.length >= 2 && words[1].matches("\\d{3}") ? Integer.parseInt(words[1]) : 0;
            String line = status.length() > 120 ? status.substring(0, 120) + "..." : status;
            String via = " (" + proxy.variable() + (proxy.username().isPresent() ? ", Basic credentials" : "") + ")";
            if (code == 200) {
                report.ok(name, c.millis() + " ms", "reachable, CONNECT " + target + " allowed: " + line + via);
                return Optional.of(s);
            }
            String action = switch (code) {
            case 407, 401 -> proxy.username().isPresent() ? "check the user and password in " + proxy.variable()
                    : "add user:password@ to the proxy URL in " + proxy.variable();
            case 403 -> "the proxy's rules refuse CONNECT to port " + HubProbe.port(hub)
                    + " (tinyproxy: ConnectPort, squid: SSL_ports); ask its administrator";
            case 500, 502, 503, 504 -> "the proxy cannot reach " + target + ": check the hub's host and port";
            default -> "check the proxy in " + proxy.variable();
            };
            report.fail(name, ms + " ms", "refused CONNECT " + target + ": " + (line.isEmpty() ? "no answer" : line) + via,
                        action);
        } catch (IOException e) {
            report.fail(name, "", "CONNECT " + target + " failed: " + Net.why(e), "check the proxy in " + proxy.variable());
        }
        close(s);
        return Optional.empty();
    }

    /** The status line of a CONNECT answer; the header lines after it are read and dropped. */
    private static String readHeader(InputStream in) throws IOException {
        StringBuilder all = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0 && all.length() < MAX_HEADER_BYTES) {
            all.append((char) b);
            if (all.length() >= 4 && all.substring(all.length() - 4).equals("\r\n\r\n")) {
                break;
            }
        }
        int eol = all.indexOf("\r\n");
        return (eol < 0 ? all.toString() : all.substring(0, eol)).strip();
    }

    static String hostPort(URI hub) {
        String host = hub.getHost();
        return host + ":" + HubProbe.port(hub);
    }

    static void close(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
