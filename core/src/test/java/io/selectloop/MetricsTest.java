package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.readToEnd;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The counters of {@link EventLoop#metrics()} and {@link StreamServer#metrics()}, against real sockets. */
class MetricsTest {
    private final List<AutoCloseable> closeLater = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : closeLater) {
            c.close();
        }
    }

    private EventLoop loop(String name) {
        EventLoop loop = EventLoop.start(name);
        closeLater.add(loop);
        return loop;
    }

    @Test
    void bytesReadsWritesAndConnectionsAreCountedPerServerAndPerLoop() throws Exception {
        EventLoop loop = loop("metrics-echo");
        StreamServer echo = StreamServer.bind(loop, anyLoopbackPort(), () -> (c, data) -> c.write(data));
        StreamServer other = StreamServer.bind(loop, anyLoopbackPort(), () -> (c, data) -> c.write(data));
        byte[] payload = TestSupport.randomBytes(new Random(11), 100_000);
        try (SocketChannel a = connect(echo.localAddress()); SocketChannel b = connect(echo.localAddress());
             SocketChannel c = connect(other.localAddress())) {
            writeFully(a, ByteBuffer.wrap(payload));
            assertArrayEquals(payload, readFully(a, payload.length));
            writeFully(b, ByteBuffer.wrap(payload, 0, 10));
            readFully(b, 10);
            writeFully(c, ByteBuffer.wrap(payload, 0, 7));
            readFully(c, 7);

            // Counted by the loop thread around its system calls, published once per
            // iteration: the peers may see their echo a moment before the counters do.
            eventually().untilAsserted(() -> {
                StreamMetrics server = echo.metrics();
                assertEquals(2, server.accepted());
                assertEquals(2, server.open());
                assertEquals(100_010, server.bytesRead());
                assertEquals(100_010, server.bytesWritten());
                assertTrue(server.reads() >= 2 && server.writes() >= 2, server.toString());
                assertEquals(0, server.closed());

                StreamMetrics all = loop.metrics().streams();
                assertEquals(3, all.accepted(), "the loop counts both servers");
                assertEquals(3, all.open());
                assertEquals(100_017, all.bytesRead());
                assertEquals(100_017, all.bytesWritten());
            });
        }
        // The peers closed their end: each server connection sees EOF and closes.
        eventually().until(() -> loop.metrics().streams().open() == 0);
        StreamMetrics server = echo.metrics();
        assertEquals(2, server.closed(CloseCause.PEER), server.toString());
        assertEquals(0, server.open());
        assertEquals(1, other.metrics().closed(CloseCause.PEER));
    }

    @Test
    void eachCloseIsCountedUnderItsCause() throws Exception {
        EventLoop loop = loop("metrics-causes");
        Framing lines = Framing.lines(16);
        StreamOptions idle = StreamOptions.builder().readIdleTimeout(Duration.ofMillis(50)).build();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), idle, () -> lines.handler((c, frame) -> {
            String command = StandardCharsets.US_ASCII.decode(frame).toString();
            switch (command) {
                case "throw":
                    throw new IllegalStateException("a handler bug, on purpose");
                case "close":
                    c.close();
                    return;
                default:
                    lines.write(c, frame);
            }
        }));
        try (SocketChannel handlerError = connect(server.localAddress());
             SocketChannel local = connect(server.localAddress());
             SocketChannel framing = connect(server.localAddress());
             SocketChannel idler = connect(server.localAddress())) {
            writeFully(handlerError, ByteBuffer.wrap("throw\n".getBytes(StandardCharsets.US_ASCII)));
            writeFully(local, ByteBuffer.wrap("close\n".getBytes(StandardCharsets.US_ASCII)));
            writeFully(framing, ByteBuffer.wrap("a line longer than sixteen bytes\n".getBytes(StandardCharsets.US_ASCII)));
            for (SocketChannel ch : List.of(handlerError, local, framing, idler)) {
                readToEnd(ch); // the server closed it
            }
        }
        eventually().until(() -> server.metrics().closed() == 4);
        StreamMetrics m = server.metrics();
        assertEquals(1, m.closed(CloseCause.HANDLER), m.toString());
        assertEquals(1, m.closed(CloseCause.LOCAL), m.toString());
        assertEquals(1, m.closed(CloseCause.FRAMING), m.toString());
        assertEquals(1, m.closed(CloseCause.IDLE), m.toString());
    }

    @Test
    void connectionsClosedByTheLoopsShutdownAreCountedAsShutdown() throws Exception {
        EventLoop loop = EventLoop.start("metrics-shutdown");
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new TestSupport.Discarding(new CompletableFuture<>()));
        try (SocketChannel ch = connect(server.localAddress())) {
            eventually().until(() -> server.metrics().open() == 1);
            loop.close();
            assertEquals(1, server.metrics().closed(CloseCause.SHUTDOWN), server.metrics().toString());
        }
    }

    @Test
    void peersRefusedAtTheConnectionLimitAreCountedAsRejected() throws Exception {
        EventLoop loop = loop("metrics-limit");
        StreamOptions one = StreamOptions.builder().maxConnections(1).overLimit(OverLimit.REJECT).build();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), one, () -> new TestSupport.Discarding(new CompletableFuture<>()));
        try (SocketChannel first = connect(server.localAddress())) {
            eventually().until(() -> server.metrics().open() == 1);
            try (SocketChannel second = connect(server.localAddress())) {
                readToEnd(second);
            }
            eventually().until(() -> server.metrics().rejected() == 1);
            assertEquals(1, server.metrics().accepted());
        }
    }

    @Test
    void writesToAClosedConnectionAreDroppedAndCountedOnAndOffTheLoop() throws Exception {
        EventLoop loop = loop("metrics-dropped");
        AtomicReference<Connection> accepted = new AtomicReference<>();
        CountDownLatch closed = new CountDownLatch(1);
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                accepted.set(c);
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
                c.close();
                c.write(data); // after close(): dropped
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                closed.countDown();
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap(new byte[5]));
            assertTrue(closed.await(60, TimeUnit.SECONDS));
            accepted.get().write(new byte[3]); // from this thread, after the close
            eventually().untilAsserted(() -> {
                StreamMetrics m = server.metrics();
                assertEquals(2, m.droppedWrites(), m.toString());
                assertEquals(8, m.droppedBytes(), m.toString());
            });
        }
    }

    @Test
    void tasksTimersIterationsAndCallbacksAreCounted() throws Exception {
        EventLoop loop = loop("metrics-loop");
        LoopMetrics before = loop.metrics();
        CountDownLatch ran = new CountDownLatch(13);
        for (int i = 0; i < 10; i++) {
            loop.execute(ran::countDown);
        }
        for (int i = 0; i < 3; i++) {
            loop.schedule(ran::countDown, 1, TimeUnit.MILLISECONDS);
        }
        TimerHandle pending = loop.schedule(() -> { }, 1, TimeUnit.HOURS);
        assertTrue(ran.await(60, TimeUnit.SECONDS));
        eventually().untilAsserted(() -> {
            LoopMetrics m = loop.metrics();
            assertEquals(before.tasksRun() + 10, m.tasksRun());
            assertEquals(before.timersFired() + 3, m.timersFired());
            assertEquals(1, m.timersPending());
        });
        LoopMetrics m = loop.metrics();
        assertEquals("metrics-loop", m.loop());
        assertTrue(m.iterations() > before.iterations());
        assertTrue(m.callbacks() >= 13);
        assertTrue(m.longestCallbackNanos() > 0);
        assertTrue(m.busyNanos() > 0 && m.idleNanos() > 0, m.toString());
        assertTrue(m.busyRatio() >= 0 && m.busyRatio() <= 1, m.toString());
        assertEquals(loop.memoryBudget().limit(), m.budgetLimitBytes());
        pending.cancel();
    }

    @Test
    void aLoopHeldBusyReportsABusyRatioNearOne() throws Exception {
        EventLoop loop = loop("metrics-busy");
        // A task that keeps the loop working (spinning, not sleeping) until released, for
        // longer than the two-second window the ratio falls back to while no iteration ends.
        CountDownLatch release = new CountDownLatch(1);
        loop.execute(() -> {
            while (release.getCount() > 0) {
                Thread.onSpinWait();
            }
        });
        try {
            eventually().until(() -> loop.metrics().busyRatio() > 0.9);
            assertTrue(loop.metrics().threadCpuNanos() > 0, "the spinning thread's CPU time");
        } finally {
            release.countDown();
        }
        // Idle again: the loop sleeps in select, and the open window turns towards zero.
        eventually().until(() -> loop.metrics().busyRatio() < 0.1);
    }

    @Test
    void datagramsAreCounted() throws Exception {
        EventLoop loop = loop("metrics-udp");
        DatagramEndpoint endpoint = DatagramEndpoint.bind(loop, anyLoopbackPort(),
                (e, sender, data) -> e.send(data, sender));
        try (DatagramChannel peer = DatagramChannel.open()) {
            peer.bind(anyLoopbackPort());
            for (int i = 0; i < 3; i++) {
                peer.send(ByteBuffer.wrap(new byte[] {(byte) i}), endpoint.localAddress());
                peer.receive(ByteBuffer.allocate(8));
            }
        }
        eventually().untilAsserted(() -> {
            LoopMetrics m = loop.metrics();
            assertEquals(3, m.datagramsReceived());
            assertEquals(3, m.datagramsSent());
            assertEquals(0, m.datagramsDropped());
        });
        endpoint.close();
    }

    @Test
    void aClientsConnectionCountsOnItsLoopButNotAsAccepted() throws Exception {
        EventLoop serverLoop = loop("metrics-server-side");
        EventLoop clientLoop = loop("metrics-client-side");
        StreamServer server = StreamServer.bind(serverLoop, anyLoopbackPort(), () -> (c, data) -> c.write(data));
        CompletableFuture<String> reply = new CompletableFuture<>();
        Connection client = StreamClient.connect(clientLoop, server.localAddress(), StreamOptions.defaults(),
                (c, data) -> reply.complete(StandardCharsets.US_ASCII.decode(data).toString()), Duration.ofSeconds(60))
                .get(60, TimeUnit.SECONDS);
        client.write("ping".getBytes(StandardCharsets.US_ASCII));
        assertEquals("ping", reply.get(60, TimeUnit.SECONDS));
        eventually().untilAsserted(() -> {
            StreamMetrics m = clientLoop.metrics().streams();
            assertEquals(1, m.opened());
            assertEquals(0, m.accepted());
            assertEquals(4, m.bytesWritten());
            assertEquals(4, m.bytesRead());
        });
        client.close();
        eventually().until(() -> clientLoop.metrics().streams().closed(CloseCause.LOCAL) == 1);
        assertTrue(((InetSocketAddress) server.localAddress()).getPort() > 0);
    }
}
