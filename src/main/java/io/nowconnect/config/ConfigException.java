package io.nowconnect.config;

import java.util.List;

/** Invalid configuration: every problem found, each naming its variable. Never contains a secret's value. */
public final class ConfigException extends RuntimeException {
    private final List<String> problems;

    /**
     * Create from a list of problems.
     *
     * @param problems one line each, naming the variable
     */
    public ConfigException(List<String> problems) {
        super("Invalid configuration:\n  - " + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    /**
     * The problems, one line each.
     *
     * @return problems
     */
    public List<String> problems() {
        return problems;
    }
}
