package io.nowconnect.hub.auth;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import static io.nowconnect.hub.auth.TestTokens.AUDIENCE;
import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertThrows;

@Timeout(60)
class TokenMinterTest {
    @TempDir
    Path dir;

    @Test
    void mintedTokenHasExpectedHeaderAndClaims() throws Exception {
        byte[] secret = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8);
        long before = Instant.now().getEpochSecond();

        String token = TokenMinter.mintHs256(secret, "agent-9", Duration.ofHours(1), AUDIENCE);

        assertThat(token.split("\\.").length, is(3));
        Map<String, Object> header = TestTokens.decodePart(token, 0);
        assertThat(header.get("alg"), is("HS256"));
        assertThat(header.get("typ"), is("JWT"));
        assertThat(header.containsKey("kid"), is(false));
        Map<String, Object> claims = TestTokens.decodePart(token, 1);
        assertThat(claims.get("agent_id"), is("agent-9"));
        assertThat(claims.get("sub"), is("agent-9"));
        assertThat(claims.get("aud"), is(List.of(AUDIENCE)));
        long iat = ((Number) claims.get("iat")).longValue();
        assertThat(iat >= before && iat <= before + 5, is(true));
        assertThat(((Number) claims.get("exp")).longValue(), is(iat + 3600));
        UUID.fromString((String) claims.get("jti"));
        String again = TokenMinter.mintHs256(secret, "agent-9", Duration.ofHours(1), AUDIENCE);
        assertThat(TestTokens.decodePart(again, 1).get("jti"), not(claims.get("jti")));
    }

    @Test
    void mintedTokenMatchesIndependentHmac() throws Exception {
        byte[] secret = "raw secret bytes, not base64, 32+ long".getBytes(StandardCharsets.UTF_8);
        String token = TokenMinter.mintHs256(secret, "agent-1", Duration.ofMinutes(1), AUDIENCE);
        String[] parts = token.split("\\.");

        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret, "HmacSHA256"));
        byte[] expected = mac.doFinal((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
        assertThat(Base64.getUrlEncoder().withoutPadding().encodeToString(expected), is(parts[2]));
    }

    @Test
    void roundTripsThroughVerifierUsingSecretFile() throws Exception {
        Path file = Files.writeString(dir.resolve("secret"), "openssl-style-base64-secret+/0123456789abc==\n");
        String token = TokenMinter.mintHs256(TokenMinter.readSecret(file), "agent-2", Duration.ofMinutes(2), AUDIENCE);

        Claims claims = TokenVerifier.create(Optional.of(file), Optional.empty(), AUDIENCE).verify(token);

        assertThat(claims.agentId(), is("agent-2"));
        assertThat(claims.subject(), is(Optional.of("agent-2")));
    }

    @Test
    void readSecretTrimsOnlySurroundingAsciiWhitespace() throws Exception {
        byte[] binary = {(byte) 0xff, 0x00, ' ', (byte) 0x80};
        Path file = Files.write(dir.resolve("binary"), new byte[] {'\n', (byte) 0xff, 0x00, ' ', (byte) 0x80, '\r', '\n'});

        assertThat(TokenMinter.readSecret(file), is(binary));
    }

    @Test
    void readSecretRefusesEmptyAndMissingFiles() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty"), "\n \n");

        assertThrows(IllegalArgumentException.class, () -> TokenMinter.readSecret(empty));
        assertThrows(IllegalArgumentException.class, () -> TokenMinter.readSecret(dir.resolve("missing")));
    }

    @Test
    void invalidArgumentsAreRefused() {
        byte[] secret = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8);
        assertThat(TokenMinter.mintHs256(secret, "a", Duration.ofMinutes(1), "x").split("\\.").length, is(3));
        assertThrows(IllegalArgumentException.class,
                     () -> TokenMinter.mintHs256(Arrays.copyOf(secret, 31), "a", Duration.ofMinutes(1), "x"));
        assertThrows(IllegalArgumentException.class, () -> TokenMinter.mintHs256(new byte[0], "a", Duration.ofMinutes(1), "x"));
        assertThrows(IllegalArgumentException.class, () -> TokenMinter.mintHs256(secret, " ", Duration.ofMinutes(1), "x"));
        assertThrows(IllegalArgumentException.class, () -> TokenMinter.mintHs256(secret, "a", Duration.ZERO, "x"));
        assertThrows(IllegalArgumentException.class, () -> TokenMinter.mintHs256(secret, "a", Duration.ofMinutes(1), ""));
    }
}
