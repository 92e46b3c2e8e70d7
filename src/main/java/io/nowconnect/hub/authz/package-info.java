/**
 * Who may reach a connector, decided outside the hub: each client connection is put to a policy decision point through
 * the OpenID AuthZEN Authorization API 1.0 before it becomes a stream ({@link io.nowconnect.hub.authz.ConnectionPolicy}),
 * with a short-lived decision cache and a deadline.
 */
package io.nowconnect.hub.authz;
