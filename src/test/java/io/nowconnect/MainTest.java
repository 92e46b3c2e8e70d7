package io.nowconnect;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

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
        assertTrue(err.toString().contains("NC_ENV_FILE"), err.toString());
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
