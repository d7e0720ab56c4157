package io.selectloop.echo;

import java.time.Duration;

/**
 * Smoke or full size. The default build runs every scenario small, so the whole suite
 * costs about a minute; {@code mvn -B verify -Phostile} sets {@code -Dhostile.full=true}
 * and runs the sizes from the issue (10,000 flooding peers, 15,000 slowloris peers, ...).
 */
final class HostileScale {
    static final boolean FULL = Boolean.getBoolean("hostile.full");

    private HostileScale() {
    }

    static <T> T pick(T smoke, T full) {
        return FULL ? full : smoke;
    }

    /**
     * How long to wait for something the server should do promptly (answer a fresh
     * client, reap a peer) before calling it not done. A bound, not a measurement: long
     * enough for a busy shared machine, short enough that a broken server fails the
     * smoke run in seconds rather than minutes.
     */
    static Duration patience() {
        return pick(Duration.ofSeconds(20), Duration.ofSeconds(60));
    }
}
