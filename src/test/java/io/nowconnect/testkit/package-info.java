/**
 * The tests' kit: the {@link io.nowconnect.testkit.TestKit} JUnit extension that hands each test its
 * {@link io.nowconnect.testkit.Harness} (temporary directory, the project's hub and agents, targets, all on loopback,
 * stopped after the test), the one fake hub ({@link io.nowconnect.testkit.ScriptedHub}) and the scripted agent
 * ({@link io.nowconnect.testkit.RawAgent}); and the one of each helper the tests share: the wait
 * ({@link io.nowconnect.testkit.Harness#await}), the log capture ({@link io.nowconnect.testkit.LogCapture}), the
 * child-JVM launcher ({@link io.nowconnect.testkit.ChildJvm}), the thread census that sees virtual threads
 * ({@link io.nowconnect.testkit.ThreadCensus}) and the JVM's gauges ({@link io.nowconnect.testkit.Gauges}).
 */
package io.nowconnect.testkit;
