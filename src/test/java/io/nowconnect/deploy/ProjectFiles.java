package io.nowconnect.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.nowconnect.config.EnvFile;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/** Reads project files relative to the project root (Maven runs tests there) and extracts NC_* names. */
final class ProjectFiles {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path ENV_EXAMPLE = ROOT.resolve("etc/nowconnect.env.example");

    /** A variable name, without a trailing underscore (so "NC_TARGET_" + name is not taken for a variable). */
    private static final Pattern NC_VAR = Pattern.compile("\\bNC_[A-Za-z0-9_]*[A-Za-z0-9]");
    private static final Pattern TARGET_VAR = Pattern.compile("NC_TARGET_[A-Za-z0-9_-]+_(HOST|PORT)");
    private static final Pattern DOCUMENTED = Pattern.compile("^#?\\s*(NC_[A-Za-z0-9_]+)=", Pattern.MULTILINE);

    private ProjectFiles() {
    }

    static String read(String relative) {
        return read(ROOT.resolve(relative));
    }

    static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + ROOT.relativize(file.toAbsolutePath()), e);
        }
    }

    static List<Path> list(String dir, String suffix) {
        try (Stream<Path> s = Files.walk(ROOT.resolve(dir))) {
            return s.filter(Files::isRegularFile).filter(p -> p.toString().endsWith(suffix)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** NC_* names in a text; per-connector names become {@code NC_TARGET_<name>_HOST} / {@code _PORT}. */
    static Set<String> ncVariables(String text) {
        Set<String> names = new TreeSet<>();
        Matcher m = NC_VAR.matcher(text);
        while (m.find()) {
            String name = normalize(m.group());
            if (!name.equals("NC_TARGET")) {
                names.add(name);
            }
        }
        return names;
    }

    static String normalize(String name) {
        Matcher t = TARGET_VAR.matcher(name);
        return t.matches() ? "NC_TARGET_<name>_" + t.group(1) : name;
    }

    /** Variables the env example documents: every {@code NC_X=} line, commented out or not. */
    static Set<String> documentedVariables() {
        Set<String> names = new TreeSet<>();
        Matcher m = DOCUMENTED.matcher(read(ENV_EXAMPLE));
        while (m.find()) {
            names.add(normalize(m.group(1)));
        }
        return names;
    }

    /** The commented-out {@code #NC_X=value} lines of the env example, in order. */
    static Map<String, String> commentedVariables() {
        Map<String, String> result = new LinkedHashMap<>();
        for (String line : read(ENV_EXAMPLE).split("\r?\n")) {
            if (line.startsWith("#NC_")) {
                int eq = line.indexOf('=');
                result.put(line.substring(1, eq), line.substring(eq + 1));
            }
        }
        return result;
    }

    /** The env example as the agent's real env file parser reads it. */
    static Map<String, String> envExample() {
        return EnvFile.read(ENV_EXAMPLE);
    }

    /** String literals {@code "NC_..."} in the main sources: the variables the code reads. */
    static Set<String> variablesReadByCode() {
        Pattern literal = Pattern.compile("\"(NC_[A-Z0-9_]*[A-Z0-9])\"");
        Set<String> names = new TreeSet<>();
        for (Path p : list("src/main/java", ".java")) {
            Matcher m = literal.matcher(read(p));
            while (m.find()) {
                names.add(m.group(1));
            }
        }
        // the POSIX launcher reads a few of its own (${NC_CDS_DIR-...})
        Matcher shell = Pattern.compile("\\$\\{(NC_[A-Z0-9_]*[A-Z0-9])").matcher(read("src/dist/bin/nowconnect"));
        while (shell.find()) {
            names.add(shell.group(1));
        }
        return names;
    }

    static Map<String, Object> yaml(String relative) {
        List<Map<String, Object>> docs = yamlDocuments(relative);
        if (docs.size() != 1) {
            throw new IllegalStateException(relative + " should hold one YAML document, has " + docs.size());
        }
        return docs.get(0);
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> yamlDocuments(String relative) {
        Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : yaml.loadAll(read(relative))) {
            if (doc != null) {
                docs.add((Map<String, Object>) doc);
            }
        }
        return docs;
    }

    /** Walk a YAML tree: {@code at(doc, "spec", "template", 0)}; strings index maps, integers index lists. */
    @SuppressWarnings("unchecked")
    static <T> T at(Object node, Object... path) {
        Object current = node;
        for (Object key : path) {
            if (current == null) {
                return null;
            }
            current = key instanceof Integer i ? ((List<Object>) current).get(i) : ((Map<String, Object>) current).get(key);
        }
        return (T) current;
    }

    /** The project version from pom.xml (the first {@code <version>} after this project's artifactId). */
    static String projectVersion() {
        String pom = read("pom.xml");
        int artifact = pom.indexOf("<artifactId>nowconnect</artifactId>");
        Matcher m = Pattern.compile("<version>([^<]+)</version>").matcher(pom);
        if (artifact < 0 || !m.find(artifact)) {
            throw new IllegalStateException("no project version in pom.xml");
        }
        return m.group(1).strip();
    }
}
