package io.nowconnect.hub;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import static io.nowconnect.hub.HubProtocolTest.WAIT;
import static io.nowconnect.hub.HubProtocolTest.awaitMetric;
import static io.nowconnect.hub.HubProtocolTest.claims;
import static io.nowconnect.hub.HubProtocolTest.goodToken;
import static io.nowconnect.hub.HubProtocolTest.header;
import static io.nowconnect.hub.HubProtocolTest.jwt;
import static io.nowconnect.hub.HubProtocolTest.metric;
import static io.nowconnect.hub.HubProtocolTest.secret;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Agent authentication at the hub: every bad token is refused with HTTP 401 at the upgrade (no WebSocket exists),
 * a HELLO for another agent_id than the token's claim is closed with 1008, and each refusal is counted.
 * Tokens are hand-built with JDK crypto, so they do not depend on the hub's own minter.
 */
@Timeout(60)
@ExtendWith(TestKit.class)
class HubAuthTest {
    private static final String FAILURES = "nowconnect_hub_auth_failures_total";

    Harness harness;
    Hub hub;

    @BeforeEach
    void setUp(Harness harness) {
        this.harness = harness;
        hub = harness.startHub("auth");
    }

    @Test
    void handBuiltTokenIsAccepted() throws Exception {
        // the control for the refusals below: each of them differs from this token in one thing only
        try (RawAgent agent = RawAgent.connect(hub.port(),goodToken(harness, Harness.AGENT_ID))) {
            agent.hello("auth");
            Harness.await(WAIT, () -> hub.agentCount() == 1, "tunnel ready");
        }
        // the minted token of the project is accepted too
        String minted = java.nio.file.Files.readString(harness.tokenFile("premise-02", java.time.Duration.ofMinutes(5)))
                .strip();
        assertEquals(101, RawAgent.upgradeStatus(hub.port(), "Bearer " + minted));
    }

    @Test
    void badTokensAreRefusedWith401BeforeAnyWebSocket() throws Exception {
        byte[] key = secret(harness);
        long now = Instant.now().getEpochSecond();

        Map<String, Object> expired = claims(Harness.AGENT_ID);
        expired.put("iat", now - 7200);
        expired.put("exp", now - 3600);

        Map<String, Object> wrongAudience = claims(Harness.AGENT_ID);
        wrongAudience.put("aud", "someone-else");

        Map<String, Object> noAgentId = claims(Harness.AGENT_ID);
        noAgentId.remove("agent_id");

        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String unsigned = b64.encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString(HubProtocolTest.JSON.writeValueAsBytes(claims(Harness.AGENT_ID))) + ".";
        // alg=none but carrying a valid HS256 MAC must not pass either
        String noneWithMac = jwt(header("none"), claims(Harness.AGENT_ID), key);

        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("expired", "Bearer " + jwt(header("HS256"), expired, key));
        cases.put("wrong audience", "Bearer " + jwt(header("HS256"), wrongAudience, key));
        cases.put("wrong signature", "Bearer " + jwt(header("HS256"), claims(Harness.AGENT_ID),
                                                      "another-secret-0123456789abcdef".getBytes(StandardCharsets.UTF_8)));
        cases.put("alg none", "Bearer " + unsigned);
        cases.put("alg none with mac", "Bearer " + noneWithMac);
        cases.put("missing agent_id", "Bearer " + jwt(header("HS256"), noAgentId, key));
        cases.put("garbage", "Bearer not.a.jwt");
        cases.put("garbage 2", "Bearer %%%");
        cases.put("other scheme", "Basic " + Base64.getEncoder().encodeToString("a:b".getBytes(StandardCharsets.UTF_8)));

        double before = metric(hub.port(), FAILURES);
        double missing = metric(hub.port(), FAILURES, "reason", "missing_token");
        int status = RawAgent.upgradeStatus(hub.port(), null);
        assertEquals(401, status, "no Authorization header");
        Map<String, Integer> statuses = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, String> c : cases.entrySet()) {
            statuses.put(c.getKey(), RawAgent.upgradeStatus(hub.port(), c.getValue()));
        }
        assertAll(statuses.entrySet().stream()
                          .map(e -> () -> assertEquals(401, e.getValue(), e.getKey() + " must be refused with 401")));
        assertEquals(0, hub.agentCount());
        // the counters are process-wide: other hubs of this JVM may add to them, never take away
        double after = metric(hub.port(), FAILURES);
        assertTrue(after >= before + 1 + cases.size(), "every refusal counted: " + before + " -> " + after);
        double missingAfter = metric(hub.port(), FAILURES, "reason", "missing_token");
        assertTrue(missingAfter >= missing + 2, "no header and another scheme count as a missing token: " + missing
                + " -> " + missingAfter);
    }

    @Test
    void helloWithAnotherAgentIdIsClosedWithPolicyViolation() throws Exception {
        double before = metric(hub.port(), FAILURES, "reason", "agent_id_mismatch");
        try (RawAgent agent = RawAgent.connect(hub.port(),goodToken(harness, Harness.AGENT_ID))) {
            agent.send("{\"t\":\"HELLO\",\"agent_id\":\"premise-99\",\"connectors\":[\"auth\"],\"ver\":\"1.5\"}");
            assertEquals(1008, agent.awaitClose(WAIT));
            assertEquals(java.util.List.of(), agent.pending(), "no HELLO_ACK before the close");
        }
        assertEquals(0, hub.agentCount());
        awaitMetric(hub.port(), before + 1, FAILURES, "reason", "agent_id_mismatch");
    }
}
