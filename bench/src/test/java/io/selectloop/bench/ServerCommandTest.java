package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@code server} command's refusals, which return before it would start serving, and the reactor's loop group. */
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

    /** Runs on every JDK: below 21 `virtual` is unavailable too, from 21 on it would start serving. */
    @Test
    void anUnavailableImplExitsWithItsOwnStatus() {
        assertEquals(Bench.EXIT_UNAVAILABLE, Bench.run("server", "--impl", "never-available", "--port", "0"));
        if (Runtime.version().feature() < 21) {
            assertEquals(Bench.EXIT_UNAVAILABLE, Bench.run("server", "--impl", "virtual", "--port", "0"));
        }
    }

    @Test
    void anUnknownImplIsABadOption() {
        assertEquals(2, Bench.run("server", "--impl", "no-such-server", "--port", "0"));
    }

    @Test
    void theReactorRefusesFewerThanOneLoop() {
        assertEquals(2, Bench.run("server", "--impl", "reactor", "--loops", "0", "--port", "0"));
    }

    /** With --loops 2 the reactor runs a loop group: connections on both loops echo. */
    @Test
    void theReactorServesOnALoopGroup() throws Exception {
        EchoServerImpl.RunningServer server = new ReactorEchoServer()
                .start(new InetSocketAddress("127.0.0.1", 0), new EchoServerImpl.ServerSettings(2));
        try {
            for (int i = 0; i < 4; i++) { // round-robin: two on each loop
                try (Socket socket = new Socket(server.localAddress().getAddress(), server.localAddress().getPort())) {
                    byte[] message = ("connection " + i).getBytes(StandardCharsets.US_ASCII);
                    socket.getOutputStream().write(message);
                    assertArrayEquals(message, socket.getInputStream().readNBytes(message.length));
                }
            }
        } finally {
            server.close();
        }
    }

    @Test
    void tlsSelectsEachImplsTlsVariant() {
        for (String plain : List.of("reactor", "threads", "netty-nio")) {
            EchoServerImpl tls = ServerImpls.find(ServerImpls.tlsVariant(plain)).orElseThrow();
            assertEquals(plain + "-tls", tls.name());
            assertTrue(tls.tls());
            assertFalse(ServerImpls.find(plain).orElseThrow().tls());
        }
        assertEquals("reactor-tls", ServerImpls.tlsVariant("reactor-tls"));
        assertEquals(ServerImpls.BUILT_IN_TLS, ServerImpls.BUILT_IN_TLS.stream().filter(n -> ServerImpls.find(n).isPresent()).toList());
    }

    @Test
    void anImplWithoutATlsVariantIsABadOption() {
        assertEquals(2, Bench.run("server", "--impl", "netty-epoll", "--tls", "--port", "0"));
    }

    @Test
    void aKeyStoreForAPlainServerIsABadOption() {
        assertEquals(2, Bench.run("server", "--impl", "reactor", "--tls-keystore", "/nonexistent.p12", "--port", "0"));
    }

    @Test
    void testImplsAreFoundThroughTheServiceLoader() {
        assertEquals(CorruptingEchoServer.class, ServerImpls.find("corrupting").orElseThrow().getClass());
    }
}
