package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Framing on real loopback sockets: end-to-end echo, isolation of bad peers (issue test 3), threads. */
class FramingSocketTest {
    private EventLoop loop;
    private final TestSupport.Events events = new TestSupport.Events();

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("framing-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    private StreamServer serve(Supplier<? extends Handler> handlers) throws IOException {
        return StreamServer.bind(loop, anyLoopbackPort(), handlers);
    }

    private <T> T onLoop(Callable<T> action) throws Exception {
        return TestSupport.onLoop(loop, action);
    }

    /** Echoes each frame with {@code framing.write} and records opens and closes in {@link #events}. */
    private FrameHandler echo(Framing framing, AtomicLong frameCount) {
        return new FrameHandler() {
            @Override
            public void onOpen(Connection c) {
                events.opened.add(c);
            }

            @Override
            public void onFrame(Connection c, ByteBuffer frame) {
                frameCount.incrementAndGet();
                framing.write(c, frame);
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                events.closeCount(c).incrementAndGet();
                events.closed.add(c);
                if (cause != null) {
                    events.causes.put(c, cause);
                }
            }
        };
    }

    /** Mostly small writes, some medium, a few bigger than the loop's read buffer. */
    private static int chunkSize(Random random) {
        int pick = random.nextInt(10);
        return pick < 5 ? 1 + random.nextInt(64) : pick < 8 ? 65 + random.nextInt(4032) : 4097 + random.nextInt(96_000);
    }

    /**
     * Each framing end to end: 10,000 random frames sent in randomly sized writes come back
     * byte for byte, re-encoded by the server, which decoded exactly 10,000 frames and holds
     * no buffer afterwards.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.selectloop.FramingTest#cases")
    void tenThousandRandomFramesSentInRandomChunksEchoIntact(FramingTest.Case k) throws Exception {
        Framing framing = k.framing();
        List<byte[]> frames = k.randomFrames(FramingTest.FRAMES);
        byte[] stream = TestSupport.encodeAll(framing, frames);
        AtomicLong decoded = new AtomicLong();
        StreamServer server = serve(() -> framing.handler(echo(framing, decoded)));
        try (SocketChannel client = connect(server.localAddress())) {
            client.setOption(StandardSocketOptions.TCP_NODELAY, true); // keep the odd chunk sizes apart on the wire
            Random random = new Random(k.name().hashCode() + 1);
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try {
                    int at = 0;
                    while (at < stream.length) {
                        int n = Math.min(stream.length - at, chunkSize(random));
                        writeFully(client, ByteBuffer.wrap(stream, at, n));
                        at += n;
                    }
                    client.shutdownOutput();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            byte[] echoed = readFully(client, stream.length);
            sent.get(60, TimeUnit.SECONDS);
            assertEquals(-1, client.read(ByteBuffer.allocate(1)), "the default onEof closes after the echo");
            assertArrayEquals(stream, echoed);
        }
        eventually().until(() -> events.closed.size() == 1);
        assertEquals(FramingTest.FRAMES, decoded.get());
        assertTrue(events.causes.isEmpty(), "closed cleanly: " + events.causes);
        assertEquals(0, onLoop(loop.pool::accumulationInUse));
    }

    /**
     * Issue test 3: while 100 clients echo frames, one peer announces a frame over the
     * maximum and another sends an impossible 8-byte length. Those two connections close,
     * with FrameTooLongException and CorruptFrameException naming what was wrong, as soon
     * as their headers arrive (the over-long peer sends no payload at all); the 100 others
     * stay open and get every frame back.
     */
    @Test
    void anOverLongFrameAndACorruptLengthCloseOnlyTheirConnectionsWhileAHundredOthersLoseNothing() throws Exception {
        int maxLength = 64 * 1024;
        Framing framing = Framing.lengthPrefixed(8, maxLength);
        AtomicLong decoded = new AtomicLong();
        StreamServer server = serve(() -> framing.handler(echo(framing, decoded)));

        int clients = 100;
        int batches = 10;
        int framesPerBatch = 10;
        CountDownLatch firstHalfDone = new CountDownLatch(clients);
        CountDownLatch badPeersDone = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<SocketChannel> good = new ArrayList<>();
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                SocketChannel ch = connect(server.localAddress());
                good.add(ch);
                Random random = new Random(1000 + i);
                results.add(pool.submit(() -> {
                    int echoedFrames = 0;
                    for (int b = 0; b < batches; b++) {
                        if (b == batches / 2) {
                            firstHalfDone.countDown();
                            assertTrue(badPeersDone.await(60, TimeUnit.SECONDS));
                        }
                        // A batch at a time, then its echo: bounded in flight, so nobody
                        // blocks on a full socket while nobody reads.
                        List<byte[]> frames = new ArrayList<>();
                        for (int f = 0; f < framesPerBatch; f++) {
                            frames.add(TestSupport.randomBytes(random, random.nextInt(2049)));
                        }
                        byte[] batch = TestSupport.encodeAll(framing, frames);
                        int at = 0;
                        while (at < batch.length) {
                            int n = Math.min(batch.length - at, 1 + random.nextInt(3000));
                            writeFully(ch, ByteBuffer.wrap(batch, at, n));
                            at += n;
                        }
                        assertArrayEquals(batch, readFully(ch, batch.length), "batch " + b);
                        echoedFrames += framesPerBatch;
                    }
                    return echoedFrames;
                }));
            }
            assertTrue(firstHalfDone.await(60, TimeUnit.SECONDS), "the good clients are running");

