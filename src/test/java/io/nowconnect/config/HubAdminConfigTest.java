package io.nowconnect.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@code NC_HUB_ADMIN_HOST}/{@code NC_HUB_ADMIN_PORT}: off by default, loopback by default, checked with the rest. */
@Timeout(30)
class HubAdminConfigTest {
    @TempDir
    Path dir;

    private Map<String, String> base() throws Exception {
        Map<String, String> vars = new HashMap<>();
        vars.put("NC_HUB_JWT_SECRET_FILE",
                 Files.writeString(dir.resolve("hub.secret"), "hub-admin-config-secret-0123456789abcdef\n").toString());
        return vars;
    }

    private static HubConfig create(Map<String, String> vars) {
        return HubConfig.create(ConfigLoader.fromMaps(vars, Map.of()));
    }

    @Test
    void offByDefaultAndLoopbackWhenOnlyThePortIsSet() throws Exception {
        assertThat(create(base()).admin(), is(Optional.empty()));
        Map<String, String> vars = base();
        vars.put("NC_HUB_ADMIN_PORT", "9765");
        HubConfig config = create(vars);
        assertThat(config.admin().orElseThrow().getHostString(), is("127.0.0.1"));
        assertThat(config.admin().orElseThrow().getPort(), is(9765));
        vars.put("NC_HUB_ADMIN_HOST", "0.0.0.0");
        assertThat(create(vars).admin().orElseThrow().getHostString(), is("0.0.0.0"));
    }

    @Test
    void everyProblemIsListedTogether() throws Exception {
        Map<String, String> vars = base();
        vars.put("NC_HUB_PORT", "8765");
        vars.put("NC_HUB_ADMIN_PORT", "8765");
        vars.put("NC_HUB_ADMIN_HOST", "bad host");
        vars.put("NC_HUB_MAX_TUNNELS", "zero");
        ConfigException e = assertThrows(ConfigException.class, () -> create(vars));
        String problems = String.join("\n", e.problems());
        assertThat(problems, containsString("NC_HUB_ADMIN_PORT (8765) must differ from NC_HUB_PORT"));
        assertThat(problems, containsString("NC_HUB_ADMIN_HOST must be a host name or IP address"));
        assertThat(problems, containsString("NC_HUB_MAX_TUNNELS"));
        assertThat(e.problems().size(), is(3));

        Map<String, String> clash = base();
        clash.put("NC_HUB_ADMIN_PORT", "1389");
        clash.put("NC_HUB_LISTENERS", "ldap=0.0.0.0:1389");
        assertThat(String.join("\n", assertThrows(ConfigException.class, () -> create(clash)).problems()),
                   containsString("NC_HUB_ADMIN_PORT (1389) is the port of listener \"ldap\""));

        Map<String, String> noPort = base();
        noPort.put("NC_HUB_ADMIN_HOST", "127.0.0.1");
        assertThat(String.join("\n", assertThrows(ConfigException.class, () -> create(noPort)).problems()),
                   containsString("NC_HUB_ADMIN_HOST is set but NC_HUB_ADMIN_PORT is not"));

        Map<String, String> range = base();
        range.put("NC_HUB_ADMIN_PORT", "70000");
        assertThat(String.join("\n", assertThrows(ConfigException.class, () -> create(range)).problems()),
                   containsString("NC_HUB_ADMIN_PORT"));
    }
}
