/**
 * The hub's TLS port: the {@code FrontDoor} that completes each TLS handshake, under a deadline and within the
 * connection cap, before Helidon's listener sees the connection (Helidon 4.2.0 leaks a connection permit for every
 * handshake that does not complete), and the hub's certificate and key, reloaded when their files change.
 */
package io.nowconnect.hub.tls;
