/**
 * The hub's status page ({@code /status}, {@code /status.json}): a server-rendered HTML page that a small script of
 * our own refreshes from the JSON, with the connectors, the agents and the process at a glance. Everything shown is
 * read from the hub's state (no probes); every peer-supplied string is escaped.
 */
package io.nowconnect.hub.status;
