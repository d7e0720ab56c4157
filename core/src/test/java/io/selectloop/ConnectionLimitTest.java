package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code maxConnections}: peers over the limit wait in the backlog and are admitted as others leave. */
class ConnectionLimitTest {
    private EventLoop loop;
    private final TestSupport.Events events = new TestSupport.Events();

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("limit-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    /** One full pass of the loop: whatever was ready when this was called has been handled. */
    private void loopPass() throws Exception {
        CompletableFuture<Void> pass = new CompletableFuture<>();
        loop.execute(() -> loop.execute(() -> pass.complete(null)));
        pass.get(10, TimeUnit.SECONDS);
    }

    private static byte[] hello(int client) {
        return ("hello from " + client + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void exactlyNAreServedAndClosingKAdmitsKMore() throws Exception {
        int limit = 20;
        int extra = 50;
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().maxConnections(limit).build(),
                () -> new TestSupport.RecordingEcho(events));
        List<SocketChannel> clients = new ArrayList<>();
        try {
            // Connected one after another, so the backlog holds them in this order.
            for (int i = 0; i < limit + extra; i++) {
                SocketChannel ch = connect(server.localAddress());
                clients.add(ch);
                writeFully(ch, ByteBuffer.wrap(hello(i)));
            }
            for (int i = 0; i < limit; i++) {
                assertArrayEquals(hello(i), readFully(clients.get(i), hello(i).length), "client " + i + " is served");
            }
            // Every peer is connected and has sent; the listener stays ready; a few passes
            // of the loop later, still no more than the limit has been accepted.
            for (int pass = 0; pass < 3; pass++) {
                loopPass();
            }
            assertEquals(limit, server.acceptedCount(), "accepted");
            assertEquals(limit, server.connectionCount(), "open");
            assertEquals(limit, events.opened.size(), "onOpen calls");
            assertTrue(server.connectionLimitPauses() >= 1);

            int k = 10;
            for (int i = 0; i < k; i++) {
                clients.get(i).close();
            }
            for (int i = limit; i < limit + k; i++) {
                assertArrayEquals(hello(i), readFully(clients.get(i), hello(i).length),
                        "waiting client " + i + " is admitted and its early bytes echoed");
            }
            eventually().until(() -> server.acceptedCount() == limit + k);
            for (int pass = 0; pass < 3; pass++) {
                loopPass();
            }
            assertEquals(limit + k, server.acceptedCount(), "closing " + k + " admitted exactly " + k);
            assertEquals(limit, server.connectionCount());

            // Everyone still waiting gets in, in turn, as the others leave.
            for (int i = limit + k; i < limit + extra; i++) {
                clients.get(i - limit).close(); // make room, one for one
                assertArrayEquals(hello(i), readFully(clients.get(i), hello(i).length), "client " + i);
            }
        } finally {
            for (SocketChannel ch : clients) {
                ch.close();
            }
        }
        eventually().until(() -> events.closed.size() == limit + extra);
        events.assertEachClosedOnce();
    }
}