            try (SocketChannel tooLong = connect(server.localAddress());
                 SocketChannel corrupt = connect(server.localAddress())) {
                writeFully(tooLong, ByteBuffer.allocate(8).putLong(0, 1L << 30));
                writeFully(corrupt, ByteBuffer.allocate(8).putLong(0, 0x8000_0000_0000_0001L));
                eventually().until(() -> events.closed.size() == 2);
                assertClosedByPeer(tooLong);
                assertClosedByPeer(corrupt);
            }
            List<Throwable> causes = new ArrayList<>(events.causes.values());
            assertEquals(2, causes.size(), "only the two bad connections closed: " + causes);
            FrameTooLongException tooLong = (FrameTooLongException) causes.stream()
                    .filter(FrameTooLongException.class::isInstance).findFirst().orElseThrow();
            assertEquals(maxLength, tooLong.limit());
            assertEquals(1L << 30, tooLong.size(), "the declared length");
            assertTrue(tooLong.getMessage().contains(String.valueOf(1L << 30))
                    && tooLong.getMessage().contains(String.valueOf(maxLength)), tooLong.getMessage());
            CorruptFrameException corrupt = (CorruptFrameException) causes.stream()
                    .filter(CorruptFrameException.class::isInstance).findFirst().orElseThrow();
            assertTrue(corrupt.getMessage().contains("0x8000000000000001"), corrupt.getMessage());
            badPeersDone.countDown();

