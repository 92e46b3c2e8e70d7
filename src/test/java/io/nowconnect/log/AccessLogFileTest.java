package io.nowconnect.log;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.nowconnect.config.ConfigException;
import io.nowconnect.config.ConfigLoader;
import io.nowconnect.config.LogSettings;
import io.nowconnect.stream.StreamEnd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code NC_ACCESS_LOG_FILE}: the access lines go to their own file in the chosen format, whatever
 * {@code NC_LOG_LEVEL} says, and nowhere else; the file rotates at its size and keeps its count of files.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AccessLogFileTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @AfterEach
    void restoreLogging() {
        Logging.configure(LogSettings.create(ConfigLoader.fromMaps(
                Map.of("NC_LOG_LEVEL", System.getenv().getOrDefault("NC_TEST_LOG_LEVEL", "INFO")), Map.of())));
    }

    @Test
    void accessLinesGoToTheirOwnRotatedFile() throws Exception {
        Path file = dir.resolve("access.log");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        long limit = 64 * 1024;
        // NC_LOG_LEVEL=ERROR: the access log is written all the same
        Logging.configure(new LogSettings(Level.SEVERE, true, true, Optional.of(file), limit, 3), console);
        Logger.getLogger("io.nowconnect.test").severe("an error line");
        int lines = 2000;
        for (int i = 0; i < lines; i++) {
            AccessLog.log(new StreamEnd("cid-" + i, "db", "ok", i, 2L * i, Duration.ofMillis(i), null),
                          AccessLog.event("db").with("target", "db.corp:5432"));
        }
        Logging.flush();
        Path current = dir.resolve("access.log.0");
        assertTrue(Files.exists(current), "the current file is FILE.0");
        assertTrue(Files.exists(dir.resolve("access.log.1")) && Files.exists(dir.resolve("access.log.2")), "rotated");
        assertFalse(Files.exists(dir.resolve("access.log.3")), "at most 3 files kept");
        for (int g = 0; g < 3; g++) {
            long size = Files.size(dir.resolve("access.log." + g));
            // FileHandler rotates after the line that reaches the limit: a file may pass it by that one line
            assertTrue(size <= limit + 1024, "file " + g + " is " + size + " bytes, limit " + limit);
        }
        List<String> last = Files.readAllLines(current);
        assertFalse(last.isEmpty());
        JsonNode line = JSON.readTree(last.getLast());
        assertEquals("access", line.get("event").asText());
        assertEquals("io.nowconnect.access", line.get("logger").asText());
        assertEquals("cid-" + (lines - 1), line.get("cid").asText());
        assertEquals(lines - 1, line.get("bytes_c2a").asInt());
        assertEquals(2 * (lines - 1), line.get("bytes_a2c").asInt());
        assertEquals("db.corp:5432", line.get("target").asText());
        String out = console.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("an error line"), "other lines stay on the console: " + out);
        assertFalse(out.contains("\"event\":\"access\""), "no access line on the console");
    }

    @Test
    void plainFormatAndOffSwitch() throws Exception {
        Path file = dir.resolve("plain.log");
        Logging.configure(new LogSettings(Level.INFO, false, true, Optional.of(file), 1 << 20, 1),
                          new ByteArrayOutputStream());
        AccessLog.log(new StreamEnd("c1", "ldap", "reset", 3, 4, Duration.ofMillis(5),
                                    new InetSocketAddress("127.0.0.1", 389)),
                      AccessLog.event("ldap").with("client", "10.0.0.7").with("client_port", 50123));
        Logging.flush();
        // one file (COUNT 1): the file itself, no generation suffix
        String text = Files.readString(file);
        assertTrue(text.contains("event=access connector=ldap client=10.0.0.7 client_port=50123 cid=c1 bytes_c2a=3 "
                                         + "bytes_a2c=4 duration_ms=5 result=reset"), text);
        Path off = dir.resolve("off.log");
        Logging.configure(new LogSettings(Level.INFO, false, false, Optional.of(off), 1 << 20, 1),
                          new ByteArrayOutputStream());
        AccessLog.log(new StreamEnd("c2", "ldap", "ok", 1, 1, Duration.ZERO, null), AccessLog.event("ldap"));
        Logging.flush();
        assertFalse(Files.exists(off) && Files.size(off) > 0, "NC_ACCESS_LOG=false writes nothing");
    }

    @Test
    void aFileInAMissingDirectoryIsAConfigurationError() {
        ConfigException e = assertThrows(ConfigException.class, () -> LogSettings.create(ConfigLoader.fromMaps(
                Map.of("NC_ACCESS_LOG_FILE", dir.resolve("missing/access.log").toString(), "NC_ACCESS_LOG_FILE_MB", "0"),
                Map.of())));
        assertTrue(e.getMessage().contains("NC_ACCESS_LOG_FILE: directory"), e.getMessage());
        assertTrue(e.getMessage().contains("NC_ACCESS_LOG_FILE_MB"), "every bad variable named: " + e.getMessage());
    }
}
