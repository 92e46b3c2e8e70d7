package io.nowconnect.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A real Cerbos policy decision point (npm {@code @cerbos/cerbos-linux-x64}, installed by {@code ./nowconnect test}
 * into {@code .tools/cerbos}) on loopback, serving the OpenID AuthZEN API at {@link #url()}, with one policy file.
 */
public final class CerbosPdp implements AutoCloseable {
    /** Where {@code ./nowconnect test} installs the npm package (relative to the project). */
    public static final Path INSTALLED = Path.of(".tools/cerbos/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64");

    private final Process process;
    private final int port;
    private final Path log;

    private CerbosPdp(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /**
     * The Cerbos binary: {@code -Dnc.cerbos=PATH}, else {@link #INSTALLED}.
     *
     * @return path of the executable
     */
    public static Path binary() {
        Path bin = Path.of(System.getProperty("nc.cerbos", INSTALLED.toAbsolutePath().toString()));
        if (!Files.isExecutable(bin)) {
            throw new AssertionError("Cerbos is not installed at " + bin + ": ./nowconnect test installs it (npm install "
                                             + "--prefix .tools/cerbos @cerbos/cerbos-linux-x64@0.55.0)");
        }
        return bin;
    }

    /**
     * Start Cerbos with a policy file (placeholders in it replaced first) and wait until it answers.
     *
     * @param dir a directory of the test
     * @param policyResource class path resource of the policy YAML
     * @param replacements text to replace in it
     * @return the running PDP
     */
    public static CerbosPdp start(Path dir, String policyResource, Map<String, String> replacements) {
        try {
            Path policies = Files.createDirectories(dir.resolve("cerbos-policies"));
            String policy;
            try (var in = CerbosPdp.class.getResourceAsStream(policyResource)) {
                if (in == null) {
                    throw new AssertionError("no test resource " + policyResource);
                }
                policy = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            for (Map.Entry<String, String> e : replacements.entrySet()) {
                policy = policy.replace(e.getKey(), e.getValue());
            }
            Files.writeString(policies.resolve("policy.yaml"), policy);
            int port = Harness.freePort();
            int grpc = Harness.freePort();
            Path conf = dir.resolve("cerbos.yaml");
            Files.writeString(conf, "server:\n  httpListenAddr: \"127.0.0.1:" + port + "\"\n  grpcListenAddr: \"127.0.0.1:"
                    + grpc + "\"\nstorage:\n  driver: disk\n  disk:\n    directory: " + policies
                    + "\n    watchForChanges: false\ntelemetry:\n  disabled: true\n");
            Path log = dir.resolve("cerbos.log");
            Process p = new ProcessBuilder(binary().toString(), "server", "--config=" + conf, "--log-level=warn")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            CerbosPdp pdp = new CerbosPdp(p, port, log);
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
            try {
                Harness.await(Duration.ofSeconds(30), () -> {
                    if (!p.isAlive()) {
                        throw new AssertionError("Cerbos exited: " + pdp.logTail());
                    }
                    try {
                        return http.send(HttpRequest.newBuilder(URI.create(pdp.url() + "/.well-known/authzen-configuration"))
                                                 .build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
                    } catch (IOException e) {
                        return false;
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return false;
                    }
                }, "Cerbos answering on 127.0.0.1:" + port);
            } catch (RuntimeException | AssertionError e) {
                pdp.close();
                throw e;
            }
            return pdp;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The PDP's base URL ({@code NC_HUB_PDP_URL}).
     *
     * @return URL
     */
    public String url() {
        return "http://127.0.0.1:" + port;
    }

    private String logTail() {
        try {
            String all = Files.readString(log);
            return all.length() > 2000 ? all.substring(all.length() - 2000) : all;
        } catch (IOException e) {
            return "(no log)";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
