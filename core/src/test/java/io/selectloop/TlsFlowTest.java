package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.onLoop;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Everything a plain stream connection does, under TLS: framing across record
 * boundaries, watermarks and back-pressure, pauseReading, shutdownOutput, close,
 * sendFile, idle timeouts, maxConnections, and the memory budget. The peer is
 * {@link EngineClient}, so the tests choose the records and how the ciphertext is cut.
 */
class TlsFlowTest {
    private final TestCerts certs = TestCerts.get();
    private EventLoop loop;

    @BeforeEach
    void start() {
        loop = EventLoop.start("tls-flow");
    }

    @AfterEach
    void stop() {
        loop.close();
    }

    private StreamServer server(StreamOptions.Builder options, java.util.function.Supplier<Handler> handlers)
            throws Exception {
        return StreamServer.bind(loop, anyLoopbackPort(),
                options.tls(TlsOptions.server(certs.serverContext()).build()).build(), handlers);
    }

    private EngineClient client(StreamServer server, String protocol) throws Exception {
        return new EngineClient(server.localAddress(), certs.clientContext(), protocol).handshake();
    }

    private static byte[] lines(int count) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < count; i++) {
            b.append("line ").append(i).append(" of ").append(count).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private Handler lineEcho() {
        return Framing.lines(1 << 20).handler((c, frame) -> c.writeAll(frame, ByteBuffer.wrap(new byte[] {'\n'})));
    }

    @Test
    void linesArriveWholeWhenEveryRecordCarriesOneByte() throws Exception {
        StreamServer server = server(StreamOptions.builder(), this::lineEcho);
        try (EngineClient client = client(server, null)) {
            byte[] text = lines(200);
            client.sendRaw(client.records(text, 1), Integer.MAX_VALUE);
            assertArrayEquals(text, client.read(text.length));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 5, 6, 1000, 16 * 1024 + 21})
    void framesArriveWholeWhateverWayTheCiphertextIsCut(int piece) throws Exception {
        Framing framing = Framing.lengthPrefixed(4, 1 << 20);
        StreamServer server = server(StreamOptions.builder(), () -> framing.handler((c, frame) -> framing.write(c, frame)));
        try (EngineClient client = client(server, null)) {
            // Frames of 100 KiB in 16 KiB records: a frame spans records, a record spans frames.
            Random random = new Random(piece);
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            for (int i = 0; i < 3; i++) {
                byte[] payload = TestSupport.randomBytes(random, piece < 10 ? 20_000 : 100 * 1024 + i);
                wire.write(framing.encode(ByteBuffer.wrap(payload)).array());
            }
            byte[] plain = wire.toByteArray();
            client.sendRaw(client.records(plain, 16 * 1024), piece);
            assertArrayEquals(plain, client.read(plain.length));
        }
    }

    @Test
    void outputPastTheHighWatermarkIsPacedAndArrivesIntact() throws Exception {
        byte[] big = TestSupport.randomBytes(new Random(7), 8 << 20);
        List<Boolean> writability = new CopyOnWriteArrayList<>();
        StreamServer server = server(StreamOptions.builder().watermarks(32 * 1024, 64 * 1024), () -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                c.write(big); // far past the high watermark, to a peer that has not read yet
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
            }

            @Override
            public void onWritabilityChanged(Connection c, boolean writable) {
                writability.add(writable);
            }
        });
        try (EngineClient client = client(server, null)) {
            eventually().until(() -> writability.contains(false));
            assertArrayEquals(big, client.read(big.length));
            eventually().until(() -> writability.equals(List.of(false, true)));
        }
    }

    @Test
    void anEchoToAPeerThatDoesNotReadStopsReadingItAndResumesWhenItDoes() throws Exception {
        CompletableFuture<Connection> accepted = new CompletableFuture<>();
        StreamServer server = server(StreamOptions.builder().watermarks(16 * 1024, 64 * 1024), () -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                accepted.complete(c);
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
                c.write(data);
            }
        });
        byte[] payload = TestSupport.randomBytes(new Random(3), 16 << 20);
        // Two threads of its own: the sender blocks until the reader drains the echo, and the
        // common pool may have a single worker (it has on 2 cores under JDK 25), which would
        // queue the reader behind the blocked sender for ever.
        java.util.concurrent.ExecutorService peers = java.util.concurrent.Executors.newFixedThreadPool(2);
        try (EngineClient client = client(server, null)) {
            StreamConnection c = (StreamConnection) accepted.get(30, TimeUnit.SECONDS);
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try {
                    client.send(payload);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, peers);
            // Nobody reads the echo: the server's output passes the high watermark and it stops reading.
            eventually().until(() -> onLoop(loop, c::isReadingPausedByBackPressure));
            assertTrue(c.heldBytes() < 16 << 20, "the server holds far less than what was sent");
            CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
                try {
                    return client.read(payload.length);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, peers);
            sent.get(60, TimeUnit.SECONDS); // a failed send fails here, not as a read that waits for ever
            assertArrayEquals(TestSupport.sha256(payload), TestSupport.sha256(echoed.get(60, TimeUnit.SECONDS)));
        } finally {
            peers.shutdownNow();
        }
    }

    @Test
    void pauseReadingStopsReadingTheSocketAndResumeDeliversEverything() throws Exception {
        BlockingQueue<Connection> opened = new LinkedBlockingQueue<>();
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        StreamServer server = server(StreamOptions.builder(), () -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                c.pauseReading();
                opened.add(c);
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
                synchronized (received) {
                    byte[] b = new byte[data.remaining()];
                    data.get(b);
                    received.write(b, 0, b.length);
                }
            }
        });
        try (EngineClient client = client(server, null)) {
            StreamConnection c = (StreamConnection) opened.poll(30, TimeUnit.SECONDS);
            byte[] payload = TestSupport.randomBytes(new Random(5), 100_000);
            client.send(payload);
            assertEquals(0, onLoop(loop, c::registeredOpsForTests) & SelectionKey.OP_READ, "no read interest while paused");
            assertEquals(0, onLoop(loop, () -> {
                synchronized (received) {
                    return received.size();
                }
            }));
            c.resumeReading();
            eventually().until(() -> {
                synchronized (received) {
                    return received.size() == payload.length;
                }
            });
            synchronized (received) {
                assertArrayEquals(payload, received.toByteArray());
            }
        }
    }

    @Test
    void shutdownOutputSendsCloseNotifyAndTheConnectionStillReads() throws Exception {
        ByteArrayOutputStream afterShutdown = new ByteArrayOutputStream();
        CompletableFuture<Throwable> closed = new CompletableFuture<>();
        StreamServer server = server(StreamOptions.builder(), () -> new Handler() {
            boolean shut;

            @Override
            public void onData(Connection c, ByteBuffer data) {
                if (!shut) {
                    shut = true;
                    c.write("last words".getBytes(StandardCharsets.US_ASCII));
                    c.shutdownOutput();
                    return;
                }
                byte[] b = new byte[data.remaining()];
                data.get(b);
                synchronized (afterShutdown) {
                    afterShutdown.write(b, 0, b.length);
                }
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                closed.complete(cause);
            }
        });
        // TLS 1.3: close_notify closes one direction only (TLS 1.2 would answer it with its own).
        try (EngineClient client = client(server, "TLSv1.3")) {
            client.send(new byte[] {1});
            assertArrayEquals("last words".getBytes(StandardCharsets.US_ASCII), client.read(10));
            assertThrows(EOFException.class, () -> client.read(1), "close_notify after the last words");
            client.send("still listening?".getBytes(StandardCharsets.US_ASCII));
            eventually().until(() -> {
                synchronized (afterShutdown) {
                    return afterShutdown.toString(StandardCharsets.US_ASCII).equals("still listening?");
                }
            });
            client.sendRaw(client.closeNotify(), Integer.MAX_VALUE);
            assertNull(closed.get(30, TimeUnit.SECONDS), "both directions ended: an orderly close");
        }
    }

    @Test
    void closeFlushesEverythingThenSendsCloseNotify(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("payload");
        byte[] content = TestSupport.randomBytes(new Random(11), 3 * 1024 * 1024 + 17);
        Files.write(file, content);
        byte[] head = "head".getBytes(StandardCharsets.US_ASCII);
        CompletableFuture<Throwable> closed = new CompletableFuture<>();
        StreamServer server = server(StreamOptions.builder(), () -> new Handler() {
            @Override
            public void onOpen(Connection c) throws Exception {
                FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
                c.attach(channel);
                c.write(head);
                c.sendFile(channel, 0, content.length); // through the engine: no zero-copy under TLS
                c.write(head);
                c.close();
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                try {
                    ((FileChannel) c.attachment()).close();
                } catch (java.io.IOException ignored) {
                    // test cleanup
                }
                closed.complete(cause);
            }
        });
        try (EngineClient client = client(server, null)) {
            byte[] got = client.read(head.length + content.length + head.length);
            assertArrayEquals(head, java.util.Arrays.copyOfRange(got, 0, head.length));
            assertArrayEquals(content, java.util.Arrays.copyOfRange(got, head.length, head.length + content.length));
            assertThrows(EOFException.class, () -> client.read(1), "then close_notify");
            assertNull(closed.get(30, TimeUnit.SECONDS));
            assertTrue(client.awaitServerClose());
        }
    }

    @Test
    void idleTimeoutsCountFromTheHandshakeAndCloseWithCloseNotify() throws Exception {
        BlockingQueue<IdleKind> idle = new LinkedBlockingQueue<>();
        StreamServer server = server(StreamOptions.builder().readIdleTimeout(Duration.ofMillis(200)), () -> new Handler() {
            @Override
            public void onData(Connection c, ByteBuffer data) {
            }

            @Override
            public void onIdle(Connection c, IdleKind kind) {
                idle.add(kind);
                c.close();
            }
        });
        try (EngineClient client = client(server, null)) {
            assertEquals(IdleKind.READ, idle.poll(30, TimeUnit.SECONDS));
            assertThrows(EOFException.class, () -> client.read(1), "close_notify");
        }
    }

    @Test
    void maxConnectionsCountsTlsConnectionsAndTheNextWaitsItsTurn() throws Exception {
        StreamServer server = server(StreamOptions.builder().maxConnections(1), () -> (c, data) -> c.write(data));
        try (EngineClient first = client(server, null)) {
            first.send("a".getBytes(StandardCharsets.US_ASCII));
            assertArrayEquals("a".getBytes(StandardCharsets.US_ASCII), first.read(1));
            CompletableFuture<EngineClient> second = CompletableFuture.supplyAsync(() -> {
                try {
                    return client(server, null); // waits in the backlog until the first leaves
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            eventually().until(() -> server.connectionLimitPauses() > 0);
            assertFalse(second.isDone());
            first.close();
            try (EngineClient next = second.get(30, TimeUnit.SECONDS)) {
                next.send("b".getBytes(StandardCharsets.US_ASCII));
                assertArrayEquals("b".getBytes(StandardCharsets.US_ASCII), next.read(1));
            }
        }
    }

    @Test
    void aCutRecordIsChargedToTheBudgetAndEverythingIsGivenBackOnClose() throws Exception {
        BlockingQueue<Connection> opened = new LinkedBlockingQueue<>();
        StreamServer server = server(StreamOptions.builder(), () -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                opened.add(c);
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
            }
        });
        MemoryBudget budget = loop.memoryBudget();
        try (EngineClient client = client(server, null)) {
            StreamConnection c = (StreamConnection) opened.poll(30, TimeUnit.SECONDS);
            byte[] record = client.records(new byte[10_000], 10_000);
            client.sendRaw(java.util.Arrays.copyOf(record, 6_000), Integer.MAX_VALUE);
            eventually().until(() -> onLoop(loop, c::heldBytes) >= 6_000);
            assertTrue(onLoop(loop, c::heldBytes) <= 16 * 1024, "the cut record, in a buffer sized to it");
        }
        eventually().until(() -> onLoop(loop, budget::used) == 0L);
    }

    /** What hostile peers that each stop inside a record make the server hold is all in the budget. */
    @Test
    void manyPeersStoppingInsideARecordAreAllCountedInTheBudget() throws Exception {
        int peers = 200;
        StreamServer server = server(StreamOptions.builder(), () -> (c, data) -> { });
        MemoryBudget budget = loop.memoryBudget();
        List<EngineClient> clients = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < peers; i++) {
                EngineClient client = client(server, null);
                clients.add(client);
                byte[] record = client.records(new byte[12_000], 12_000);
                client.sendRaw(java.util.Arrays.copyOf(record, 10_000), Integer.MAX_VALUE);
            }
            eventually().until(() -> onLoop(loop, budget::used) >= (long) peers * 10_000);
            long perPeer = onLoop(loop, budget::used) / peers;
            assertTrue(perPeer <= 16 * 1024, "each holds one buffer sized to its cut record, not more: " + perPeer);
        } finally {
            for (EngineClient client : clients) {
                client.close();
            }
        }
        eventually().until(() -> onLoop(loop, budget::used) == 0L);
    }

    /** The handshake has its own deadline: an idle timeout shorter than a slow handshake does not cut it. */
    @Test
    void idleTimeoutsDoNotRunDuringTheHandshake() throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.ExecutorService slow = java.util.concurrent.Executors.newSingleThreadExecutor();
        List<String> events = new CopyOnWriteArrayList<>();
        TlsOptions tls = TlsOptions.server(certs.serverContext()).delegatedTaskExecutor(task -> slow.execute(() -> {
            try {
                release.await(); // the handshake stalls here until the test lets it go
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            task.run();
        })).build();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(),
                StreamOptions.builder().allIdleTimeout(Duration.ofMillis(50)).tls(tls).build(), () -> new Handler() {
                    @Override
                    public void onOpen(Connection c) {
                        events.add("open");
                    }

                    @Override
                    public void onData(Connection c, ByteBuffer data) {
                        c.write(data);
                    }

                    @Override
                    public void onIdle(Connection c, IdleKind kind) {
                        events.add("idle");
                    }
                });
        try {
            CompletableFuture<EngineClient> client = CompletableFuture.supplyAsync(() -> {
                try {
                    return client(server, null);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            // Several idle periods pass on the loop's timers while the handshake waits.
            CompletableFuture<Void> periods = new CompletableFuture<>();
            loop.schedule(() -> periods.complete(null), 300, TimeUnit.MILLISECONDS);
            periods.get(30, TimeUnit.SECONDS);
            release.countDown();
            try (EngineClient c = client.get(30, TimeUnit.SECONDS)) {
                eventually().until(() -> events.contains("open"));
                assertEquals("open", events.get(0), "no onIdle before onOpen: " + events);
            }
        } finally {
            release.countDown();
            slow.shutdown();
        }
    }

    /** A thousand small writes in one callback are one flush, so as few full records as their size allows. */
    @ParameterizedTest
    @ValueSource(ints = {1000, 2500})
    void manySmallWritesBecomeFewFullRecords(int writes) throws Exception {
        StreamServer server = server(StreamOptions.builder().watermarks(1 << 20, 1 << 20), () -> (c, data) -> {
            for (int i = 0; i < writes; i++) {
                c.write(new byte[16]);
            }
        });
        try (EngineClient client = client(server, null)) {
            client.send(new byte[] {1});
            client.read(writes * 16);
            int fullRecords = (writes * 16 + 16 * 1024 - 1) / (16 * 1024);
            assertEquals(fullRecords, client.dataRecords, writes + " writes of 16 bytes");
        }
    }

    /** close() to a peer that stops reading: the close deadline resets it, close_notify or not. */
    @Test
    void aCloseThatCannotFlushIsCutByTheCloseDeadline() throws Exception {
        CompletableFuture<Throwable> closed = new CompletableFuture<>();
        StreamServer server = server(StreamOptions.builder().closeTimeout(Duration.ofMillis(200)).maxPendingWriteBytes(64 << 20),
                () -> new Handler() {
            @Override
            public void onData(Connection c, ByteBuffer data) {
                c.write(new byte[32 << 20]); // more than the socket buffers hold
                c.close();
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                closed.complete(cause);
            }
        });
        try (EngineClient client = client(server, null)) {
            client.send(new byte[] {1}); // and never read
            assertTrue(closed.get(30, TimeUnit.SECONDS) instanceof WriteTimeoutException);
        }
        eventually().until(() -> onLoop(loop, loop.memoryBudget()::used) == 0L);
    }
}
