package io.nowconnect.testkit;

import java.lang.reflect.Constructor;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * The tests' JUnit 5 extension: a {@link Harness} parameter (of a test method or of a {@code @BeforeEach} method) is
 * the test's own harness, with its own temporary directory, on which the test starts what it needs (hubs, agents,
 * the {@link ScriptedHub}, targets); a {@link ScriptedHub} parameter is that harness's scripted hub. After each test
 * everything is stopped, the directory deleted, and the test fails if an exception escaped an {@code nc-*} thread.
 *
 * <pre>{@code
 * @ExtendWith(TestKit.class)
 * class EchoTest {
 *     @Test
 *     void echoes(Harness harness) throws Exception {
 *         EchoServer echo = harness.echo();
 *         Hub hub = harness.hub().connectors("echo").start();
 *         Agent agent = harness.agent(hub.port()).target("echo", echo.port()).start();
 *         Harness.awaitReady(agent, Duration.ofSeconds(10));
 *         ...
 *     }
 * }
 * }</pre>
 *
 * <p>One harness per test: every parameter of one test (its {@code @BeforeEach} methods included) gets the same one.
 * Constructors cannot take one (JUnit resolves them outside the test's scope).
 */
public final class TestKit implements ParameterResolver, AfterEachCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(TestKit.class);
    private static final String KEY = "harness";

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return !(parameter.getDeclaringExecutable() instanceof Constructor<?>)
                && (type == Harness.class || type == ScriptedHub.class);
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        if (context.getTestMethod().isEmpty()) {
            throw new ParameterResolutionException("a Harness belongs to one test: not available in "
                                                           + parameter.getDeclaringExecutable());
        }
        Harness harness = context.getStore(NAMESPACE).getOrComputeIfAbsent(KEY, k -> Harness.createInTempDir(),
                                                                          Harness.class);
        return parameter.getParameter().getType() == ScriptedHub.class ? harness.scriptedHub() : harness;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        Harness harness = context.getStore(NAMESPACE).remove(KEY, Harness.class);
        if (harness != null) {
            harness.close();
        }
    }
}
