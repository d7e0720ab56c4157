package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readToEnd;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ShutdownTest {

    /**
     * Graceful shutdown with slow readers: readers that keep up get all their output then
     * end of stream; at the deadline the slow ones are closed with a cause; the loop
     * terminates; every file descriptor it opened is closed.
     */
    @Test
    void gracefulShutdownDrainsReadersClosesSlowOnesAtTheDeadlineAndLeaksNoFd() throws Exception {
        int baseline = TestSupport.openFileDescriptors();
        EventLoop loop = EventLoop.start("graceful");
        TestSupport.Events events = new TestSupport.Events();
        int output = 4 << 20;
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onOpen(Connection c) {
                super.onOpen(c);
                byte[] block = new byte[64 * 1024];
                for (int i = 0; i < output / block.length; i++) {
                    c.write(block);
                }
            }
        });
        List<SocketChannel> slow = new ArrayList<>();
        List<CompletableFuture<Integer>> drained = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                SocketChannel ch = SocketChannel.open();
                ch.setOption(StandardSocketOptions.SO_RCVBUF, 16 * 1024);
                ch.connect(server.localAddress());
                slow.add(ch);
            }
            List<SocketChannel> readers = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                readers.add(connect(server.localAddress()));
            }
            eventually().until(() -> events.opened.size() == 10);

            long started = System.nanoTime();
            CompletableFuture<Void> terminated = loop.shutdownGracefully(Duration.ofSeconds(2));
            for (SocketChannel ch : readers) {
                drained.add(CompletableFuture.supplyAsync(() -> {
                    try (ch) {
                        return readToEnd(ch).length;
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }));
            }
            terminated.get(30, TimeUnit.SECONDS);
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            for (CompletableFuture<Integer> d : drained) {
                assertEquals(output, d.get(30, TimeUnit.SECONDS), "a reader that keeps up gets everything");
            }
            assertTrue(loop.isTerminated());
            assertEquals(10, events.closed.size());
            events.assertEachClosedOnce();
            int forced = 0;
            for (Connection c : events.closed) {
                Throwable cause = events.causes.get(c);
                if (cause != null) {
                    assertInstanceOf(IOException.class, cause);
                    assertTrue(cause.getMessage().contains("shutdown"), cause.getMessage());
                    forced++;
                }
            }
            assertEquals(5, forced, "the slow readers were closed at the deadline (after " + tookMillis + " ms)");
            assertTrue(server.isClosed());
            assertThrows(IOException.class, () -> connect(server.localAddress()).close(), "no longer accepting");
        } finally {
            for (SocketChannel ch : slow) {
                ch.close();
            }
        }
        eventually().until(() -> TestSupport.openFileDescriptors() <= baseline);
    }

    @Test
    void shutdownWithNothingPendingClosesConnectionsInOrderAtOnce() throws Exception {
        EventLoop loop = EventLoop.start("quick");
        TestSupport.Events events = new TestSupport.Events();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new TestSupport.RecordingEcho(events));
        try (SocketChannel ch = connect(server.localAddress())) {
            eventually().until(() -> events.opened.size() == 1);
            // A long deadline: termination must not wait for it when nothing is pending.
            loop.shutdownGracefully(Duration.ofHours(1)).get(30, TimeUnit.SECONDS);
            assertEquals(-1, ch.read(java.nio.ByteBuffer.allocate(1)), "the client sees an orderly end of stream");
        }
        assertNull(events.causes.get(events.closed.get(0)));
    }

    @Test
    void closeDropsPendingOutputAndTerminatesAtOnce() throws Exception {
        int baseline = TestSupport.openFileDescriptors();
        EventLoop loop = EventLoop.start("close-now");
        TestSupport.Events events = new TestSupport.Events();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onOpen(Connection c) {
                super.onOpen(c);
                c.write(new byte[8 << 20]);
            }
        });
        try (SocketChannel ch = SocketChannel.open()) {
            ch.setOption(StandardSocketOptions.SO_RCVBUF, 16 * 1024);
            ch.connect(server.localAddress());
            eventually().until(() -> events.opened.size() == 1);
            loop.close();
            assertTrue(loop.isTerminated(), "close() from another thread returns once terminated");
            assertFalse(events.opened.get(0).isOpen());
        }
        eventually().until(() -> TestSupport.openFileDescriptors() <= baseline);
    }

    /**
     * A write handed over from another thread, then shutdownGracefully on that thread: the
     * write must go out before the close. Shutdown used to close connections at once while
     * the write still waited behind other threads' tasks (the task budget cut the queue
     * short), so the peer saw end of stream and no bytes. With no time at all for a
     * graceful close (a zero timeout, as close() has) the write must still come first:
     * termination runs the tasks handed over before it, then closes.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "shutdown timeout {0} ms")
    @org.junit.jupiter.params.provider.ValueSource(longs = {30_000, 0})
    void aWriteFromAnotherThreadJustBeforeShutdownIsSentBeforeTheClose(long timeoutMillis) throws Exception {
        EventLoop loop = EventLoop.start("write-then-shutdown");
        TestSupport.Events events = new TestSupport.Events();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new TestSupport.RecordingEcho(events));
        byte[] lastWords = "the last words before shutdown".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try (SocketChannel ch = connect(server.localAddress())) {
            eventually().until(() -> events.opened.size() == 1);
            Connection c = events.opened.get(0);
            try (TestSupport.LoopHold busy = TestSupport.holdLoop(loop)) {
                for (int i = 0; i < 1000; i++) {
                    loop.execute(() -> { }); // another thread's backlog: more than one task budget's worth
                }
                c.write(lastWords);
                loop.shutdownGracefully(Duration.ofMillis(timeoutMillis));
            }
            assertArrayEquals(lastWords, readToEnd(ch), "the peer gets the write, then end of stream");
            loop.terminationFuture().get(30, TimeUnit.SECONDS);
            assertNull(events.causes.get(c), "closed in order, nothing unsent");
        } finally {
            loop.close();
        }
    }
}
