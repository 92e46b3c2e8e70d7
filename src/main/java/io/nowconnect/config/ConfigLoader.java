package io.nowconnect.config;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import io.helidon.config.Config;
import io.helidon.config.ConfigSources;
import io.helidon.config.EnvironmentVariables;

/**
 * Builds the Helidon {@link Config} from the process environment merged with an optional env file.
 *
 * <p>Both go through Helidon's environment alias expansion, so {@code NC_TARGET_ldap_HOST} is also visible as
 * {@code nc.target.ldap.host}. Real environment variables win over the file (the first source added wins).
 */
public final class ConfigLoader {
    /** Variable naming the env file when {@code --env-file} is not given. */
    public static final String ENV_FILE_VAR = "NC_ENV_FILE";

    private ConfigLoader() {
    }

    /**
     * Resolve the env file: the command line option wins over {@code NC_ENV_FILE}.
     *
     * @param cliEnvFile value of {@code --env-file}, if any
     * @param env process environment
     * @return the env file to read, if any
     */
    public static Optional<Path> envFile(Optional<String> cliEnvFile, Map<String, String> env) {
        return cliEnvFile.or(() -> Optional.ofNullable(env.get(ENV_FILE_VAR)))
                .filter(s -> !s.isBlank())
                .map(Path::of);
    }

    /**
     * Load configuration.
     *
     * @param env the process environment (or a test's map)
     * @param envFile optional env file, lower priority than {@code env}
     * @return merged config
     * @throws ConfigException when the env file cannot be read or parsed
     */
    public static Config load(Map<String, String> env, Optional<Path> envFile) {
        Map<String, String> fileVars = envFile.map(EnvFile::read).orElse(Map.of());
        return fromMaps(env, fileVars);
    }

    /**
     * The environment merged over the env file's variables, as one map (the environment wins).
     *
     * @param env process environment
     * @param envFile optional env file
     * @return merged variables
     */
    public static Map<String, String> merged(Map<String, String> env, Optional<Path> envFile) {
        Map<String, String> all = new java.util.HashMap<>(envFile.map(EnvFile::read).orElse(Map.of()));
        all.putAll(env);
        return all;
    }

    /**
     * Merge two variable maps into a config; {@code primary} wins.
     *
     * @param primary higher priority variables (the environment)
     * @param secondary lower priority variables (the env file)
     * @return merged config
     */
    public static Config fromMaps(Map<String, String> primary, Map<String, String> secondary) {
        return Config.builder()
                .disableEnvironmentVariablesSource()
                .disableSystemPropertiesSource()
                .disableFilterServices()
                .disableMapperServices()
                .disableParserServices()
                .disableValueResolving()
                .addSource(ConfigSources.create(EnvironmentVariables.expand(primary), "environment"))
                .addSource(ConfigSources.create(EnvironmentVariables.expand(secondary), "env-file"))
                .build();
    }
}
