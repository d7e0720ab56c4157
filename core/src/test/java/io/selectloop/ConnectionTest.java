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
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ConnectionTest {
    private EventLoop loop;
    private final TestSupport.Events events = new TestSupport.Events();

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("connection-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    private StreamServer serve(Supplier<? extends Handler> handlers) throws IOException {
        return StreamServer.bind(loop, anyLoopbackPort(), handlers);
    }

    private StreamServer serve(StreamOptions options, Supplier<? extends Handler> handlers) throws IOException {
        return StreamServer.bind(loop, anyLoopbackPort(), options, handlers);
    }

    private <T> T onLoop(Callable<T> action) throws Exception {
        return TestSupport.onLoop(loop, action);
    }

    /**
     * A client sends 8 MiB and does not read. The server's pending output for it never
     * exceeds the high watermark plus one read buffer, its reading is paused (so TCP
     * pushes back on the client), and once the client reads, every byte arrives intact.
     */
    @Test
    void aClientThatDoesNotReadIsHeldBackAndLosesNothing() throws Exception {
        StreamOptions options = StreamOptions.builder()
                .receiveBufferSize(64 * 1024).sendBufferSize(64 * 1024).build();
        AtomicLong maxPending = new AtomicLong();
        AtomicInteger readsWhileUnwritable = new AtomicInteger();
        List<Boolean> writability = new CopyOnWriteArrayList<>();
        CompletableFuture<Connection> serverSide = new CompletableFuture<>();
        StreamServer server = serve(options, () -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                serverSide.complete(c);
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
                if (!c.isWritable()) {
                    readsWhileUnwritable.incrementAndGet();
                }
                c.write(data);
                maxPending.accumulateAndGet(c.pendingWriteBytes(), Math::max);
            }

            @Override
            public void onWritabilityChanged(Connection c, boolean writable) {
                writability.add(writable);
            }
        });

        int size = 8 << 20;
        byte[] payload = TestSupport.randomBytes(new Random(8), size);
        try (SocketChannel client = SocketChannel.open()) {
            client.setOption(StandardSocketOptions.SO_RCVBUF, 64 * 1024);
            client.setOption(StandardSocketOptions.SO_SNDBUF, 64 * 1024);
            client.connect(server.localAddress());
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try {
                    writeFully(client, ByteBuffer.wrap(payload));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            StreamConnection c = (StreamConnection) serverSide.get(10, TimeUnit.SECONDS);
            eventually().until(() -> !c.isWritable());
            eventually().until(() -> onLoop(c::isReadingPausedByBackPressure));
            assertEquals(0, onLoop(c::registeredOpsForTests) & SelectionKey.OP_READ, "OP_READ is off");
            // Socket buffers hold a few hundred KiB at most, so the client is stuck.
            assertFalse(sent.isDone(), "TCP flow control holds the sender back");
            long bound = options.highWatermark() + EventLoop.READ_BUFFER_SIZE;
            assertTrue(c.pendingWriteBytes() <= bound, "pending " + c.pendingWriteBytes());

            assertArrayEquals(payload, readFully(client, size));
            sent.get(60, TimeUnit.SECONDS);
            assertTrue(maxPending.get() <= bound, "max pending " + maxPending.get() + " over " + bound);
            assertEquals(0, readsWhileUnwritable.get(), "no reads while unwritable");
            assertEquals(Boolean.FALSE, writability.get(0));
            for (int i = 0; i < writability.size(); i++) {
                assertEquals(i % 2 == 1, writability.get(i), "events alternate, one per crossing: " + writability);
            }
            eventually().until(c::isWritable);
        }
    }

    @Test
    void pendingOutputOverTheCapClosesThatConnectionWithAClearError() throws Exception {
        StreamOptions options = StreamOptions.builder()
                .watermarks(1024, 2048).maxPendingWriteBytes(64 * 1024)
                .pauseReadingWhenUnwritable(false).sendBufferSize(16 * 1024).build();
        AtomicInteger opened = new AtomicInteger();
        StreamServer server = serve(options, () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onOpen(Connection c) {
                super.onOpen(c);
                if (opened.getAndIncrement() == 0) {
                    for (int i = 0; i < 64; i++) {
                        c.write(new byte[16 * 1024]); // 1 MiB to a peer that reads nothing
                    }
                }
            }
        });
        try (SocketChannel client = SocketChannel.open()) {
            client.setOption(StandardSocketOptions.SO_RCVBUF, 16 * 1024);
            client.connect(server.localAddress());
            eventually().until(() -> events.closed.size() == 1);
            Throwable cause = events.causes.get(events.closed.get(0));
            WriteLimitExceededException e = assertInstanceOf(WriteLimitExceededException.class, cause);
            assertEquals(64 * 1024, e.limit());
            assertTrue(e.getMessage().contains("maxPendingWriteBytes"), e.getMessage());
        }
        // The server goes on serving others.
        try (SocketChannel other = connect(server.localAddress())) {
            writeFully(other, ByteBuffer.wrap("still here".getBytes(StandardCharsets.US_ASCII)));
            assertEquals("still here", new String(readFully(other, 10), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void aThrowingHandlerClosesOnlyItsConnectionWithTheExceptionAsCause() throws Exception {
        int clients = 40;
        AtomicInteger index = new AtomicInteger();
        List<RuntimeException> thrown = new CopyOnWriteArrayList<>();
        StreamServer server = serve(() -> {
            boolean bad = index.getAndIncrement() % 4 == 0;
            return new TestSupport.RecordingEcho(events) {
                @Override
                public void onData(Connection c, ByteBuffer data) throws Exception {
                    if (bad) {
                        RuntimeException e = new IllegalStateException("handler boom (expected by the test)");
                        c.attach(e);
                        thrown.add(e);
                        throw e;
                    }
                    super.onData(c, data);
                }
            };
        });
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                int seed = i;
                results.add(pool.submit(() -> echoSucceeds(server.localAddress(), seed, 256 * 1024)));
            }
            int served = 0;
            for (Future<Boolean> f : results) {
                served += f.get(2, TimeUnit.MINUTES) ? 1 : 0;
            }
            assertEquals(clients - clients / 4, served, "every well-behaved connection finished its echo");
        } finally {
            pool.shutdownNow();
        }
        eventually().until(() -> events.closed.size() == clients);
        events.assertEachClosedOnce();
        assertEquals(clients / 4, thrown.size());
        for (Connection c : events.closed) {
            if (c.attachment() != null) {
                assertSame(c.attachment(), events.causes.get(c), "the thrown exception is the cause");
            } else {
                assertNull(events.causes.get(c), "a normal connection closes without a cause");
            }
        }
    }

    /** Sends {@code size} random bytes and checks the echo; false if the server closed early. */
    private static boolean echoSucceeds(java.net.SocketAddress address, int seed, int size) throws Exception {
        byte[] payload = TestSupport.randomBytes(new Random(seed), size);
        try (SocketChannel ch = connect(address)) {
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    writeFully(ch, ByteBuffer.wrap(payload));
                } catch (IOException ignored) {
                    // the server closed on us: the reader reports it
                }
            });
            byte[] echoed;
            try {
                echoed = readFully(ch, size);
            } catch (IOException e) {
                return false;
            }
            writer.get(60, TimeUnit.SECONDS);
            assertArrayEquals(payload, echoed);
            return true;
        }
    }

    /** 500 peers reset in the middle of a transfer: each is reported once and nothing leaks. */
    @Test
    void fiveHundredPeersResettingMidTransfer() throws Exception {
        StreamServer server = serve(() -> new TestSupport.RecordingEcho(events));
        int baseline = TestSupport.openFileDescriptors();
        int peers = 500;
        InetSocketAddress address = (InetSocketAddress) server.localAddress();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < peers; i++) {
                int seed = i;
                done.add(pool.submit(() -> {
                    try (Socket s = new Socket(address.getAddress(), address.getPort())) {
                        OutputStream out = s.getOutputStream();
                        out.write(TestSupport.randomBytes(new Random(seed), 64 * 1024));
                        out.flush();
                        InputStream in = s.getInputStream();
                        if (in.read(new byte[1024]) < 0) {
                            throw new IOException("the server closed first");
                        }
                        s.setSoLinger(true, 0); // close sends RST while echoes are still flowing
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(2, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        eventually().until(() -> events.closed.size() == peers);
        events.assertEachClosedOnce();
        assertEquals(peers, events.opened.size());
        // The loop survived: a new client is served.
        assertTrue(echoSucceeds(server.localAddress(), 99, 64 * 1024));
        eventually().until(() -> events.closed.size() == peers + 1);
        eventually().until(() -> TestSupport.openFileDescriptors() <= baseline);
        assertEquals(0, onLoop(loop.pool::inUse), "every output chunk went back to the pool");
    }

    /** The client half-closes after sending; it still receives every echoed byte, then end of stream. */
    @Test
    void halfCloseStillDeliversEveryEchoedByteThenEndOfStream() throws Exception {
        StreamServer server = serve(() -> new TestSupport.RecordingEcho(events));
        byte[] payload = TestSupport.randomBytes(new Random(5), 3 << 20);
        try (SocketChannel ch = connect(server.localAddress())) {
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    writeFully(ch, ByteBuffer.wrap(payload));
                    ch.shutdownOutput();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertArrayEquals(payload, readToEnd(ch), "all bytes, then end of stream");
            writer.get(60, TimeUnit.SECONDS);
        }
        eventually().until(() -> events.closed.size() == 1);
        assertNull(events.causes.get(events.closed.get(0)));
    }

    @Test
    void aHandlerCanAnswerAHalfClosedPeer() throws Exception {
        StreamServer server = serve(() -> new Handler() {
            private long received;

            @Override
            public void onData(Connection c, ByteBuffer data) {
                received += data.remaining();
            }

            @Override
            public void onEof(Connection c) {
                c.write(("received " + received + "\n").getBytes(StandardCharsets.US_ASCII));
                c.close();
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap(new byte[12345]));
            ch.shutdownOutput();
            assertEquals("received 12345\n", new String(readToEnd(ch), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void shutdownOutputSendsFinAfterPendingDataAndKeepsReading() throws Exception {
        List<String> afterShutdown = new CopyOnWriteArrayList<>();
        StreamServer server = serve(() -> new TestSupport.RecordingEcho(events) {
            boolean shut;

            @Override
            public void onData(Connection c, ByteBuffer data) {
                if (!shut) {
                    c.write("bye".getBytes());
                    c.shutdownOutput();
                    c.write("dropped".getBytes()); // after shutdownOutput: silently dropped
                    shut = true;
                } else {
                    afterShutdown.add(StandardCharsets.US_ASCII.decode(data).toString());
                }
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("hi".getBytes()));
            assertEquals("bye", new String(readToEnd(ch)), "the reply, then FIN");
            writeFully(ch, ByteBuffer.wrap("more".getBytes()));
            eventually().until(() -> String.join("", afterShutdown).equals("more"));
        }
        eventually().until(() -> events.closed.size() == 1);
        assertNull(events.causes.get(events.closed.get(0)), "both directions ended in order");
    }

    @Test
    void writesAndCloseFromAnotherThreadArriveInOrder() throws Exception {
        int messages = 10_000;
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try {
            StreamServer server = serve(() -> new TestSupport.RecordingEcho(events) {
                @Override
                public void onOpen(Connection c) {
                    super.onOpen(c);
                    writer.execute(() -> {
                        for (int i = 0; i < messages; i++) {
                            c.write(("line " + i + "\n").getBytes(StandardCharsets.US_ASCII));
                        }
                        c.close();
                    });
                }
            });
            try (SocketChannel ch = connect(server.localAddress())) {
                String[] lines = new String(readToEnd(ch), StandardCharsets.US_ASCII).split("\n");
                assertEquals(messages, lines.length);
                for (int i = 0; i < messages; i++) {
                    assertEquals("line " + i, lines[i]);
                }
            }
        } finally {
            writer.shutdownNow();
        }
        eventually().until(() -> events.closed.size() == 1);
        assertNull(events.causes.get(events.closed.get(0)));
    }

    @Test
    void abortResetsTheConnectionAndDropsPendingOutput() throws Exception {
        StreamServer server = serve(() -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onData(Connection c, ByteBuffer data) {
                c.write(new byte[1 << 20]);
                c.abort();
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("x".getBytes()));
            IOException e = assertThrows(IOException.class, () -> readToEnd(ch));
            assertTrue(e.getMessage().toLowerCase().contains("reset"), e.getMessage());
        }
        eventually().until(() -> events.closed.size() == 1);
        assertNull(events.causes.get(events.closed.get(0)), "abort is a local, deliberate close");
    }

    @Test
    void pauseAndResumeReadingFromAnotherThread() throws Exception {
        AtomicLong received = new AtomicLong();
        CompletableFuture<Connection> serverSide = new CompletableFuture<>();
        StreamServer server = serve(() -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                c.pauseReading();
                serverSide.complete(c);
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
                received.addAndGet(data.remaining());
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            StreamConnection c = (StreamConnection) serverSide.get(10, TimeUnit.SECONDS);
            writeFully(ch, ByteBuffer.wrap(new byte[1000]));
            assertEquals(0, onLoop(c::registeredOpsForTests) & SelectionKey.OP_READ);
            onLoop(() -> null); // a full loop pass with data waiting
            assertEquals(0, received.get(), "nothing is read while paused");
            c.resumeReading();
            eventually().until(() -> received.get() == 1000);
        }
    }

    @Test
    void writesAfterCloseAreDroppedAndOnCloseRunsOnce() throws Exception {
        StreamServer server = serve(() -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onData(Connection c, ByteBuffer data) {
                c.write("last".getBytes());
                c.close();
                c.write("dropped".getBytes());
                assertFalse(c.isOpen() && c.pendingWriteBytes() > 4, "nothing after close is queued");
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("x".getBytes()));
            assertEquals("last", new String(readToEnd(ch)));
        }
        eventually().until(() -> events.closed.size() == 1);
        events.assertEachClosedOnce();
    }

    @Test
    void connectionAddressesAndAttachment() throws Exception {
        CompletableFuture<Connection> serverSide = new CompletableFuture<>();
        StreamServer server = serve(() -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                c.attach("state");
                serverSide.complete(c);
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            Connection c = serverSide.get(10, TimeUnit.SECONDS);
            assertEquals(ch.getLocalAddress(), c.remoteAddress());
            assertEquals(server.localAddress(), c.localAddress());
            assertEquals("state", c.attachment());
            assertSame(loop, c.loop());
            assertTrue(c.isOpen());
        }
    }

    @Test
    void smallWritesInOneIterationLeaveInOneGatheringWrite() throws Exception {
        CompletableFuture<Connection> serverSide = new CompletableFuture<>();
        StreamServer server = serve(() -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                serverSide.complete(c);
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
                data.position(data.limit());
                for (int i = 0; i < 1000; i++) {
                    c.write(new byte[] {(byte) i});
                }
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("go".getBytes()));
            byte[] reply = readFully(ch, 1000);
            for (int i = 0; i < 1000; i++) {
                assertEquals((byte) i, reply[i]);
            }
            Connection c = serverSide.get(10, TimeUnit.SECONDS);
            // Counted by the kernel, not by us: with TCP_NODELAY on, 1000 write calls would
            // be about 1000 segments; one gathering write of 1000 bytes is one.
            long segments = TestSupport.dataSegmentsSent((InetSocketAddress) c.localAddress(),
                    (InetSocketAddress) ch.getLocalAddress());
            assertTrue(segments <= 2, "1000 writes in one iteration went out as " + segments + " TCP segments");
        }
    }

    /**
     * onWritabilityChanged(true) writes the last piece and closes (a streaming pattern):
     * the last piece still goes out before the FIN, and the close is orderly.
     */
    @Test
    void aWriteAndCloseInsideTheWritableCallbackAreDeliveredInOrder() throws Exception {
        StreamOptions options = StreamOptions.builder().watermarks(1024, 4096).build();
        StreamServer server = serve(options, () -> new TestSupport.RecordingEcho(events) {
            @Override
            public void onOpen(Connection c) {
                super.onOpen(c);
                c.write(new byte[8192]); // over the high watermark: unwritable until drained
            }

            @Override
            public void onWritabilityChanged(Connection c, boolean writable) {
                if (writable) {
                    c.write("END".getBytes(StandardCharsets.US_ASCII));
                    c.close();
                }
            }
        });
        try (SocketChannel client = connect(server.localAddress())) {
            byte[] all = readToEnd(client);
            assertEquals(8192 + 3, all.length);
            assertEquals("END", new String(all, 8192, 3, StandardCharsets.US_ASCII));
        }
        eventually().until(() -> events.closed.size() == 1);
        assertNull(events.causes.get(events.closed.get(0)));
    }

    /** A low watermark of 0 means "writable again once empty", not "never". */
    @Test
    void aZeroLowWatermarkBecomesWritableOnceEmpty() throws Exception {
        StreamServer server = serve(StreamOptions.builder().watermarks(0, 16).build(),
                () -> new TestSupport.RecordingEcho(events));
        try (SocketChannel client = connect(server.localAddress())) {
            for (int round = 0; round < 3; round++) {
                byte[] message = TestSupport.randomBytes(new Random(round), 100); // over high: pauses reading
                writeFully(client, ByteBuffer.wrap(message));
                CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
                    try {
                        return readFully(client, message.length);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                assertArrayEquals(message, echoed.get(60, TimeUnit.SECONDS), "round " + round);
            }
        }
    }

    /**
     * A producer thread that writes only while isWritable() says so is held near the high
     * watermark even when the loop is busy and its writes pile up in transit: it never
     * runs into maxPendingWriteBytes.
     */
    @Test
    void aProducerThreadThatHonoursIsWritableStaysUnderTheCapWhileTheLoopIsBusy() throws Exception {
        CompletableFuture<Connection> serverSide = new CompletableFuture<>();
        StreamServer server = serve(StreamOptions.builder().maxPendingWriteBytes(1 << 20).build(),
                () -> new TestSupport.RecordingEcho(events) {
                    @Override
                    public void onOpen(Connection c) {
                        super.onOpen(c);
                        serverSide.complete(c);
                    }
                });
        try (SocketChannel peer = connect(server.localAddress())) { // never reads
            Connection c = serverSide.get(10, TimeUnit.SECONDS);
            java.util.concurrent.CountDownLatch busy = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            loop.execute(() -> { // the loop is busy: nothing in transit reaches the queue
                busy.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(busy.await(10, TimeUnit.SECONDS));
            byte[] chunk = new byte[4096];
            long written = 0;
            while (c.isWritable() && written < (2 << 20)) {
                c.write(chunk);
                written += chunk.length;
            }
            release.countDown();
            assertTrue(written < (1 << 20), "isWritable() stopped the producer after " + written + " bytes");
            onLoop(() -> null); // the handed-over writes have reached the queue
            assertTrue(c.isOpen());
            assertTrue(events.closed.isEmpty(), "closed with " + events.causes);
        }
    }

    /**
     * A 100 KiB write from another thread is over the high watermark while in transit, so
     * isWritable() says false at once, and then the loop sends it straight through. No
     * callback used to follow, leaving a producer waiting for (true) stuck: whoever saw
     * false is owed onWritabilityChanged(false), then (true) once the output drains.
     */
    @Test
    void aForeignWriteSeenUnwritableIsFollowedByUnwritableThenWritableCallbacks() throws Exception {
        // A send buffer that takes the whole write at once: the loop sends it straight through.
        StreamOptions options = StreamOptions.builder().sendBufferSize(1 << 20).build();
        List<Boolean> writability = new CopyOnWriteArrayList<>();
        CompletableFuture<Connection> serverSide = new CompletableFuture<>();
        StreamServer server = serve(options, () -> new TestSupport.Discarding(serverSide) {
            @Override
            public void onWritabilityChanged(Connection c, boolean writable) {
                writability.add(writable);
            }
        });
        byte[] payload = TestSupport.randomBytes(new Random(100), 100 * 1024);
        try (SocketChannel client = SocketChannel.open()) {
            client.setOption(StandardSocketOptions.SO_RCVBUF, 1 << 20);
            client.connect(server.localAddress());
            Connection c = serverSide.get(10, TimeUnit.SECONDS);
            try (TestSupport.LoopHold busy = TestSupport.holdLoop(loop)) { // the write stays in transit
                c.write(payload);
                assertFalse(c.isWritable(), "100 KiB in transit is over the 64 KiB high watermark");
            }
            assertArrayEquals(payload, readFully(client, payload.length));
            onLoop(() -> null); // the flush that sent the last bytes has returned
            assertEquals(List.of(false, true), writability, "callbacks after isWritable() said false");
            assertTrue(c.isWritable());
        }
    }

    /**
     * onData gets a view of exactly its read. It used to get the loop's shared read
     * buffer, so a handler that moved the limit read bytes another connection had sent:
     * isolation between connections is a security property.
     */
    @Test
    void aHandlerCannotReachAnotherConnectionsBytesThroughItsDataBuffer() throws Exception {
        Map<SocketAddress, AtomicInteger> received = new ConcurrentHashMap<>();
        Map<SocketAddress, AtomicInteger> reachableBytesOfA = new ConcurrentHashMap<>();
        StreamServer server = serve(() -> (c, data) -> {
            received.computeIfAbsent(c.remoteAddress(), k -> new AtomicInteger()).addAndGet(data.remaining());
            data.limit(data.capacity()); // a careless or hostile handler reaching past its bytes
            byte[] reachable = new byte[data.remaining()];
            data.get(reachable);
            reachableBytesOfA.computeIfAbsent(c.remoteAddress(), k -> new AtomicInteger())
                    .addAndGet(TestSupport.occurrences(reachable, (byte) 'A'));
        });
        try (SocketChannel a = connect(server.localAddress()); SocketChannel b = connect(server.localAddress())) {
            byte[] fromA = new byte[1000];
            java.util.Arrays.fill(fromA, (byte) 'A');
            writeFully(a, ByteBuffer.wrap(fromA));
            eventually().until(() -> received.getOrDefault(a.getLocalAddress(), new AtomicInteger()).get() == 1000);
            writeFully(b, ByteBuffer.wrap("bbbbb".getBytes(StandardCharsets.US_ASCII)));
            eventually().until(() -> received.getOrDefault(b.getLocalAddress(), new AtomicInteger()).get() == 5);
            assertEquals(0, reachableBytesOfA.get(b.getLocalAddress()).get(), "bytes of A's that B's handler could read");
        }
    }

    /**
     * A write from another thread crosses the high watermark, so isWritable() says false
     * and (true) is owed; then the loop shuts the output before the bytes arrive, and they
     * are dropped. The (true) used to be lost with them, leaving reading paused for good:
     * the peer's data and end of stream were never read.
     */
    @Test
    void aForeignWriteDroppedByShutdownOutputStillEndsInWritableTrue() throws Exception {
        EventLoop driven = EventLoop.open();
        try {
            List<Boolean> writability = new CopyOnWriteArrayList<>();
            CompletableFuture<Connection> serverSide = new CompletableFuture<>();
            StreamServer server = StreamServer.bind(driven, anyLoopbackPort(), () -> new TestSupport.Discarding(serverSide) {
                @Override
                public void onWritabilityChanged(Connection c, boolean writable) {
                    writability.add(writable);
                }
            });
            try (SocketChannel client = connect(server.localAddress())) {
                TestSupport.runUntil(driven, serverSide::isDone);
                Connection c = serverSide.get();
                Thread producer = new Thread(() -> c.write(ByteBuffer.allocate(100 * 1024)));
                producer.start();
                producer.join(TimeUnit.SECONDS.toMillis(60));
                assertFalse(c.isWritable(), "the write in transit is over the high watermark");
                c.shutdownOutput(); // on the driving thread, before the hand-off runs: nothing queued yet
                writeFully(client, ByteBuffer.wrap(new byte[] {1, 2, 3}));
                client.shutdownOutput();
                // Both directions have ended once the server reads the peer's end of stream,
                // and only a connection that reads again can.
                TestSupport.runUntil(driven, () -> !c.isOpen());
                assertEquals(List.of(false, true), writability);
            }
        } finally {
            driven.close();
        }
    }

}