            for (Future<Integer> r : results) {
                assertEquals(batches * framesPerBatch, r.get(60, TimeUnit.SECONDS));
            }
            assertEquals(2, events.closed.size(), "the good connections are all still open");
            assertEquals(clients, server.connectionCount());
            assertEquals((long) clients * batches * framesPerBatch, decoded.get());
        } finally {
            badPeersDone.countDown();
            pool.shutdownNow();
            for (SocketChannel ch : good) {
                ch.close();
            }
        }
        eventually().until(() -> events.closed.size() == clients + 2);
        assertEquals(2, events.causes.size(), "the good connections closed cleanly");
        events.assertEachClosedOnce();
        assertEquals(0, onLoop(loop.pool::accumulationInUse));
    }

    /** The server closed the connection: end of stream, or a reset if it had unread bytes. */
    private static void assertClosedByPeer(SocketChannel ch) {
        try {
            assertEquals(-1, ch.read(ByteBuffer.allocate(1)));
        } catch (IOException reset) {
            // also a close
        }
    }

    /**
     * Good frames and then a bad one in the same read: the answers to the good ones still
     * go out, then the connection closes with the framing error as its cause.
     */
    @Test
    void answersToGoodFramesBeforeABadOneAreSentBeforeTheClose() throws Exception {
        Framing framing = Framing.lengthPrefixed(4, 1024);
        StreamServer server = serve(() -> framing.handler(echo(framing, new AtomicLong())));
        byte[] good = TestSupport.encodeAll(framing, List.of("one".getBytes(), "two".getBytes()));
        ByteBuffer all = ByteBuffer.allocate(good.length + 4);
        all.put(good).putInt(1025).flip(); // one byte over the limit
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, all);
            assertArrayEquals(good, TestSupport.readToEnd(ch), "both answers, then end of stream");
        }
        eventually().until(() -> events.closed.size() == 1);
        FrameTooLongException e = (FrameTooLongException) events.causes.get(events.closed.get(0));
        assertEquals(1024, e.limit());
        assertEquals(1025, e.size());
    }

    /**
     * A frame written on the loop is one unit: a write that crosses the high watermark
     * runs onWritabilityChanged after the whole frame is queued, so a frame the callback
     * writes cannot land between another frame's header and payload.
     */
    @Test
    void aWritabilityCallbackCannotSplitAFrame() throws Exception {
        Framing framing = Framing.lengthPrefixed(4, 1 << 20);
        StreamOptions options = StreamOptions.builder().watermarks(8, 16).build();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), options, () -> framing.handler(new FrameHandler() {
            @Override
            public void onFrame(Connection c, ByteBuffer frame) {
                framing.write(c, "0123456789ab".getBytes(StandardCharsets.US_ASCII)); // 16 bytes: at the mark
                framing.write(c, "XY".getBytes(StandardCharsets.US_ASCII));           // crosses it
                c.close();
            }

            @Override
            public void onWritabilityChanged(Connection c, boolean writable) {
                if (!writable) {
                    framing.write(c, "slow".getBytes(StandardCharsets.US_ASCII));
                }
            }
        }));
        try (SocketChannel client = connect(server.localAddress())) {
            writeFully(client, framing.encode(ByteBuffer.wrap(new byte[] {1})));
            ByteBuffer in = ByteBuffer.wrap(TestSupport.readToEnd(client));
            List<String> frames = new ArrayList<>();
            while (in.hasRemaining()) {
                byte[] payload = new byte[in.getInt()];
                in.get(payload);
                frames.add(new String(payload, StandardCharsets.US_ASCII));
            }
            assertEquals(List.of("0123456789ab", "XY", "slow"), frames);
        }
    }

    /** A frame handler that throws is isolated exactly like a plain handler. */
    @Test
    void aThrowingFrameHandlerClosesOnlyItsConnectionWithItsExceptionAsTheCause() throws Exception {
        Framing framing = Framing.lines(1000);
        Map<Connection, RuntimeException> thrown = new ConcurrentHashMap<>();
        StreamServer server = serve(() -> framing.handler(new FrameHandler() {
            private final FrameHandler echo = echo(framing, new AtomicLong());

            @Override
            public void onOpen(Connection c) throws Exception {
                echo.onOpen(c);
            }

            @Override
            public void onFrame(Connection c, ByteBuffer frame) throws Exception {
                if (StandardCharsets.US_ASCII.decode(frame.duplicate()).toString().equals("boom")) {
                    RuntimeException e = new IllegalStateException("frame handler boom (expected by the test)");
                    thrown.put(c, e);
                    throw e;
                }
                echo.onFrame(c, frame);
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                echo.onClose(c, cause);
            }
        }));
        try (SocketChannel bad = connect(server.localAddress());
             SocketChannel good = connect(server.localAddress())) {
            writeFully(good, ascii("one\n"));
            assertEquals("one\n", new String(readFully(good, 4), StandardCharsets.US_ASCII));
            writeFully(bad, ascii("hello\n"));
            assertEquals("hello\n", new String(readFully(bad, 6), StandardCharsets.US_ASCII));
            writeFully(bad, ascii("boom\nnever\npart"));
            eventually().until(() -> events.closed.size() == 1);
            assertClosedByPeer(bad);
            Connection closed = events.closed.get(0);
            assertSame(thrown.get(closed), events.causes.get(closed), "the handler's exception is the cause");

            writeFully(good, ascii("two\nthree\n"));
            assertEquals("two\nthree\n", new String(readFully(good, 10), StandardCharsets.US_ASCII));
            assertEquals(1, events.closed.size());
        }
        eventually().until(() -> events.closed.size() == 2);
        assertEquals(0, onLoop(loop.pool::accumulationInUse));
    }

    /**
     * Frames written with {@code framing.write} from many threads at once arrive whole: a
     * header is never separated from its payload by another thread's frame, and each
     * thread's frames keep their order.
     */
    @Test
    void framesWrittenFromManyThreadsAtOnceArriveWhole() throws Exception {
        Framing framing = Framing.lengthPrefixed(4, 1 << 20);
        int threads = 8;
        int perThread = 300;
        CompletableFuture<Connection> serverSide = new CompletableFuture<>();
        StreamServer server = serve(() -> framing.handler(new FrameHandler() {
            @Override
            public void onOpen(Connection c) {
                serverSide.complete(c);
            }

            @Override
            public void onFrame(Connection c, ByteBuffer frame) {
            }
        }));
        ExecutorService writers = Executors.newFixedThreadPool(threads);
        try (SocketChannel client = connect(server.localAddress())) {
            Connection c = serverSide.get(10, TimeUnit.SECONDS);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(writers.submit(() -> {
                    start.await();
                    Random random = new Random(thread);
                    for (int seq = 0; seq < perThread; seq++) {
                        // Some frames over the direct-write threshold, most small.
                        int size = 8 + (random.nextInt(20) == 0 ? 20_000 : random.nextInt(3000));
                        ByteBuffer payload = ByteBuffer.allocate(size);
                        payload.putInt(thread).putInt(seq);
                        while (payload.hasRemaining()) {
                            payload.put((byte) (thread * 31 + seq + payload.position()));
                        }
                        framing.write(c, payload.flip());
                    }
                    return null;
                }));
            }
            start.countDown();
            int[] nextSeq = new int[threads];
            for (int i = 0; i < threads * perThread; i++) {
                int length = ByteBuffer.wrap(readFully(client, 4)).getInt();
                assertTrue(length >= 8 && length <= 20_008, "a header, not payload bytes: " + length);
                ByteBuffer payload = ByteBuffer.wrap(readFully(client, length));
                int thread = payload.getInt();
                int seq = payload.getInt();
                assertEquals(nextSeq[thread]++, seq, "thread " + thread + "'s frames in order");
                while (payload.hasRemaining()) {
                    assertEquals((byte) (thread * 31 + seq + payload.position()), payload.get(), "payload intact");
                }
            }
            for (Future<?> f : done) {
                f.get(10, TimeUnit.SECONDS);
            }
        } finally {
            writers.shutdownNow();
        }
    }

    private static ByteBuffer ascii(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * A newcomer's key-value server: {@code QUIT\nSET sneaky 1\n} in one send. onFrame
     * answers BYE and closes at QUIT; the SET after it, already in the same read, must
     * never be delivered (asyncio never calls data_received after close()).
     */
    @Test
    void nothingIsDeliveredAfterCloseEvenFromTheSameRead() throws Exception {
        Framing lines = Framing.lines(1024);
        List<String> delivered = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Boolean> closingAfterClose = new java.util.concurrent.CopyOnWriteArrayList<>();
        StreamServer server = serve(() -> lines.handler((c, frame) -> {
            String line = StandardCharsets.US_ASCII.decode(frame).toString();
            delivered.add(line);
            if (line.equals("QUIT")) {
                lines.write(c, ByteBuffer.wrap("BYE".getBytes(StandardCharsets.US_ASCII)));
                c.close();
                closingAfterClose.add(c.isClosing());
            }
        }));
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("QUIT\nSET sneaky 1\nGET sneaky\n".getBytes(StandardCharsets.US_ASCII)));
            assertEquals("BYE\n", new String(TestSupport.readToEnd(ch), StandardCharsets.US_ASCII));
        }
        assertEquals(List.of("QUIT"), delivered);
        assertEquals(List.of(true), closingAfterClose, "isClosing() is true as soon as close() returns on the loop");
    }

    /** A line protocol answers an over-long line with an error line, then the connection closes. */
    @Test
    void aFramingErrorCanBeAnsweredBeforeTheClose() throws Exception {
        Framing lines = Framing.lines(16);
        CompletableFuture<Throwable> closed = new CompletableFuture<>();
        StreamServer server = serve(() -> lines.handler(new FrameHandler() {
            @Override
            public void onFrame(Connection c, ByteBuffer frame) {
                lines.write(c, frame);
            }

            @Override
            public void onFramingError(Connection c, FramingException e) {
                lines.write(c, ByteBuffer.wrap("ERR too long".getBytes(StandardCharsets.US_ASCII)));
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                closed.complete(cause);
            }
        }));
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("ok\nthis line is far too long for sixteen\n".getBytes(StandardCharsets.US_ASCII)));
            assertEquals("ok\nERR too long\n", new String(TestSupport.readToEnd(ch), StandardCharsets.US_ASCII),
                    "the good line's echo, the error line, then end of stream");
        }
        FrameTooLongException cause = org.junit.jupiter.api.Assertions.assertInstanceOf(FrameTooLongException.class,
                closed.get(30, TimeUnit.SECONDS));
        assertEquals(17, cause.size(), "a frame of at least one byte over the limit: " + cause.getMessage());
    }

    /** Input that ends inside a frame is a framing error too, and can be answered the same way. */
    @Test
    void anEndOfInputInsideAFrameCanBeAnswered() throws Exception {
        Framing lines = Framing.lines(1024);
        StreamServer server = serve(() -> lines.handler(new FrameHandler() {
            @Override
            public void onFrame(Connection c, ByteBuffer frame) {
            }

            @Override
            public void onFramingError(Connection c, FramingException e) {
                lines.write(c, ByteBuffer.wrap(("ERR " + e.getClass().getSimpleName()).getBytes(StandardCharsets.US_ASCII)));
            }
        }));
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("no newline".getBytes(StandardCharsets.US_ASCII)));
            ch.shutdownOutput();
            assertEquals("ERR CorruptFrameException\n", new String(TestSupport.readToEnd(ch), StandardCharsets.US_ASCII));
        }
    }
}
