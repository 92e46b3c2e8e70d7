/**
 * The tests' kit: the {@link io.nowconnect.testkit.TestKit} JUnit extension that hands each test its
 * {@link io.nowconnect.testkit.Harness} (temporary directory, the project's hub and agents, targets, all on loopback,
 * stopped after the test), the one fake hub ({@link io.nowconnect.testkit.ScriptedHub}) and the scripted agent
 * ({@link io.nowconnect.testkit.RawAgent}).
 */
package io.nowconnect.testkit;
