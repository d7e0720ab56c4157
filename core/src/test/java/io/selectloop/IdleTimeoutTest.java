package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.readToEnd;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Read, write and all-idle timeouts on real connections. */
class IdleTimeoutTest {
    private EventLoop loop;
    private final TestSupport.Events events = new TestSupport.Events();

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("idle-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    /** Records when each connection opened and when (and why) it went idle. */
    private static final class IdleRecorder extends TestSupport.RecordingEcho {
        final Map<Connection, Long> openedAt;
        final Map<Connection, List<IdleKind>> idles;
        final Map<Connection, Long> firstIdleAt;

        IdleRecorder(TestSupport.Events events, Map<Connection, Long> openedAt, Map<Connection, List<IdleKind>> idles,
                     Map<Connection, Long> firstIdleAt) {
            super(events);
            this.openedAt = openedAt;
            this.idles = idles;
            this.firstIdleAt = firstIdleAt;
        }

        @Override
        public void onOpen(Connection c) {
            openedAt.put(c, System.nanoTime());
            super.onOpen(c);
        }

        @Override
        public void onIdle(Connection c, IdleKind kind) throws Exception {
            firstIdleAt.putIfAbsent(c, System.nanoTime());
            idles.computeIfAbsent(c, k -> new CopyOnWriteArrayList<>()).add(kind);
            super.onIdle(c, kind);
        }
    }

    @Test
    void aSilentClientIsClosedOnceTheTimeoutHasPassedAndNotBefore() throws Exception {
        Duration timeout = Duration.ofMillis(300);
        Map<Connection, Long> openedAt = new ConcurrentHashMap<>();
        Map<Connection, List<IdleKind>> idles = new ConcurrentHashMap<>();
        Map<Connection, Long> idleAt = new ConcurrentHashMap<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().readIdleTimeout(timeout).build(),
                () -> new IdleRecorder(events, openedAt, idles, idleAt));
        try (SocketChannel ch = connect(server.localAddress())) {
            assertEquals(0, readToEnd(ch).length, "the server closes the silent connection: end of stream");
        }
        eventually().until(() -> events.closed.size() == 1);
        Connection c = events.closed.get(0);
        assertEquals(List.of(IdleKind.READ), idles.get(c));
        assertNull(events.causes.get(c), "the default onIdle closes in an orderly way");
        long idleAfter = idleAt.get(c) - openedAt.get(c);
        assertTrue(idleAfter >= timeout.toNanos(), "onIdle came " + idleAfter + " ns after open, before the timeout");
    }

