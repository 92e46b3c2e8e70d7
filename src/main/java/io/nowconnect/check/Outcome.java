package io.nowconnect.check;

/** The verdict of one check. */
public enum Outcome {
    /** As it should be. */
    OK,
    /** Works, but needs attention (expiring soon, a setting that weakens security, a replica not reached). */
    WARN,
    /** The agent or hub will not work this way. */
    FAIL
}
