package io.nowconnect.tunnel;

import java.nio.file.Path;

/** Why the supervisor moves to a new tunnel while the current one still works (make-before-break). */
sealed interface ReconnectCause {
    /** The token file's content changed (watch event or poll). */
    ReconnectCause TOKEN_FILE_CHANGED = new TokenFileChanged();
    /** The current token's {@code exp} is near and the token file holds another token. */
    ReconnectCause TOKEN_EXPIRING = new TokenExpiring();
    /** The configuration (env file) changed. */
    ReconnectCause CONFIG_CHANGED = new ConfigChanged();

    /**
     * Reason for logs ({@code reason} of the {@code rotating} event).
     *
     * @return short text
     */
    String describe();

    /** The token file's content changed; the new token is checked before a tunnel is opened with it. */
    record TokenFileChanged() implements ReconnectCause {
        @Override
        public String describe() {
            return "token file changed";
        }
    }

    /** The current token expires soon. */
    record TokenExpiring() implements ReconnectCause {
        @Override
        public String describe() {
            return "token expires soon";
        }
    }

    /** New connectors, targets or tunnel settings. */
    record ConfigChanged() implements ReconnectCause {
        @Override
        public String describe() {
            return "configuration changed";
        }
    }

    /**
     * A client certificate, key or CA bundle changed; the material is checked before a tunnel is opened with it.
     *
     * @param file the file that changed
     */
    record TlsFileChanged(Path file) implements ReconnectCause {
        @Override
        public String describe() {
            return "TLS file " + file.getFileName() + " changed";
        }
    }
}
