package io.nowconnect.hub.auth;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/** Hand-built tokens and keys for tests, independent of the code under test (JDK crypto plus Jackson). */
final class TestTokens {
    static final String AUDIENCE = "nowconnect";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Base64.Encoder B64URL = Base64.getUrlEncoder().withoutPadding();

    private TestTokens() {
    }

    static KeyPair rsa() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        return generator.generateKeyPair();
    }

    static KeyPair ec(String curve) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec(curve));
        return generator.generateKeyPair();
    }

    /** Valid claims for agent {@code agent-1}, expiring in 10 minutes. */
    static Map<String, Object> claims() {
        Map<String, Object> claims = new LinkedHashMap<>();
        long now = Instant.now().getEpochSecond();
        claims.put("agent_id", "agent-1");
        claims.put("sub", "agent-1");
        claims.put("aud", AUDIENCE);
        claims.put("iat", now);
        claims.put("exp", now + 600);
        claims.put("jti", "jti-1");
        return claims;
    }

    static Map<String, Object> header(String alg, String kid) {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("alg", alg);
        header.put("typ", "JWT");
        if (kid != null) {
            header.put("kid", kid);
        }
        return header;
    }

    static String signingInput(Map<String, Object> header, Map<String, Object> claims) {
        return b64(json(header)) + "." + b64(json(claims));
    }

    static String hmac(String alg, byte[] secret, Map<String, Object> header, Map<String, Object> claims) throws Exception {
        String javaAlg = "Hmac" + "SHA" + alg.substring(2);
        Mac mac = Mac.getInstance(javaAlg);
        mac.init(new SecretKeySpec(secret, javaAlg));
        String input = signingInput(header, claims);
        return input + "." + B64URL.encodeToString(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
    }

    static String hs256(byte[] secret, Map<String, Object> claims) throws Exception {
        return hmac("HS256", secret, header("HS256", null), claims);
    }

    /** Sign with RSA (RSxxx) or ECDSA in JWS (P1363) format (ESxxx). */
    static String pki(String alg, String kid, PrivateKey key, Map<String, Object> claims) throws Exception {
        String bits = alg.substring(2);
        Signature signature = Signature.getInstance(alg.startsWith("RS")
                                                            ? "SHA" + bits + "withRSA"
                                                            : "SHA" + bits + "withECDSAinP1363Format");
        signature.initSign(key);
        Map<String, Object> header = header(alg, kid);
        String input = signingInput(header, claims);
        signature.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + B64URL.encodeToString(signature.sign());
    }

    static Map<String, Object> rsaJwk(RSAPublicKey key, String kid, String alg) {
        Map<String, Object> jwk = new LinkedHashMap<>();
        jwk.put("kty", "RSA");
        if (kid != null) {
            jwk.put("kid", kid);
        }
        if (alg != null) {
            jwk.put("alg", alg);
        }
        jwk.put("use", "sig");
        jwk.put("n", unsigned(key.getModulus(), 0));
        jwk.put("e", unsigned(key.getPublicExponent(), 0));
        return jwk;
    }

    static Map<String, Object> ecJwk(ECPublicKey key, String kid, String crv, int size) {
        Map<String, Object> jwk = new LinkedHashMap<>();
        jwk.put("kty", "EC");
        jwk.put("kid", kid);
        jwk.put("crv", crv);
        jwk.put("x", unsigned(key.getW().getAffineX(), size));
        jwk.put("y", unsigned(key.getW().getAffineY(), size));
        return jwk;
    }

    static String jwks(Map<?, ?>... keys) {
        return json(Map.of("keys", List.of(keys)));
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + type + "-----\n";
    }

    static String b64(String text) {
        return B64URL.encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> decodePart(String token, int part) throws Exception {
        String[] parts = token.split("\\.");
        return JSON.readValue(Base64.getUrlDecoder().decode(parts[part]), Map.class);
    }

    private static String unsigned(BigInteger value, int size) {
        byte[] bytes = value.toByteArray();
        if (bytes.length > 1 && bytes[0] == 0) {
            bytes = Arrays.copyOfRange(bytes, 1, bytes.length);
        }
        if (bytes.length < size) {
            byte[] padded = new byte[size];
            System.arraycopy(bytes, 0, padded, size - bytes.length, bytes.length);
            bytes = padded;
        }
        return B64URL.encodeToString(bytes);
    }
}
