/**
 * The {@code demo} mode: a hub on loopback with a fresh secret, a minted token and an agent connected to it, in one
 * process, using the real hub and agent code paths. Exports a built-in echo service unless connectors are configured.
 */
package io.nowconnect.demo;
