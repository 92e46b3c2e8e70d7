package io.nowconnect.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.HubConfig;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;

/** Parses deploy/k8s/*.yaml and checks them against each other and the agent's configuration parser. */
@Timeout(60)
class KubernetesManifestTest {
    private static final String DIR = "deploy/k8s/";

    @TempDir
    Path tmp;

    @Test
    void kustomizationListsExistingFiles() {
        Map<String, Object> k = ProjectFiles.yaml(DIR + "kustomization.yaml");
        List<String> resources = ProjectFiles.at(k, "resources");
        assertThat(resources, hasItem("configmap.yaml"));
        assertThat(resources, hasItem("deployment.yaml"));
        for (String r : resources) {
            assertThat(r + " listed in kustomization.yaml", Files.isRegularFile(ProjectFiles.ROOT.resolve(DIR + r)), is(true));
        }
    }

    @Test
    void configMapIsAValidAgentConfiguration() throws IOException {
        AgentConfig config = agentConfig(Map.of());
        assertThat(config.httpPort().isPresent(), is(true));
    }

    @ParameterizedTest
    @ValueSource(strings = {"deployment.yaml", "daemonset.yaml"})
    void workloadMatchesConfiguration(String file) throws IOException {
        Map<String, Object> doc = ProjectFiles.yaml(DIR + file);
        Map<String, Object> pod = ProjectFiles.at(doc, "spec", "template", "spec");
        Map<String, Object> container = ProjectFiles.at(pod, "containers", 0);
        Map<String, Object> configMap = ProjectFiles.yaml(DIR + "configmap.yaml");

        // config comes from the ConfigMap; explicit env entries override it
        assertThat(ProjectFiles.at(container, "envFrom", 0, "configMapRef", "name"),
                   equalTo(ProjectFiles.at(configMap, "metadata", "name")));
        Map<String, String> overrides = new HashMap<>();
        List<Map<String, Object>> env = ProjectFiles.at(container, "env");
        if (env != null) {
            for (Map<String, Object> e : env) {
                overrides.put((String) e.get("name"), e.get("value") == null ? "10.0.0.1" : String.valueOf(e.get("value")));
            }
        }
        AgentConfig config = agentConfig(overrides);

        // probes against the ports the agent opens
        assertThat(port(container, ProjectFiles.at(container, "livenessProbe", "tcpSocket", "port")),
                   equalTo(config.healthPort()));
        assertThat(ProjectFiles.at(container, "readinessProbe", "httpGet", "path"), equalTo("/readyz"));
        assertThat(port(container, ProjectFiles.at(container, "readinessProbe", "httpGet", "port")),
                   equalTo(config.httpPort().orElseThrow()));

        // token: the Secret is mounted read-only as the directory of NC_TOKEN_FILE, never with subPath
        Path tokenFile = Path.of(configValue(configMap, overrides, "NC_TOKEN_FILE"));
        Map<String, Object> volume = volume(pod, "token");
        Map<String, Object> secret = ProjectFiles.yaml(DIR + "secret.example.yaml");
        assertThat(ProjectFiles.at(volume, "secret", "secretName"), equalTo(ProjectFiles.at(secret, "metadata", "name")));
        Map<String, Object> stringData = ProjectFiles.at(secret, "stringData");
        assertThat("Secret key = token file name", stringData.containsKey(tokenFile.getFileName().toString()), is(true));
        Map<String, Object> mount = mount(container, "token");
        assertThat(mount.get("subPath"), nullValue());
        assertThat(mount.get("readOnly"), is(true));
        assertThat(Path.of((String) mount.get("mountPath")), equalTo(tokenFile.getParent()));

        // stop: longer than the drain
        int grace = ((Number) pod.get("terminationGracePeriodSeconds")).intValue();
        assertThat(grace, greaterThan((int) config.drainTimeout().toSeconds()));

        // security
        assertThat(ProjectFiles.at(pod, "securityContext", "runAsNonRoot"), is(true));
        assertThat(ProjectFiles.at(pod, "securityContext", "runAsUser"), is(10001));
        assertThat(ProjectFiles.at(pod, "securityContext", "seccompProfile", "type"), is("RuntimeDefault"));
        assertThat(ProjectFiles.at(container, "securityContext", "readOnlyRootFilesystem"), is(true));
        assertThat(ProjectFiles.at(container, "securityContext", "allowPrivilegeEscalation"), is(false));
        assertThat(ProjectFiles.at(container, "securityContext", "runAsNonRoot"), is(true));
        List<String> drop = ProjectFiles.at(container, "securityContext", "capabilities", "drop");
        assertThat(drop, hasItem("ALL"));
        // read-only root: the JVM's /tmp is an emptyDir
        assertThat(ProjectFiles.at(volume(pod, "tmp"), "emptyDir"), notNullValue());
        assertThat(mount(container, "tmp").get("mountPath"), is("/tmp"));

        // resources and image
        assertThat(ProjectFiles.at(container, "resources", "requests", "cpu"), is("50m"));
        assertThat(ProjectFiles.at(container, "resources", "requests", "memory"), is("96Mi"));
        assertThat(ProjectFiles.at(container, "resources", "limits", "memory"), is("256Mi"));
        assertLimitHoldsTheHeap(container, false);
        assertThat(container.get("image"), is("nowconnect-premise:" + ProjectFiles.projectVersion()));
        assertThat(ProjectFiles.at(container, "args", 0), is("agent"));
    }

