package io.nowconnect;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The project version, from the build (sent in HELLO as {@code ver}). */
public final class Version {
    private static final String VERSION = load();

    private Version() {
    }

    /**
     * Project version, e.g. {@code 1.0.0}.
     *
     * @return version
     */
    public static String current() {
        return VERSION;
    }

    private static String load() {
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in == null) {
                return "dev";
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "dev");
            return v.startsWith("${") ? "dev" : v;
        } catch (IOException e) {
            return "dev";
        }
    }
}