    @Test
    void aClientThatTricklesMoreOftenThanTheTimeoutStaysOpen() throws Exception {
        Duration timeout = Duration.ofSeconds(1);
        Map<Connection, List<IdleKind>> idles = new ConcurrentHashMap<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().readIdleTimeout(timeout).allIdleTimeout(timeout).build(),
                () -> new IdleRecorder(events, new ConcurrentHashMap<>(), idles, new ConcurrentHashMap<>()));
        ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
        try (SocketChannel ch = connect(server.localAddress())) {
            int bytes = 30; // one every 100 ms: three full timeouts in all
            CompletableFuture<Void> sent = new CompletableFuture<>();
            AtomicInteger count = new AtomicInteger();
            trickle.scheduleAtFixedRate(() -> {
                try {
                    writeFully(ch, ByteBuffer.wrap(new byte[] {(byte) count.get()}));
                    if (count.incrementAndGet() == bytes) {
                        sent.complete(null);
                        throw new IllegalStateException("done: stops the schedule");
                    }
                } catch (IOException e) {
                    sent.completeExceptionally(e);
                }
            }, 0, 100, TimeUnit.MILLISECONDS);
            byte[] echoed = readFully(ch, bytes);
            sent.get(60, TimeUnit.SECONDS);
            for (int i = 0; i < bytes; i++) {
                assertEquals((byte) i, echoed[i]);
            }
            assertTrue(events.closed.isEmpty(), "closed while trickling: " + idles);
            assertTrue(idles.isEmpty(), "onIdle while trickling: " + idles);
            // Once the trickle stops, the connection does go idle.
            assertEquals(0, readToEnd(ch).length);
        } finally {
            trickle.shutdownNow();
        }
        eventually().until(() -> events.closed.size() == 1);
        assertFalse(idles.isEmpty());
    }

    /**
     * A write-idle handler that answers with a keep-alive instead of closing: it hears
     * about idleness again after every further period, and its own write counts as
     * activity (so the pings come one period apart, not in a burst).
     */
    @Test
    void writeIdleFiresEachPeriodAndAHandlerMayKeepTheConnection() throws Exception {
        AtomicInteger pings = new AtomicInteger();
        List<IdleKind> kinds = new CopyOnWriteArrayList<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().writeIdleTimeout(Duration.ofMillis(100)).build(),
                () -> new TestSupport.RecordingEcho(events) {
                    @Override
                    public void onData(Connection c, ByteBuffer data) {
                        data.position(data.limit()); // reads, never answers: only onIdle writes
                    }

                    @Override
                    public void onIdle(Connection c, IdleKind kind) {
                        kinds.add(kind);
                        c.write(("ping " + pings.incrementAndGet() + "\n").getBytes(StandardCharsets.US_ASCII));
                    }
                });
        try (SocketChannel ch = connect(server.localAddress())) {
            String expected = "ping 1\nping 2\nping 3\n";
            byte[] got = readFully(ch, expected.length());
            assertEquals(expected, new String(got, StandardCharsets.US_ASCII));
            assertTrue(kinds.stream().allMatch(k -> k == IdleKind.WRITE), kinds.toString());
            assertTrue(events.closed.isEmpty());
        }
    }

    /**
     * close() on a connection whose peer never reads would wait forever for its output
     * to drain; an idle timeout ends the wait and says how much was left unsent.
     */
    @Test
    void anIdleTimeoutEndsACloseThatIsStuckFlushing() throws Exception {
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().allIdleTimeout(Duration.ofMillis(300)).sendBufferSize(16 * 1024).build(),
                () -> new TestSupport.RecordingEcho(events) {
                    @Override
                    public void onOpen(Connection c) {
                        super.onOpen(c);
                        c.write(new byte[4 << 20]);
                        c.close();
                    }
                });
        try (SocketChannel ch = SocketChannel.open()) {
            ch.setOption(StandardSocketOptions.SO_RCVBUF, 16 * 1024);
            ch.connect(server.localAddress());
            eventually().until(() -> events.closed.size() == 1);
        }
        Throwable cause = events.causes.get(events.closed.get(0));
        assertInstanceOf(IdleTimeoutException.class, cause);
        assertTrue(cause.getMessage().contains("unsent"), cause.getMessage());
    }

    /**
     * A read-idle timeout does not cut short a graceful close whose output is still
     * flowing: while closing, reading is off for good, so read idleness no longer counts.
     */
    @Test
    void aReadIdleTimeoutDoesNotCutAClosingConnectionWhoseOutputFlows() throws Exception {
        int total = 2 << 20;
        byte[] response = TestSupport.randomBytes(new java.util.Random(7), total);
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().readIdleTimeout(Duration.ofMillis(300)).sendBufferSize(16 * 1024).build(),
                () -> new TestSupport.RecordingEcho(events) {
                    @Override
                    public void onData(Connection c, ByteBuffer data) {
                        data.position(data.limit());
                        c.write(response);
                        c.close();
                    }
                });
        ScheduledExecutorService reader = Executors.newSingleThreadScheduledExecutor();
        try (SocketChannel client = SocketChannel.open()) {
            client.setOption(StandardSocketOptions.SO_RCVBUF, 16 * 1024);
            client.connect(server.localAddress());
            writeFully(client, ByteBuffer.wrap(new byte[] {1}));
            // A slow, steady reader: 16 KiB every 10 ms, so the 2 MiB take over a second,
            // several read-idle periods, with bytes moving the whole time.
            java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
            CompletableFuture<Void> done = new CompletableFuture<>();
            ByteBuffer buffer = ByteBuffer.allocate(16 * 1024);
            client.configureBlocking(false);
            reader.scheduleAtFixedRate(() -> {
                try {
                    buffer.clear();
                    int n = client.read(buffer);
                    if (n < 0) {
                        done.complete(null);
                        throw new IllegalStateException("end of stream: stops the schedule");
                    }
                    received.write(buffer.array(), 0, n);
                } catch (IOException e) {
                    done.completeExceptionally(e);
                }
            }, 0, 10, TimeUnit.MILLISECONDS);
            done.get(60, TimeUnit.SECONDS);
            assertArrayEquals(response, received.toByteArray(), "the whole response, then end of stream");
        } finally {
            reader.shutdownNow();
        }
        eventually().until(() -> events.closed.size() == 1);
        assertNull(events.causes.get(events.closed.get(0)), "an orderly close");
    }

    /**
     * 5,000 connections go idle at about the same moment while one client keeps echoing:
     * all 5,000 are closed, the active one never is, its echoes go on while the idle ones
     * are being closed (the loop spreads due timers over iterations), and none is lost.
     */
    @Test
    void fiveThousandIdleConnectionsExpiringTogetherDoNotStallAnActiveOne() throws Exception {
        int idleCount = 5_000;
        Duration timeout = Duration.ofSeconds(2);
        // Written on the loop thread only, so the order is the order things happened in.
        List<Character> timeline = new ArrayList<>();
        AtomicBoolean active = new AtomicBoolean();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().allIdleTimeout(timeout).backlog(idleCount).build(),
                () -> new TestSupport.RecordingEcho(events) {
                    boolean isActive;

                    @Override
                    public void onData(Connection c, ByteBuffer data) throws Exception {
                        if (!isActive && data.get(data.position()) == 'A') {
                            isActive = true;
                            active.set(true);
                        }
                        if (isActive) {
                            timeline.add('E');
                        }
                        super.onData(c, data);
                    }

                    @Override
                    public void onIdle(Connection c, IdleKind kind) throws Exception {
                        timeline.add(isActive ? 'X' : 'C');
                        super.onIdle(c, kind);
                    }
                });

        List<SocketChannel> idle = new ArrayList<>();
        try (SocketChannel activeClient = connect(server.localAddress())) {
            // The active client echoes one small message at a time until every idle one is closed.
            CompletableFuture<Long> echoes = CompletableFuture.supplyAsync(() -> {
                long rounds = 0;
                byte[] message = new byte[64];
                try {
                    while (events.closed.size() < idleCount) {
                        message[0] = 'A';
                        for (int i = 1; i < message.length; i++) {
                            message[i] = (byte) (rounds + i);
                        }
                        writeFully(activeClient, ByteBuffer.wrap(message));
                        assertArrayEquals(message, readFully(activeClient, message.length));
                        rounds++;
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return rounds;
            });
            eventually().until(active::get);
            for (int i = 0; i < idleCount; i++) {
                idle.add(connect(server.localAddress()));
            }
            eventually().until(() -> events.closed.size() >= idleCount);
            long rounds = echoes.get(60, TimeUnit.SECONDS);
            assertEquals(idleCount, events.closed.size(), "every idle connection, and only those, closed");
            assertTrue(activeClient.isOpen());

            List<Character> seen = onLoop(() -> new ArrayList<>(timeline));
            assertFalse(seen.contains('X'), "the active connection never went idle");
            int firstClose = seen.indexOf('C');
            int lastClose = seen.lastIndexOf('C');
            long echoesDuringExpiry = seen.subList(firstClose, lastClose).stream().filter(e -> e == 'E').count();
            assertTrue(echoesDuringExpiry > 0, "the active connection was served while the idle ones expired ("
                    + rounds + " echoes in all)");
        } finally {
            for (SocketChannel ch : idle) {
                ch.close();
            }
        }
    }

    private <T> T onLoop(java.util.concurrent.Callable<T> action) throws Exception {
        return TestSupport.onLoop(loop, action);
    }
}
