/**
 * Hub-side authentication of premise agents: verification of the bearer JWT an agent presents when it opens its
 * tunnel, and minting of HS256 tokens for operators who run the hub with a shared secret.
 *
 * <p>{@link io.nowconnect.hub.auth.TokenVerifier} accepts HS256 tokens signed with the secret from
 * {@code NC_HUB_JWT_SECRET_FILE} and RS/ES tokens signed by a key from {@code NC_HUB_JWKS_FILE} (a JWKS or PEM file);
 * each key only ever verifies the algorithm family it belongs to, so algorithm-confusion and {@code alg=none} tokens
 * are refused. Failures are {@link io.nowconnect.hub.auth.AuthException}s carrying an HTTP status and a short reason;
 * no token or key material is ever put in a message.
 *
 * <p>Authorization: {@link io.nowconnect.hub.auth.ConnectorScope} limits the connectors an agent may serve to its
 * token's {@code connectors} claim, {@link io.nowconnect.hub.auth.TokenLifetime} ends what a tunnel may do when its
 * token expires, and {@link io.nowconnect.hub.auth.KeyStrength} refuses weak keys.
 */
package io.nowconnect.hub.auth;
