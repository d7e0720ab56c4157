package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.Connection;
import io.selectloop.EventLoop;
import io.selectloop.Handler;
import io.selectloop.StreamServer;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code bench load --reconnect} against a server that hands every connection over after a
 * while, as a restarting echo demo does: FIN after an echo that may stop inside a message,
 * the rest of the client's input read and dropped, closed when the client closes.
 */
class LoadGeneratorReconnectTest {
    private EventLoop loop;
    private StreamServer server;
    private final AtomicLong handedOver = new AtomicLong();

    /** Echoes up to a budget of bytes that ends inside a message, then half-closes and drops the rest. */
    final class HandOver implements Handler {
        private long left = 64 * 37 + 19;

        @Override
        public void onData(Connection c, ByteBuffer data) {
            if (left <= 0) {
                return; // after our FIN: dropped, the client resends it elsewhere
            }
            int n = (int) Math.min(left, data.remaining());
            c.write(data.slice(data.position(), n));
            left -= n;
            if (left == 0) {
                handedOver.incrementAndGet();
                c.shutdownOutput();
            }
        }
    }

    @BeforeEach
    void start() throws Exception {
        loop = EventLoop.start("hand-over");
        server = StreamServer.bind(loop, new InetSocketAddress("127.0.0.1", 0), HandOver::new);
    }

    @AfterEach
    void stop() {
        loop.close();
    }

    private LoadGenerator generator(boolean reconnect) {
        LoadSpec spec = LoadSpec.closedLoop((InetSocketAddress) server.localAddress(), 8, 64, 4,
                Duration.ofMillis(100), Duration.ofMillis(500)).withProgress(false).withIoThreads(2);
        return new LoadGenerator(spec).reconnectWhenClosed(reconnect);
    }

    @Test
    void cleanHandOversAreReconnectedAndEveryMessageComesBackIntact() throws Exception {
        LoadGenerator generator = generator(true);
        LoadResult r = generator.run(LoadGenerator.PhaseListener.NONE);
        assertEquals(0, r.errors(), () -> "errors: " + r.errorSamples());
        assertTrue(r.messages() > 0);
        assertTrue(generator.reconnects() >= 8, "every connection was handed over at least once: " + generator.reconnects());
        assertTrue(handedOver.get() >= generator.reconnects());
    }

    @Test
    void withoutReconnectAHandOverIsAnError() throws Exception {
        LoadGenerator generator = generator(false);
        LoadResult r = generator.run(LoadGenerator.PhaseListener.NONE);
        assertTrue(r.errors() >= 8, "each closed connection is an error: " + r.errors());
        assertEquals(0, generator.reconnects());
    }
}
