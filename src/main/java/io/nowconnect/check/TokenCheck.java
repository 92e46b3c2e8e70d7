package io.nowconnect.check;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

import io.nowconnect.config.AgentConfig;
import io.nowconnect.tunnel.HubProbe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The token file as the agent reads it ({@link TokenSource}: readable, not empty), and its claims read without the
 * signature (only the hub holds the key): a JWT, {@code agent_id} against {@code NC_AGENT_ID}, {@code exp} and the
 * time left, {@code nbf}, {@code aud}, and the {@code connectors} claim against {@code NC_CONNECTORS}.
 *
 * <p>Threads: the caller's. The token itself never reaches the report.
 */
final class TokenCheck {
    /**
     * What the claims say, for the hub checks that follow.
     *
     * @param token the token, for the upgrade (never printed)
     * @param allowed connectors the hub will serve: {@code NC_CONNECTORS} within the claim (all without a claim)
     * @param claimed whether the token has a {@code connectors} claim
     */
    record Token(Optional<String> token, List<String> allowed, boolean claimed) {
    }

    private TokenCheck() {
    }

    static Token run(AgentConfig config, Report report) {
        List<String> all = config.connectorNames();
        if (config.tokenFile().isEmpty()) {
            report.warn("token file", "", "NC_TOKEN_FILE is not set: the agent connects without Authorization",
                        "set NC_TOKEN_FILE to the file holding the agent's JWT (hubs refuse agents without one: 401)");
            return new Token(Optional.empty(), all, false);
        }
        String file = config.tokenFile().get().toString();
        Optional<String> token;
        try {
            token = HubProbe.readToken(config.tokenFile());
        } catch (IOException e) {
            report.fail("token file", "", e.getMessage(), "check NC_TOKEN_FILE: the file, its owner and mode");
            return new Token(Optional.empty(), all, false);
        }
        if (token.isEmpty()) {
            report.fail("token file", "", file + " is empty", "write the agent's token (a JWT) into " + file);
            return new Token(Optional.empty(), all, false);
        }
        String[] parts = token.get().split("\\.", -1);
        JsonNode header;
        JsonNode claims;
        try {
            if (parts.length != 3) {
                throw new IOException("not three parts");
            }
            ObjectMapper json = new ObjectMapper();
            header = json.readTree(Base64.getUrlDecoder().decode(parts[0]));
            claims = json.readTree(Base64.getUrlDecoder().decode(parts[1]));
            if (header == null || !header.isObject() || claims == null || !claims.isObject()) {
                throw new IOException("not JSON objects");
            }
        } catch (IOException | IllegalArgumentException e) {
            report.fail("token file", "", file + " does not hold a JWT (three base64url parts, JSON header and claims)",
                        "put the token itself into the file (e.g. the output of `nowconnect token`), nothing else");
            return new Token(token, all, false);
        }
        String alg = header.path("alg").asText("");
        if (alg.isEmpty() || alg.equalsIgnoreCase("none")) {
            report.fail("token file", "", file + ": a JWT with alg \"" + alg + "\": hubs refuse unsigned tokens",
                        "use a signed token (HS256, RS256 or ES256)");
        } else {
            report.ok("token file", "", file + ": a JWT (" + alg + ", " + parts[2].length() * 3 / 4
                    + "-byte signature); the signature is not checkable here (only the hub holds the key): see hub upgrade");
        }
        agentId(config, claims, report);
        expiry(claims, report);
        audience(claims, report);
        return connectors(all, claims, report, token);
    }

    private static void agentId(AgentConfig config, JsonNode claims, Report report) {
        String agentId = claims.path("agent_id").asText("");
        if (agentId.isEmpty()) {
            report.fail("token agent_id", "", "the token has no agent_id claim: hubs refuse it (401)",
                        "mint it with --agent-id " + config.agentId());
        } else if (!agentId.equals(config.agentId())) {
            report.fail("token agent_id", "", "the token's agent_id is \"" + agentId + "\", NC_AGENT_ID is \""
                    + config.agentId() + "\": the hub closes the tunnel after HELLO (1008)",
                        "set NC_AGENT_ID=" + agentId + ", or mint a token with --agent-id " + config.agentId());
        } else {
            report.ok("token agent_id", "", "\"" + agentId + "\" matches NC_AGENT_ID");
        }
    }

