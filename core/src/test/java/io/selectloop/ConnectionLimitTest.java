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

/**
 * {@code maxConnections}: peers over the limit wait in the backlog and are admitted as
 * others leave ({@link OverLimit#WAIT}), or are told and closed at once ({@link OverLimit#REJECT}).
 */
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

    /** Reject mode: the peer over the limit reads the message and end of stream at once, instead of hanging. */
    @Test
    void overTheLimitRejectModeAnswersAndClosesAtOnce() throws Exception {
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().maxConnections(2).overLimit(OverLimit.REJECT)
                        .overLimitMessage("busy\n".getBytes(StandardCharsets.US_ASCII)).build(),
                () -> new TestSupport.RecordingEcho(events));
        try (SocketChannel first = connect(server.localAddress());
             SocketChannel second = connect(server.localAddress())) {
            eventually().until(() -> server.connectionCount() == 2);
            for (int i = 0; i < 3; i++) {
                try (SocketChannel refused = connect(server.localAddress())) {
                    assertEquals("busy\n", new String(TestSupport.readToEnd(refused), StandardCharsets.US_ASCII));
                }
            }
            assertEquals(3, server.rejectedCount());
            assertEquals(2, server.connectionCount(), "the rejected never counted as connections");
            writeFully(first, ByteBuffer.wrap(hello(1)));
            assertArrayEquals(hello(1), readFully(first, hello(1).length), "those within the limit are served");
        }
        // Below the limit again, a new peer is served, not rejected.
        eventually().until(() -> server.connectionCount() == 0);
        try (SocketChannel later = connect(server.localAddress())) {
            writeFully(later, ByteBuffer.wrap(hello(3)));
            assertArrayEquals(hello(3), readFully(later, hello(3).length));
        }
    }
}
