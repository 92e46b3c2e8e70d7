package io.nowconnect.tunnel;

import java.time.Duration;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * How long an empty drain keeps the tunnel open after DRAIN, for the OPENs the hub sent before it read it: four round
 * trips, within 250 ms and 2 s; 2 s when no round trip was measured.
 */
class DrainHoldTest {
    @Test
    void fourRoundTripsWithinItsBounds() {
        assertEquals(Duration.ofSeconds(2), TunnelConnection.drainHold(-1), "unknown round trip");
        assertEquals(Duration.ofMillis(250), TunnelConnection.drainHold(Duration.ofMillis(1).toNanos()), "loopback");
        assertEquals(Duration.ofMillis(400), TunnelConnection.drainHold(Duration.ofMillis(100).toNanos()), "a WAN");
        assertEquals(Duration.ofSeconds(2), TunnelConnection.drainHold(Duration.ofSeconds(3).toNanos()), "a slow hub");
        assertEquals(Duration.ofSeconds(2), TunnelConnection.drainHold(Long.MAX_VALUE), "no overflow");
    }
}