    /**
     * The container's memory limit holds the launcher's maximum heap and at least 128 MiB beside it (the JVM's own
     * memory: about 70 MB at rest): under churn the heap grows toward -Xmx before the old generation is collected (the
     * agent's serial collector, the hub's G1), so a busy process reaches it, and a limit below heap plus the rest gets
     * the pod killed.
     */
    private static void assertLimitHoldsTheHeap(Map<String, Object> container, boolean hub) throws IOException {
        String launcher = Files.readString(ProjectFiles.ROOT.resolve("src/dist/bin/nowconnect"));
        java.util.regex.Matcher opts = java.util.regex.Pattern
                .compile("^" + (hub ? "DEFAULT_HUB_JAVA_OPTS" : "DEFAULT_JAVA_OPTS") + "=\"[^\"]*-Xmx(\\d+)m",
                         java.util.regex.Pattern.MULTILINE)
                .matcher(launcher);
        assertThat("the launcher's -Xmx", opts.find(), is(true));
        int heapMib = Integer.parseInt(opts.group(1));
        String limit = ProjectFiles.at(container, "resources", "limits", "memory");
        assertThat(limit, org.hamcrest.Matchers.endsWith("Mi"));
        int limitMib = Integer.parseInt(limit.substring(0, limit.length() - 2));
        assertThat((hub ? "hub" : "agent") + " limit " + limit + " against -Xmx" + heapMib + "m", limitMib - heapMib,
                   org.hamcrest.Matchers.greaterThanOrEqualTo(128));
    }

