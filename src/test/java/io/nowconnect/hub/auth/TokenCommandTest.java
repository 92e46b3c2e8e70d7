package io.nowconnect.hub.auth;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TokenCommandTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @Test
    void mintsVerifiableToken() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\n");

        int code = run("token", "--secret-file", secret.toString(), "--agent-id", "agent-5", "--ttl", "15m",
                       "--connectors", "ldap");

        assertThat(err(), code, is(0));
        assertThat(err(), is(""));
        String printed = out.toString(StandardCharsets.UTF_8);
        assertThat(printed.endsWith(System.lineSeparator()), is(true));
        String token = printed.strip();
        assertThat(token.contains("\n"), is(false));
        Claims claims = TokenVerifier.create(Optional.of(secret), Optional.empty(), "nowconnect").verify(token);
        assertThat(claims.agentId(), is("agent-5"));
        long ttl = Duration.between(Instant.now(), claims.expiresAt()).toSeconds();
        assertThat(ttl > 14 * 60 && ttl <= 15 * 60, is(true));
    }

    @Test
    void acceptsEqualsFormAndAudienceWithoutCommandName() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "another-secret-another-secret-another");

        int code = run("--secret-file=" + secret, "--agent-id=a-1", "--audience", "hub-b", "--unscoped");

        assertThat(err(), code, is(0));
        Claims claims = TokenVerifier.create(Optional.of(secret), Optional.empty(), "hub-b")
                .verify(out.toString(StandardCharsets.UTF_8).strip());
        assertThat(claims.audience(), is(List.of("hub-b")));
        long ttl = Duration.between(Instant.now(), claims.expiresAt()).toSeconds();
        assertThat(ttl > 59 * 60 && ttl <= 60 * 60, is(true));
    }

    @Test
    void usageErrorsExitWithTwo() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "x");
        List<String[]> bad = List.of(
                new String[] {"token"},
                new String[] {"token", "--secret-file", secret.toString()},
                new String[] {"token", "--agent-id", "a"},
                new String[] {"token", "--secret-file", secret.toString(), "--agent-id"},
                new String[] {"token", "--secret-file", secret.toString(), "--agent-id", "a", "--ttl", "soon"},
                new String[] {"token", "--secret-file", secret.toString(), "--agent-id", "a", "--ttl", "0s"},
                new String[] {"token", "--secret-file", secret.toString(), "--agent-id", "a", "--bogus", "1"},
                new String[] {"token", "--secret-file", secret.toString(), "--agent-id", "a", "--agent-id", "b"},
                new String[] {"token", "--secret-file", secret.toString(), "--agent-id", "a"},
                new String[] {"token", "--secret-file", secret.toString(), "--agent-id", "a", "--connectors", "x",
                    "--unscoped"});
        for (String[] args : bad) {
            out.reset();
            err.reset();
            assertThat(String.join(" ", args), run(args), is(2));
            assertThat(err(), containsString("Usage: token --secret-file FILE --agent-id ID"));
            assertThat(out.size(), is(0));
        }
    }

    @Test
    void connectorsOptionScopesTheToken() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\n");

        int code = run("token", "--secret-file", secret.toString(), "--agent-id", "premise-01", "--connectors",
                       " ldap, db ,ldap", "--issuer", "corp-hub");

        assertThat(err(), code, is(0));
        String token = out.toString(StandardCharsets.UTF_8).strip();
        assertThat(TestTokens.decodePart(token, 1).get("connectors"), is(List.of("ldap", "db")));
        Claims claims = TokenVerifier.create(Optional.of(secret), Optional.empty(), "nowconnect", Optional.of("corp-hub"),
                                             true).verify(token);
        assertThat(claims.connectors(), is(Optional.of(List.of("ldap", "db"))));
    }

    @Test
    void badConnectorNamesAreUsageErrors() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\n");
        for (String list : List.of("ldap,db*", ",", "a b")) {
            out.reset();
            err.reset();
            assertThat(list, run("token", "--secret-file", secret.toString(), "--agent-id", "a", "--connectors", list),
                       is(2));
            assertThat(err(), containsString("--connectors"));
            assertThat(out.size(), is(0));
        }
    }

    @Test
    void shortSecretIsRefusedWithTwo() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret"), "twenty-bytes-secret!\n");

        int code = run("token", "--secret-file", secret.toString(), "--agent-id", "a", "--connectors", "x");

        assertThat(code, is(2));
        assertThat(err(), containsString("20-byte secret; HS256 needs at least 32 bytes"));
        assertThat(err(), containsString("openssl rand -base64 32"));
        assertThat(err().contains("twenty-bytes-secret!"), is(false));
        assertThat(out.size(), is(0));
    }

    @Test
    void unreadableSecretExitsWithTwo() {
        int code = run("token", "--secret-file", dir.resolve("missing").toString(), "--agent-id", "a", "--connectors", "x");

        assertThat(code, is(2));
        assertThat(err(), containsString("--secret-file: cannot read secret file"));
        assertThat(out.size(), is(0));
    }

    @Test
    void helpPrintsUsage() {
        assertThat(run("token", "--help"), is(0));
        assertThat(out.toString(StandardCharsets.UTF_8), containsString("Usage: token"));
    }

    @ParameterizedTest
    @CsvSource({"30s,PT30S", "15m,PT15M", "1h,PT1H", "2d,PT48H", "PT1H,PT1H", "pt90m,PT1H30M", "P1D,PT24H"})
    void parsesTtl(String text, String expected) {
        assertThat(TokenCommand.parseTtl(text), is(Duration.parse(expected)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "1", "h", "1w", "-1h", "PT0S", "PT-5M", "1.5h"})
    void refusesBadTtl(String text) {
        assertThrows(IllegalArgumentException.class, () -> TokenCommand.parseTtl(text));
    }

    private int run(String... args) {
        return TokenCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }
}
