package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** The {@code server} command's refusals, which return before it would start serving. */
class ServerCommandTest {

    @Test
    void virtualThreadsAreAvailableExactlyFromJdk21() {
        String reason = BlockingEchoServer.virtualThreads().unavailableReason();
        if (Runtime.version().feature() >= 21) {
            assertNull(reason);
        } else {
            assertNotNull(reason);
        }
    }

    @Test
    void anUnavailableImplExitsWithItsOwnStatus() {
        assumeTrue(Runtime.version().feature() < 21, "virtual threads exist here");
        assertEquals(Bench.EXIT_UNAVAILABLE, Bench.run("server", "--impl", "virtual", "--port", "0"));
    }

    @Test
    void anUnknownImplIsABadOption() {
        assertEquals(2, Bench.run("server", "--impl", "no-such-server", "--port", "0"));
    }

    @Test
    void theReactorRefusesMoreThanOneLoopUntilLoopGroupsExist() {
        assertEquals(2, Bench.run("server", "--impl", "reactor", "--loops", "2", "--port", "0"));
    }

    @Test
    void testImplsAreFoundThroughTheServiceLoader() {
        assertEquals(CorruptingEchoServer.class, ServerImpls.find("corrupting").orElseThrow().getClass());
    }
}
