package io.nowconnect;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exit codes and messages of the command line. */
class MainTest {
    @Test
    void invalidAgentConfigurationExitsWithTwoAndNamesEveryVariable() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(new String[0], Map.of("NC_CONNECTORS", "ldap", "NC_LOG_LEVEL", "chatty"),
                            new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code);
        for (String name : new String[] {"NC_AGENT_URL", "NC_AGENT_ID", "NC_TARGET_ldap_HOST", "NC_TARGET_ldap_PORT",
                "NC_LOG_LEVEL"}) {
            assertTrue(text.contains(name), name + " missing in: " + text);
        }
    }

    @Test
    void hubWithAShortSecretExitsWithTwo(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path secret = java.nio.file.Files.writeString(dir.resolve("hub.secret"), "too-short-secret\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"hub"}, Map.of("NC_HUB_JWT_SECRET_FILE", secret.toString(), "NC_HUB_PORT", "0"),
                            new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, text);
        assertTrue(text.contains("NC_HUB_JWT_SECRET_FILE") && text.contains("at least 32 bytes"), text);
        assertFalse(text.contains("too-short-secret"), text);
    }

    @Test
    void usageErrorsExitWithTwo() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(new ByteArrayOutputStream());
        assertEquals(2, Main.run(new String[] {"frobnicate"}, Map.of(), out, new PrintStream(err)));
        assertEquals(2, Main.run(new String[] {"agent", "--env-file"}, Map.of(), out, new PrintStream(err)));
        assertEquals(2, Main.run(new String[] {"--env-file", "/nonexistent/agent.env"}, Map.of(), out, new PrintStream(err)));
        assertTrue(err.toString().contains("--env-file: cannot read env file /nonexistent/agent.env"), err.toString());
        assertFalse(err.toString().contains("NC_ENV_FILE"), "the flag was used, not the variable: " + err);
        err.reset();
        assertEquals(2, Main.run(new String[] {"hub"}, Map.of("NC_ENV_FILE", "/nonexistent/hub.env"), out,
                                 new PrintStream(err)));
        assertTrue(err.toString().contains("NC_ENV_FILE: cannot read env file /nonexistent/hub.env"), err.toString());
    }

    @Test
    void everyInputErrorExitsWithTwoNamingTheInput() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, Main.run(new String[] {"token", "--secret-file", "/nonexistent/secret", "--agent-id", "a",
            "--connectors", "x"}, Map.of(), new PrintStream(out), new PrintStream(err)));
        assertTrue(err.toString().contains("--secret-file: cannot read secret file /nonexistent/secret"), err.toString());
        assertEquals("", out.toString(), "no token printed");
        err.reset();
        assertEquals(2, Main.run(new String[] {"demo"}, Map.of("NC_DEMO_BASE_PORT", "abc"), new PrintStream(out),
                                 new PrintStream(err)));
        assertTrue(err.toString().contains("NC_DEMO_BASE_PORT: must be a port number"), err.toString());
        err.reset();
        assertEquals(2, Main.run(new String[] {"demo"}, Map.of("NC_DEMO_BASE_PORT", "70000"), new PrintStream(out),
                                 new PrintStream(err)));
        assertTrue(err.toString().contains("NC_DEMO_BASE_PORT"), err.toString());
    }

    @Test
    void tokenHelpIsTheTokenModesUsage() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, Main.run(new String[] {"token", "--help"}, Map.of(), new PrintStream(out), System.err));
        assertTrue(out.toString().startsWith("Usage: token --secret-file FILE --agent-id ID"), out.toString());
        assertFalse(out.toString().contains("usage: nowconnect"), out.toString());
    }

    @Test
    void configurationErrorsAreJsonLinesWhenTheLogFormatIsJson() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(new String[0], Map.of("NC_CONNECTORS", "ldap", "NC_LOG_FORMAT", "json", "NC_HEALTH_PORT", "x"),
                            new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, code);
        List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
        assertTrue(lines.size() >= 5, lines.toString());
        Set<String> variables = new HashSet<>();
        for (String line : lines) {
            JsonNode json = new ObjectMapper().readTree(line);
            assertEquals("ERROR", json.get("level").asText(), line);
            assertEquals("config_invalid", json.get("event").asText(), line);
            assertTrue(json.get("msg").asText().startsWith(json.get("variable").asText()), line);
            variables.add(json.get("variable").asText());
        }
        assertTrue(variables.containsAll(List.of("NC_AGENT_URL", "NC_AGENT_ID", "NC_TARGET_ldap_HOST", "NC_HEALTH_PORT")),
                   variables.toString());

        // plain stays the readable list
        err.reset();
        assertEquals(2, Main.run(new String[0], Map.of("NC_CONNECTORS", "ldap"), new PrintStream(new ByteArrayOutputStream()),
                                 new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("nowconnect: Invalid configuration:\n  - "), err.toString());
    }

    @Test
    void helpAndVersion() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, Main.run(new String[] {"--help"}, Map.of(), new PrintStream(out), System.err));
        assertTrue(out.toString().contains("usage: nowconnect"));
        out.reset();
        assertEquals(0, Main.run(new String[] {"--version"}, Map.of(), new PrintStream(out), System.err));
        assertFalse(out.toString().contains("dev"), "the build filters the version in: " + out);
    }
}
