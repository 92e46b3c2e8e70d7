/**
 * Hub-side authentication of premise agents: verification of the bearer JWT an agent presents when it opens its
 * tunnel, and minting of HS256 tokens for operators who run the hub with a shared secret.
 *
 * <p>{@link io.nowconnect.hub.auth.TokenVerifier} accepts HS256 tokens signed with a secret from {@code
 * NC_HUB_JWT_SECRET_FILE} (one per line, newest first) and RS/ES tokens signed by a key from {@code NC_HUB_JWKS_FILE}
 * (a JWKS or PEM file); each key only ever verifies the algorithm family it belongs to, so algorithm-confusion and
 * {@code alg=none} tokens are refused. The keys come from a {@link io.nowconnect.hub.auth.KeySource}, asked on every
 * token: {@link io.nowconnect.hub.auth.FileKeySource} reads a key file again when the hub sees it change (a bad file
 * keeps the last good {@link io.nowconnect.hub.auth.KeySet}), and a JWKS fetched from a URL can plug in the same way.
 * {@link io.nowconnect.hub.auth.Revocations} is the watched list of revoked {@code jti} and {@code agent_id} values;
 * {@link io.nowconnect.hub.auth.TokenVerifier#standing} tells a live tunnel whether its token was revoked or its key
 * removed. Failures are {@link io.nowconnect.hub.auth.AuthException}s carrying an HTTP status and a short reason; no
 * token or key material is ever put in a message.
 *
 * <p>Authorization: {@link io.nowconnect.hub.auth.ConnectorScope} limits the connectors an agent may serve to its
 * token's {@code connectors} claim, {@link io.nowconnect.hub.auth.TokenLifetime} ends what a tunnel may do when its
 * token expires, and {@link io.nowconnect.hub.auth.KeyStrength} refuses weak keys.
 */
package io.nowconnect.hub.auth;
