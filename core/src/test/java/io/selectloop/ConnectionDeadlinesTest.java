package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The deadlines that are on by default: output that makes no progress, and a close that
 * cannot finish flushing. Idle timeouts (opt-in) have their own test, IdleTimeoutTest.
 */
class ConnectionDeadlinesTest {
    private EventLoop loop;
    private final TestSupport.Events events = new TestSupport.Events();

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("deadlines-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    @Test
    void byDefaultStalledOutputAndClosingHaveADeadlineOfAMinute() {
        assertEquals(Duration.ofSeconds(60), StreamOptions.defaults().writeStallTimeout());
        assertEquals(Duration.ofSeconds(60), StreamOptions.defaults().closeTimeout());
    }

    /** The 200-peers-that-never-read report: nothing ever closed them, output and all. */
    @Test
    void aPeerThatNeverReadsIsResetWhenItsOutputStalls() throws Exception {
        StreamOptions options = smallBuffers().writeStallTimeout(Duration.ofMillis(300)).build();
        StreamServer server = serve(options, () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onOpen(Connection c) {
                super.onOpen(c);
                c.write(new byte[4 << 20]);
            }
        });
        try (SocketChannel peer = openWithSmallWindow(server)) {
            eventually().until(() -> events.closed.size() == 1);
            WriteTimeoutException e = assertInstanceOf(WriteTimeoutException.class, events.causes.get(events.closed.get(0)));
            assertTrue(e.getMessage().contains("no output progress") && e.getMessage().contains("writeStallTimeout"),
                    e.getMessage());
            assertTrue(readUntilReset(peer), "the peer is reset, not sent a clean end of stream");
        }
        eventually().until(() -> loop.memoryBudget().used() == 0);
    }

    /**
     * A slow peer that keeps reading a little is not stalled, however long the whole
     * transfer takes: any progress restarts the clock.
     */
    @Test
    void aSlowPeerThatKeepsReadingIsNotStalled() throws Exception {
        StreamOptions options = smallBuffers().writeStallTimeout(Duration.ofMillis(1000)).build();
        int total = 1 << 20;
        StreamServer server = serve(options, () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onOpen(Connection c) {
                super.onOpen(c);
                c.write(new byte[total]);
                c.close();
            }
        });
        ScheduledExecutorService reader = Executors.newSingleThreadScheduledExecutor();
        AtomicLong received = new AtomicLong();
        try (SocketChannel peer = openWithSmallWindow(server)) {
            peer.configureBlocking(false);
            ByteBuffer buffer = ByteBuffer.allocate(24 * 1024);
            long started = System.nanoTime();
            // Reads a little every 100 ms: about 3 s in all, three stall timeouts' worth.
            reader.scheduleAtFixedRate(() -> {
                try {
                    buffer.clear();
                    int n = peer.read(buffer);
                    if (n > 0) {
                        received.addAndGet(n);
                    }
                } catch (IOException e) {
                    received.set(-1);
                }
            }, 100, 100, TimeUnit.MILLISECONDS);
            eventually().until(() -> events.closed.size() == 1);
            assertNull(events.causes.get(events.closed.get(0)), "closed normally, after the last byte was taken");
            eventually().until(() -> received.get() == total);
            assertTrue(System.nanoTime() - started > TimeUnit.MILLISECONDS.toNanos(1000),
                    "the transfer outlasted the stall timeout, so the test proves something");
        } finally {
            reader.shutdownNow();
        }
    }

    @Test
    void aCloseThatCannotFlushIsResetAfterTheCloseTimeout() throws Exception {
        StreamOptions options = smallBuffers().writeStallTimeout(Duration.ZERO).closeTimeout(Duration.ofMillis(300)).build();
        StreamServer server = serve(options, () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onOpen(Connection c) {
                super.onOpen(c);
                c.write(new byte[4 << 20]);
                c.close();
            }
        });
        try (SocketChannel peer = openWithSmallWindow(server)) {
            eventually().until(() -> events.closed.size() == 1);
            WriteTimeoutException e = assertInstanceOf(WriteTimeoutException.class, events.causes.get(events.closed.get(0)));
            assertTrue(e.getMessage().contains("closeTimeout"), e.getMessage());
            assertTrue(readUntilReset(peer));
        }
    }

    @Test
    void zeroTurnsTheDeadlinesOff() throws Exception {
        StreamOptions options = smallBuffers().writeStallTimeout(Duration.ZERO).closeTimeout(Duration.ZERO).build();
        StreamServer server = serve(options, () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onOpen(Connection c) {
                super.onOpen(c);
                c.write(new byte[1 << 20]);
                c.close();
            }
        });
        try (SocketChannel peer = openWithSmallWindow(server)) {
            eventually().until(() -> events.opened.size() == 1);
            // No timer is armed for a connection without deadlines: nothing can fire.
            assertEquals(0, (int) TestSupport.onLoop(loop, loop::timerCount));
            assertTrue(events.closed.isEmpty());
        }
    }

    private StreamServer serve(StreamOptions options, Supplier<? extends Handler> handlers) throws IOException {
        return StreamServer.bind(loop, anyLoopbackPort(), options, handlers);
    }

    private static StreamOptions.Builder smallBuffers() {
        return StreamOptions.builder().sendBufferSize(8 * 1024);
    }

    private static SocketChannel openWithSmallWindow(StreamServer server) throws IOException {
        return TestSupport.connectWithReceiveBuffer(server.localAddress(), 8 * 1024);
    }

    /** Reads what arrived; true if the stream then ends with a reset rather than an EOF. */
    private static boolean readUntilReset(SocketChannel peer) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
        try {
            while (peer.read(buffer.clear()) >= 0) {
                // drain
            }
            return false;
        } catch (IOException reset) {
            return reset.getMessage() != null && reset.getMessage().contains("reset");
        }
    }
}