    private static void expiry(JsonNode claims, Report report) {
        Instant now = Instant.now();
        Instant nbf = claims.path("nbf").canConvertToLong() ? Instant.ofEpochSecond(claims.get("nbf").asLong()) : now;
        if (nbf.isAfter(now.plusSeconds(30))) {
            report.fail("token not before", "", "not valid before " + nbf + " (nbf)", "wait, or check this host's clock");
        }
        if (!claims.path("exp").canConvertToLong()) {
            report.fail("token expiry", "", "the token has no exp claim: hubs refuse it (401)", "mint a token with --ttl");
            return;
        }
        Instant exp = Instant.ofEpochSecond(claims.get("exp").asLong());
        String figure = Net.left(exp);
        if (!exp.isAfter(now)) {
            report.fail("token expiry", figure, "expired at " + exp + " (exp): the hub answers 401 (expired)",
                        "mint a new token and write it to NC_TOKEN_FILE (the agent picks it up without a restart)");
        } else if (Net.daysLeft(exp) < 1) {
            report.warn("token expiry", figure, "expires at " + exp + " (exp)",
                        "rotate it soon: write the new token to NC_TOKEN_FILE (no restart needed)");
        } else {
            report.ok("token expiry", figure, "expires at " + exp + " (exp)");
        }
    }

    private static void audience(JsonNode claims, Report report) {
        JsonNode aud = claims.path("aud");
        List<String> auds = new ArrayList<>();
        if (aud.isTextual()) {
            auds.add(aud.asText());
        } else if (aud.isArray()) {
            aud.forEach(a -> auds.add(a.asText()));
        }
        String iss = claims.path("iss").isTextual() ? ", iss \"" + claims.get("iss").asText() + "\"" : "";
        if (auds.isEmpty()) {
            report.fail("token audience", "", "the token has no aud claim: hubs refuse it (401)",
                        "mint it with --audience (the hub's NC_HUB_AUDIENCE, default nowconnect)");
        } else {
            report.ok("token audience", "", "aud " + String.join(",", auds) + iss
                    + " (must be the hub's NC_HUB_AUDIENCE, default nowconnect: see hub upgrade)");
        }
    }

    private static Token connectors(List<String> all, JsonNode claims, Report report, Optional<String> token) {
        JsonNode c = claims.path("connectors");
        if (c.isMissingNode() || c.isNull()) {
            report.warn("token connectors", "", "no connectors claim: the hub serves whatever this agent announces ("
                    + String.join(",", all) + ")", "mint it with --connectors " + String.join(",", all)
                    + " (hubs with NC_HUB_REQUIRE_CONNECTORS_CLAIM=true refuse it: 403)");
            return new Token(token, all, false);
        }
        if (!c.isArray()) {
            report.fail("token connectors", "", "the connectors claim is not a list: hubs refuse the token (401)",
                        "mint it with --connectors " + String.join(",", all));
            return new Token(token, List.of(), true);
        }
        List<String> claim = new ArrayList<>();
        c.forEach(n -> claim.add(n.asText()));
        List<String> allowed = all.stream().filter(claim::contains).toList();
        List<String> refused = all.stream().filter(n -> !claim.contains(n)).toList();
        if (allowed.isEmpty()) {
            report.fail("token connectors", "", "the claim allows " + claim + ", NC_CONNECTORS is " + all
                    + ": none left, the hub closes the tunnel (1008)", "mint it with --connectors " + String.join(",", all));
        } else if (!refused.isEmpty()) {
            report.warn("token connectors", allowed.size() + "/" + all.size(), "the claim allows " + claim
                    + ": the hub will not route " + refused, "mint it with --connectors " + String.join(",", all)
                    + ", or drop " + String.join(",", refused) + " from NC_CONNECTORS");
        } else {
            report.ok("token connectors", allowed.size() + "/" + all.size(), "the claim " + claim
                    + " covers NC_CONNECTORS");
        }
        return new Token(token, allowed, true);
    }
}
