/**
 * Configuration records built once at start from Helidon {@link io.helidon.config.Config}: the environment merged
 * with an optional env file. Every problem is collected and reported together in a {@link
 * io.nowconnect.config.ConfigException}; nothing starts half-configured.
 */
package io.nowconnect.config;
