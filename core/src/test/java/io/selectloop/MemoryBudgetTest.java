package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The memory budget on real sockets: what peers can make a loop hold stays within it,
 * the loop sheds the largest holders instead of dying, and well-behaved peers are
 * served throughout.
 */
class MemoryBudgetTest {
    private static final int BUDGET = 8 << 20;
    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private final TestSupport.Events events = new TestSupport.Events();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeAfter.size() - 1; i >= 0; i--) {
            closeAfter.get(i).close();
        }
    }

    private EventLoop startLoop(long budget) {
        EventLoop loop = EventLoop.start("budget-test", LoopOptions.builder().memoryBudget(budget)
                .memoryPressureTimeout(java.time.Duration.ofMillis(500)).build());
        closeAfter.add(loop);
        return loop;
    }

    /**
     * 40 peers each try to send half a MiB of one unfinished line (legal: the limit is
     * 1 MiB), 20 MiB in all against an 8 MiB budget. The loop's holdings never exceed
     * the budget, reading pauses for the big holders, and a well-behaved client keeps
     * getting its answers. Without the budget the loop would hold all 20 MiB.
     */
    @Test
    void aPartialFrameFloodStaysWithinTheBudgetAndOthersAreServed() throws Exception {
        EventLoop loop = startLoop(BUDGET);
        Framing lines = Framing.lines(1 << 20);
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                () -> lines.handler(new FrameHandlerRecording(events, lines)));
        MemoryBudget budget = loop.memoryBudget();
        AtomicLong peak = new AtomicLong();
        try (Flood flood = new Flood(server, 40, 512 * 1024, (byte) 'x');
             SocketChannel polite = connect(server.localAddress())) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            int roundTrips = 0;
            while (!flood.done() && System.nanoTime() < deadline) {
                flood.pump(10);
                peak.accumulateAndGet(budget.used(), Math::max);
                byte[] line = ("ping " + roundTrips++ + "\n").getBytes(StandardCharsets.US_ASCII);
                writeFully(polite, ByteBuffer.wrap(line));
                assertArrayEquals(line, readFully(polite, line.length), "a well-behaved client is served during the flood");
                if (pausedForMemory(loop) > 0 && flood.stalled()) {
                    break; // the loop pushes back: the peers can send no more
                }
            }
            assertTrue(peak.get() <= budget.limit(), "peak " + peak.get() + " over the budget " + budget.limit());
            assertTrue(pausedForMemory(loop) > 0, "under pressure, the biggest holders stop being read");
            assertTrue(budget.used() >= budget.limit() / 2, "the flood reached the pressure point: " + budget.used());
        }
        // The flood's peers are gone, but paused connections cannot notice: the pressure
        // timeout sheds them, and every byte they made the loop hold is released.
        eventually().until(() -> budget.used() == 0);
        for (Connection c : events.closed) {
            Throwable cause = events.causes.get(c);
            assertTrue(cause == null || cause instanceof MemoryBudgetExceededException || cause instanceof IOException,
                    "closed by the peer or shed: " + cause);
        }
    }

    /**
     * Six peers each ask for 1 MiB that they never read: 6 MiB of output against a 4 MiB
     * budget. The loop resets the largest holders with a clear cause until it is back
     * under budget; the small holders (within their fair share) are never shed.
     */
    @Test
    void overTheBudgetTheLargestHoldersAreShedAndSmallOnesKept() throws Exception {
        EventLoop loop = startLoop(4 << 20);
        StreamOptions options = StreamOptions.builder().sendBufferSize(8 * 1024).build();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), options, () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onData(Connection c, ByteBuffer data) throws Exception {
                if (data.get(data.position()) == 'H') {
                    data.position(data.limit());
                    c.write(new byte[1 << 20]); // a hog: a big answer to a peer that will not read it
                } else {
                    super.onData(c, data);
                }
            }
        });
        List<SocketChannel> hogs = new ArrayList<>();
        List<SocketChannel> small = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                small.add(connectWithSmallWindow(server));
            }
            for (int i = 0; i < 6; i++) {
                SocketChannel hog = connectWithSmallWindow(server);
                hogs.add(hog);
                writeFully(hog, ByteBuffer.wrap(new byte[] {'H'}));
            }
            eventually().until(() -> events.closed.size() >= 2);
            MemoryBudget budget = loop.memoryBudget();
            eventually().until(() -> budget.used() <= budget.limit());
            for (Connection shed : events.closed) {
                MemoryBudgetExceededException e = assertInstanceOf(MemoryBudgetExceededException.class,
                        events.causes.get(shed));
                assertTrue(e.getMessage().contains("fair share"), e.getMessage());
            }
            assertTrue(events.closed.size() < 6, "only as many as needed are shed: " + events.closed.size());
            for (SocketChannel s : small) {
                writeFully(s, ByteBuffer.wrap("still served".getBytes(StandardCharsets.US_ASCII)));
                assertEquals("still served", new String(readFully(s, 12), StandardCharsets.US_ASCII));
            }
        } finally {
            for (SocketChannel s : hogs) {
                s.close();
            }
            for (SocketChannel s : small) {
                s.close();
            }
        }
        eventually().until(() -> loop.memoryBudget().used() == 0);
    }

    @Test
    void theLoopsOfAGroupShareOneBudget() {
        EventLoopGroup group = EventLoopGroup.start(3, "budget-group", LoopOptions.builder().memoryBudget(1 << 20).build());
        closeAfter.add(group);
        MemoryBudget budget = group.memoryBudget();
        assertEquals(1 << 20, budget.limit());
        for (EventLoop loop : group) {
            assertSame(budget, loop.memoryBudget());
        }
        assertEquals(1 << 20, budget.fairShare() * 4, "a quarter of the budget, shared by no connections yet");
    }

    /** The default follows the JVM's limits, so no setting is needed for safety. */
    @Test
    void theDefaultBudgetIsAQuarterOfTheSmallerOfMaxHeapAndMaxDirectMemory() throws Exception {
        assertEquals(16L << 20, defaultBudgetInAJvmWith("-Xmx256m", "-XX:MaxDirectMemorySize=64m"));
        assertEquals(64L << 20, defaultBudgetInAJvmWith("-Xmx256m"), "direct memory defaults to the max heap");
    }

    private static long defaultBudgetInAJvmWith(String... jvmOptions) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(Arrays.asList(jvmOptions));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PrintDefaultBudget.class.getName()));
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return Long.parseLong(out);
    }

    static final class PrintDefaultBudget {
        public static void main(String[] args) {
            System.out.println(EventLoop.open().memoryBudget().limit());
        }
    }

    @Test
    void aBudgetMustBePositiveAndZeroMeansTheDefault() {
        assertEquals(MemoryBudget.defaultLimit(), LoopOptions.defaults().newBudget().limit());
        assertTrue(assertInstanceOf(IllegalArgumentException.class, org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> LoopOptions.builder().memoryBudget(-1))).getMessage().contains("-1"));
        assertNull(null);
    }

    private static SocketChannel connectWithSmallWindow(StreamServer server) throws IOException {
        return TestSupport.connectWithReceiveBuffer(server.localAddress(), 4 * 1024);
    }

    private static int pausedForMemory(EventLoop loop) throws Exception {
        return TestSupport.onLoop(loop, () ->
                (int) loop.streamConnections().stream().filter(StreamConnection::isReadingPausedForMemory).count());
    }

    /** Echoes each line, recording callbacks. */
    private static final class FrameHandlerRecording implements FrameHandler {
        private final TestSupport.RecordingEcho recorder;
        private final Framing framing;

        FrameHandlerRecording(TestSupport.Events events, Framing framing) {
            this.recorder = new TestSupport.RecordingEcho(events);
            this.framing = framing;
        }

        @Override
        public void onOpen(Connection c) {
            recorder.onOpen(c);
        }

        @Override
        public void onFrame(Connection c, ByteBuffer frame) {
            framing.write(c, frame);
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            recorder.onClose(c, cause);
        }
    }

    /**
     * Non-blocking peers, each sending up to {@code perPeer} bytes of {@code fill} (no
     * delimiter) as fast as the server takes them, driven from the test thread.
     */
    private static final class Flood implements AutoCloseable {
        private final Selector selector = Selector.open();
        private final List<SocketChannel> peers = new ArrayList<>();
        private final ByteBuffer chunk;
        private final long perPeer;
        private int idlePumps;

        Flood(StreamServer server, int count, long perPeer, byte fill) throws IOException {
            this.perPeer = perPeer;
            byte[] bytes = new byte[64 * 1024];
            Arrays.fill(bytes, fill);
            chunk = ByteBuffer.wrap(bytes);
            for (int i = 0; i < count; i++) {
                SocketChannel ch = SocketChannel.open(server.localAddress());
                ch.configureBlocking(false);
                peers.add(ch);
                ch.register(selector, SelectionKey.OP_WRITE, new long[1]);
            }
        }

        /** One round of sends to every peer whose socket has room. */
        void pump(long waitMillis) throws IOException {
            int ready = selector.select(waitMillis);
            idlePumps = ready == 0 ? idlePumps + 1 : 0;
            for (SelectionKey key : selector.selectedKeys()) {
                long[] sent = (long[]) key.attachment();
                SocketChannel ch = (SocketChannel) key.channel();
                chunk.clear().limit((int) Math.min(chunk.capacity(), perPeer - sent[0]));
                try {
                    sent[0] += ch.write(chunk);
                } catch (IOException reset) {
                    key.cancel();
                    continue;
                }
                if (sent[0] >= perPeer) {
                    key.cancel();
                }
            }
            selector.selectedKeys().clear();
        }

        /** No socket took a byte for a while: the server has stopped reading them. */
        boolean stalled() {
            return idlePumps >= 20;
        }

        boolean done() {
            return selector.keys().stream().noneMatch(SelectionKey::isValid);
        }

        @Override
        public void close() throws IOException {
            for (SocketChannel ch : peers) {
                ch.close();
            }
            selector.close();
        }
    }

    /**
     * A connection pauses for memory a little before its fair share is full (a read of
     * under 1 KiB is not worth a system call), so it may be paused while holding no more
     * than its share. The pressure timeout used to shed it all the same.
     */
    @Test
    void thePressureTimeoutNeverShedsAConnectionWithinItsFairShare() throws Exception {
        long fair = 16 * 1024 + 512;
        EventLoop driven = EventLoop.open(LoopOptions.builder().memoryBudget(4 * fair)
                .memoryPressureTimeout(java.time.Duration.ofMillis(100)).build());
        closeAfter.add(driven);
        MemoryBudget budget = driven.memoryBudget();
        Framing lines = Framing.lines(1 << 20);
        StreamServer server = StreamServer.bind(driven, anyLoopbackPort(), () -> lines.handler(new FrameHandlerRecording(events, lines)));
        MemoryAccount elsewhere = new MemoryAccount(budget);
        try (SocketChannel client = connect(server.localAddress())) {
            TestSupport.runUntil(driven, () -> events.opened.size() == 1);
            StreamConnection c = (StreamConnection) events.opened.get(0);
            elsewhere.charge(budget.limit() / 2); // other holders: the budget is under pressure
            writeFully(client, ByteBuffer.wrap(new byte[9000])); // a partial line: a 16 KiB buffer
            TestSupport.runUntil(driven, () -> c.heldBytes() == 16 * 1024);
            writeFully(client, ByteBuffer.wrap(new byte[100])); // the next read finds under 1 KiB of allowance
            TestSupport.runUntil(driven, c::isReadingPausedForMemory);
            assertTrue(c.heldBytes() <= budget.fairShare(), c.heldBytes() + " within " + budget.fairShare());
            // Well past the pressure timeout, with the shedder's rechecks running meanwhile.
            TestSupport.runUntil(driven, () -> c.overFairShareNanos(System.nanoTime()) > 3 * budget.pressureTimeoutNanos());
            assertTrue(c.isOpen(), "shed although within its fair share: " + events.causes.get(c));
        } finally {
            elsewhere.release(budget.limit() / 2);
        }
    }

}