    @Test
    void hubStatefulSetRunsReplicasNamedByTheirPods() throws IOException {
        String hub = DIR + "hub/";
        List<String> resources = ProjectFiles.at(ProjectFiles.yaml(hub + "kustomization.yaml"), "resources");
        for (String r : resources) {
            assertThat(r + " listed", Files.isRegularFile(ProjectFiles.ROOT.resolve(hub + r)), is(true));
        }
        Map<String, Object> set = ProjectFiles.yaml(hub + "statefulset.yaml");
        assertThat(set.get("kind"), is("StatefulSet"));
        String name = ProjectFiles.at(set, "metadata", "name");
        int replicas = ((Number) ProjectFiles.at(set, "spec", "replicas")).intValue();
        assertThat(replicas, is(3));
        Map<String, Object> pod = ProjectFiles.at(set, "spec", "template", "spec");
        Map<String, Object> container = ProjectFiles.at(pod, "containers", 0);
        assertThat(ProjectFiles.at(container, "args", 0), is("hub"));
        assertLimitHoldsTheHeap(container, true);

        // the replica id is the pod name, and NC_HUB_REPLICAS lists exactly the StatefulSet's pod names
        List<Map<String, Object>> env = ProjectFiles.at(container, "env");
        Map<String, Object> id = env.stream().filter(e -> "NC_HUB_REPLICA_ID".equals(e.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no NC_HUB_REPLICA_ID"));
        assertThat(ProjectFiles.at(id, "valueFrom", "fieldRef", "fieldPath"), is("metadata.name"));
        Map<String, Object> configMap = ProjectFiles.yaml(hub + "configmap.yaml");
        assertThat(ProjectFiles.at(container, "envFrom", 0, "configMapRef", "name"),
                   equalTo(ProjectFiles.at(configMap, "metadata", "name")));
        Map<String, String> vars = new HashMap<>();
        ProjectFiles.<Map<String, Object>>at(configMap, "data").forEach((k, v) -> vars.put(k, String.valueOf(v)));
        Path secret = tmp.resolve("hub.secret");
        Files.writeString(secret, "0123456789abcdef0123456789abcdef0123456789");
        vars.put("NC_HUB_JWT_SECRET_FILE", secret.toString());
        vars.put("NC_HUB_REPLICA_ID", name + "-1");
        HubConfig config = HubConfig.create(ConfigLoader.fromMaps(vars, Map.of()));
        assertThat(config.replicas(), equalTo(java.util.stream.IntStream.range(0, replicas).mapToObj(i -> name + "-" + i)
                                                     .toList()));

        // probes on the admin listener (the tunnel port answers only /tunnel and a bare /healthz): live on /healthz,
        // ready on /readyz for every connector at once (no per-connector probe: a client that arrives before the agent
        // waits for it, NC_HUB_AGENT_WAIT_MS); the admin port is in no Service
        int admin = config.admin().orElseThrow(() -> new AssertionError("no NC_HUB_ADMIN_PORT")).getPort();
        assertThat(config.admin().get().getHostString(), is("0.0.0.0"));
        assertThat(ProjectFiles.at(container, "livenessProbe", "httpGet", "path"), is("/healthz"));
        assertThat(port(container, ProjectFiles.at(container, "livenessProbe", "httpGet", "port")), is(admin));
        assertThat(port(container, ProjectFiles.at(container, "readinessProbe", "httpGet", "port")), is(admin));
        assertThat(ProjectFiles.at(container, "readinessProbe", "httpGet", "path"), is("/readyz"));
        assertThat(config.clients().agentWait().toMillis() > 0, is(true));
        int grace = ((Number) pod.get("terminationGracePeriodSeconds")).intValue();
        // the endpoints change after SIGTERM while kube-proxy still sends a few clients: a lame duck carries them
        assertThat(config.lameDuck().toMillis(), greaterThan(0L));
        assertThat((long) grace, greaterThan(config.drainTimeout().plus(config.lameDuck()).toSeconds()));
        assertThat(ProjectFiles.at(pod, "securityContext", "runAsNonRoot"), is(true));

        // Services: the headless one named by the StatefulSet; the tunnel one reaches every replica without affinity;
        // the listener one exposes every listener port
        Map<String, Object> labels = ProjectFiles.at(set, "spec", "template", "metadata", "labels");
        Map<String, Map<String, Object>> services = new HashMap<>();
        for (Map<String, Object> doc : ProjectFiles.yamlDocuments(hub + "services.yaml")) {
            assertThat(doc.get("kind"), is("Service"));
            Map<String, Object> selector = ProjectFiles.at(doc, "spec", "selector");
            assertThat(labels.entrySet().containsAll(selector.entrySet()), is(true));
            services.put(ProjectFiles.at(doc, "metadata", "name"), doc);
        }
        Map<String, Object> headless = services.get(ProjectFiles.<String>at(set, "spec", "serviceName"));
        assertThat(ProjectFiles.at(headless, "spec", "clusterIP"), is("None"));
        boolean tunnelService = false;
        boolean listenerService = false;
        for (Map<String, Object> svc : services.values()) {
            List<Map<String, Object>> ports = ProjectFiles.at(svc, "spec", "ports");
            List<Integer> targets = ports.stream().map(p -> port(container, p.get("targetPort"))).toList();
            assertThat("the admin port is in no Service", targets.contains(admin), is(false));
            if (svc != headless && targets.contains(config.port())) {
                tunnelService = true;
                assertThat(ProjectFiles.at(svc, "spec", "sessionAffinity"), is("None"));
                assertThat(ProjectFiles.at(svc, "spec", "publishNotReadyAddresses"), is(true));
            }
            if (targets.containsAll(config.listeners().values().stream().map(a -> a.getPort()).toList())) {
                listenerService = true;
                assertThat(ProjectFiles.at(svc, "spec", "sessionAffinity"), is("None"));
            }
        }
        assertThat("a Service for the tunnel port", tunnelService, is(true));
        assertThat("a Service for the listeners", listenerService, is(true));

        // one replica at a time may be taken down voluntarily
        Map<String, Object> pdb = ProjectFiles.yaml(hub + "pdb.yaml");
        assertThat(pdb.get("kind"), is("PodDisruptionBudget"));
        assertThat(ProjectFiles.at(pdb, "spec", "maxUnavailable"), is(1));
        Map<String, Object> pdbSelector = ProjectFiles.at(pdb, "spec", "selector", "matchLabels");
        assertThat(labels.entrySet().containsAll(pdbSelector.entrySet()), is(true));
    }

    @Test
    void dockerfileUserMatchesRunAsUser() {
        String dockerfile = ProjectFiles.read("Dockerfile");
        Map<String, Object> pod = ProjectFiles.at(ProjectFiles.yaml(DIR + "deployment.yaml"), "spec", "template", "spec");
        assertThat(dockerfile.contains("\nUSER " + ProjectFiles.at(pod, "securityContext", "runAsUser")), is(true));
    }

    private AgentConfig agentConfig(Map<String, String> overrides) throws IOException {
        Map<String, Object> data = ProjectFiles.at(ProjectFiles.yaml(DIR + "configmap.yaml"), "data");
        Map<String, String> vars = new HashMap<>();
        data.forEach((k, v) -> vars.put(k, String.valueOf(v)));
        Map<String, String> primary = new HashMap<>(overrides);
        Path token = tmp.resolve("token");
        Files.writeString(token, "a.b.c");
        primary.put("NC_TOKEN_FILE", token.toString());   // the mounted Secret does not exist here
        return AgentConfig.create(ConfigLoader.fromMaps(primary, vars));
    }

    private static String configValue(Map<String, Object> configMap, Map<String, String> overrides, String name) {
        return Optional.ofNullable(overrides.get(name))
                .orElseGet(() -> String.valueOf(ProjectFiles.<Object>at(configMap, "data", name)));
    }

    /** A probe port is a number or the name of a container port. */
    private static int port(Map<String, Object> container, Object port) {
        if (port instanceof Number n) {
            return n.intValue();
        }
        List<Map<String, Object>> ports = ProjectFiles.at(container, "ports");
        return ports.stream().filter(p -> port.equals(p.get("name")))
                .map(p -> ((Number) p.get("containerPort")).intValue()).findFirst()
                .orElseThrow(() -> new AssertionError("no container port named " + port));
    }

    private static Map<String, Object> volume(Map<String, Object> pod, String name) {
        List<Map<String, Object>> volumes = ProjectFiles.at(pod, "volumes");
        return volumes.stream().filter(v -> name.equals(v.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }

    private static Map<String, Object> mount(Map<String, Object> container, String name) {
        List<Map<String, Object>> mounts = ProjectFiles.at(container, "volumeMounts");
        return mounts.stream().filter(v -> name.equals(v.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no volumeMount " + name));
    }
}
