/**
 * Files whose content may change while the process runs, noticed without a restart: the agent's token, TLS files and
 * env file, the hub's verification keys and revocation list ({@link io.nowconnect.watch.FileWatch}). It uses the JDK's
 * watch service directly (registered before the constructor returns), not Helidon's config watcher, which registers
 * after a 1 s delay and misses an early change for good.
 */
package io.nowconnect.watch;
