package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StreamServerTest {
    private EventLoop loop;
    private final TestSupport.Events events = new TestSupport.Events();

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("server-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    private StreamServer echoServer(java.net.SocketAddress address) throws IOException {
        return StreamServer.bind(loop, address, () -> new TestSupport.RecordingEcho(events));
    }

    /**
     * 200 clients at once, each sending 1 MiB of random bytes in random chunk sizes
     * (1 B to 64 KiB) with random pauses: every byte comes back, in order.
     */
    @Test
    void echoIntegrityWith200ConcurrentClientsAndRandomChunking() throws Exception {
        StreamServer server = echoServer(anyLoopbackPort());
        int clients = 200;
        int size = 1 << 20;
        ScheduledExecutorService writers = Executors.newScheduledThreadPool(8);
        List<CompletableFuture<Void>> done = new ArrayList<>();
        List<SocketChannel> channels = new ArrayList<>();
        try {
            for (int i = 0; i < clients; i++) {
                Random random = new Random(1000 + i);
                byte[] payload = TestSupport.randomBytes(random, size);
                byte[] expected = TestSupport.sha256(payload);
                SocketChannel ch = connect(server.localAddress());
                channels.add(ch);
                CompletableFuture<Void> received = new CompletableFuture<>();
                Thread reader = new Thread(() -> {
                    try {
                        MessageDigest digest = TestSupport.sha256();
                        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
                        long total = 0;
                        while (total < size) {
                            int n = ch.read(buffer);
                            if (n < 0) {
                                throw new IOException("early end of stream after " + total);
                            }
                            digest.update(buffer.array(), 0, n);
                            total += n;
                            buffer.clear();
                        }
                        assertArrayEquals(expected, digest.digest(), "echoed bytes differ");
                        received.complete(null);
                    } catch (Throwable t) {
                        received.completeExceptionally(t);
                    }
                }, "reader-" + i);
                reader.start();
                done.add(received);
                new ChunkedWriter(ch, payload, random, writers, received).schedule(0);
            }
            CompletableFuture.allOf(done.toArray(new CompletableFuture[0])).get(5, TimeUnit.MINUTES);
        } finally {
            writers.shutdownNow();
            for (SocketChannel ch : channels) {
                ch.close();
            }
        }
        eventually().until(() -> events.closed.size() == clients);
        events.assertEachClosedOnce();
        assertEquals(clients, server.acceptedCount());
    }

    /** Writes a payload in random chunks, pausing at random between them, without a thread per client. */
    private static final class ChunkedWriter implements Runnable {
        private final SocketChannel ch;
        private final ByteBuffer payload;
        private final Random random;
        private final ScheduledExecutorService executor;
        private final CompletableFuture<Void> failure;

        ChunkedWriter(SocketChannel ch, byte[] payload, Random random, ScheduledExecutorService executor,
                      CompletableFuture<Void> failure) {
            this.ch = ch;
            this.payload = ByteBuffer.wrap(payload);
            this.random = new Random(random.nextLong());
            this.executor = executor;
            this.failure = failure;
        }

        void schedule(long delayMicros) {
            executor.schedule(this, delayMicros, TimeUnit.MICROSECONDS);
        }

        @Override
        public void run() {
            try {
                int chunk = Math.min(payload.remaining(), 1 + random.nextInt(64 * 1024));
                ByteBuffer slice = payload.slice();
                slice.limit(chunk);
                writeFully(ch, slice);
                payload.position(payload.position() + chunk);
                if (payload.hasRemaining()) {
                    schedule(random.nextInt(4) == 0 ? random.nextInt(3000) : 0);
                }
            } catch (Throwable t) {
                failure.completeExceptionally(t);
            }
        }
    }

    @Test
    void bindReportsTheRealPortAndAPortInUseFailsAtOnce() throws Exception {
        StreamServer server = echoServer(anyLoopbackPort());
        InetSocketAddress bound = (InetSocketAddress) server.localAddress();
        assertNotEquals(0, bound.getPort());
        try (ServerSocketChannel taken = ServerSocketChannel.open()) {
            taken.bind(anyLoopbackPort());
            assertThrows(BindException.class, () -> echoServer(taken.getLocalAddress()));
        }
    }

    @Test
    void acceptedTcpConnectionsHaveNagleOffByDefault() throws Exception {
        CompletableFuture<Boolean> noDelay = new CompletableFuture<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new Handler() {
            @Override
            public void onOpen(Connection c) throws Exception {
                noDelay.complete(((StreamConnection) c).channelForTests().getOption(StandardSocketOptions.TCP_NODELAY));
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            assertTrue(noDelay.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void closingTheServerStopsAcceptingButKeepsItsConnections() throws Exception {
        StreamServer server = echoServer(anyLoopbackPort());
        try (SocketChannel ch = connect(server.localAddress())) {
            eventually().until(() -> events.opened.size() == 1);
            server.close();
            server.closeFuture().get(10, TimeUnit.SECONDS);
            assertThrows(IOException.class, () -> connect(server.localAddress()).close());
            writeFully(ch, ByteBuffer.wrap("still here".getBytes()));
            assertEquals("still here", new String(readFully(ch, 10)));
        }
    }

    @Test
    void unixDomainSocketEcho(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("echo.sock");
        StreamServer server = echoServer(UnixDomainSocketAddress.of(socket));
        assertTrue(Files.exists(socket));
        byte[] payload = TestSupport.randomBytes(new Random(7), 1 << 20);
        try (SocketChannel ch = connect(server.localAddress())) {
            Thread writer = new Thread(() -> {
                try {
                    writeFully(ch, ByteBuffer.wrap(payload));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            writer.start();
            assertArrayEquals(payload, readFully(ch, payload.length));
            writer.join();
        }
        eventually().until(() -> events.closed.size() == 1);
        assertNull(events.causes.get(events.closed.get(0)), "an orderly close has no cause");
        server.close();
        eventually().until(() -> !Files.exists(socket));
    }

    @Test
    void aStaleUnixSocketFileIsReplaced(@TempDir Path dir) throws Exception {
        Path socket = dir.resolve("stale.sock");
        // A socket file left by a process that died without unlinking it.
        ServerSocketChannel dead = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        dead.bind(UnixDomainSocketAddress.of(socket));
        dead.close();
        assertTrue(Files.exists(socket));
        StreamServer server = echoServer(UnixDomainSocketAddress.of(socket));
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("ok".getBytes()));
            assertEquals("ok", new String(readFully(ch, 2)));
        }
    }

    /** A live server's socket file is not taken over: the second bind fails and the first keeps serving. */
    @Test
    void bindingTheUnixPathOfALiveServerFailsAndLeavesItServing(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("live.sock");
        StreamServer first = echoServer(UnixDomainSocketAddress.of(path));
        IOException e = assertThrows(IOException.class, () -> echoServer(UnixDomainSocketAddress.of(path)));
        assertTrue(e.getMessage().contains("in use"), e.getMessage());
        try (SocketChannel ch = connect(UnixDomainSocketAddress.of(path))) {
            writeFully(ch, ByteBuffer.wrap("still mine".getBytes()));
            assertEquals("still mine", new String(readFully(ch, 10)));
        }
        first.close();
        first.closeFuture().get(10, TimeUnit.SECONDS);
        assertFalse(Files.exists(path), "the owner removes its socket file on close");
    }

    @Test
    void aRegularFileAtTheUnixPathIsNotDeleted(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("precious.txt"), "data");
        assertThrows(IOException.class, () -> echoServer(UnixDomainSocketAddress.of(file)));
        assertEquals("data", Files.readString(file));
    }

    @Test
    void ipv6LoopbackEcho() throws Exception {
        InetAddress v6 = InetAddress.getByName("::1");
        assumeTrue(ipv6LoopbackAvailable(v6), "this host has no IPv6 loopback (::1); IPv6 echo not tested here");
        StreamServer server = echoServer(new InetSocketAddress(v6, 0));
        assertTrue(((InetSocketAddress) server.localAddress()).getAddress() instanceof Inet6Address);
        byte[] payload = TestSupport.randomBytes(new Random(6), 256 * 1024);
        try (SocketChannel ch = connect(server.localAddress())) {
            Thread writer = new Thread(() -> {
                try {
                    writeFully(ch, ByteBuffer.wrap(payload));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            writer.start();
            assertArrayEquals(payload, readFully(ch, payload.length));
            writer.join();
        }
    }

    private static boolean ipv6LoopbackAvailable(InetAddress v6) {
        try (ServerSocketChannel probe = ServerSocketChannel.open()) {
            probe.bind(new InetSocketAddress(v6, 0));
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    @Test
    void aFailingHandlerSupplierRefusesOnlyThatConnection() throws Exception {
        ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
        int[] n = {0};
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> {
            int index = n[0]++; // the supplier runs on the loop thread
            order.add(index);
            if (index == 0) {
                throw new IllegalStateException("supplier boom (expected by the test)");
            }
            return new TestSupport.RecordingEcho(events);
        });
        try (SocketChannel refused = connect(server.localAddress())) {
            assertEquals(-1, refused.read(ByteBuffer.allocate(1)), "the refused connection is closed");
        }
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("served".getBytes()));
            assertEquals("served", new String(readFully(ch, 6)));
        }
        assertEquals(2, order.size());
        assertFalse(server.isClosed());
    }

    /**
     * closeFuture completes only once the port is released. The selector frees a cancelled
     * key's socket at its next select; completing from a task queued in the same pass
     * (as closeChannel used to) let a connect still reach the listener. The loop is held
     * right after the completion, before any further select, while the test connects.
     */
    @Test
    void closeFutureCompletesOnlyOnceThePortIsReleased() throws Exception {
        StreamServer server = echoServer(anyLoopbackPort());
        java.util.concurrent.CountDownLatch completed = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch connectTried = new java.util.concurrent.CountDownLatch(1);
        server.closeFuture().thenRun(() -> {
            completed.countDown();
            try {
                connectTried.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        server.close();
        try {
            assertTrue(completed.await(10, TimeUnit.SECONDS));
            assertThrows(IOException.class, () -> connect(server.localAddress()).close());
        } finally {
            connectTried.countDown();
        }
    }

    /**
     * An accept that fails in a way the server does not expect (here an Error from the
     * handler supplier, which catches only RuntimeException) used to leave a dead listener
     * that still said it was open, with its socket file. It must close visibly, and the
     * loop must serve on.
     */
    @Test
    void anAcceptThatFailsUnexpectedlyClosesTheServerVisiblyAndTheLoopServesOn(@TempDir Path dir) throws Exception {
        StreamServer other = echoServer(anyLoopbackPort());
        Path socket = dir.resolve("failing.sock");
        java.util.concurrent.CountDownLatch supplierThrew = new java.util.concurrent.CountDownLatch(1);
        StreamServer failing = StreamServer.bind(loop, UnixDomainSocketAddress.of(socket), () -> {
            supplierThrew.countDown();
            throw new AssertionError("supplier error (expected by the test)");
        });
        try (SocketChannel trigger = connect(failing.localAddress())) {
            assertTrue(supplierThrew.await(10, TimeUnit.SECONDS));
            TestSupport.onLoop(loop, () -> null); // the failed accept has been dealt with
            assertTrue(failing.isClosed(), "the failed server says it is closed");
            failing.closeFuture().get(10, TimeUnit.SECONDS);
            assertFalse(Files.exists(socket), "its socket file is removed");
        }
        try (SocketChannel ch = connect(other.localAddress())) {
            writeFully(ch, ByteBuffer.wrap("still serving".getBytes()));
            assertEquals("still serving", new String(readFully(ch, 13)));
        }
    }

    /**
     * The connection being accepted when the server failed must be closed too: its peer
     * should see end of stream, not wait forever on a socket nobody owns. A Unix domain
     * socket, so that the end of stream is there as soon as the server side is closed.
     */
    @Test
    void theConnectionWhoseAcceptFailedUnexpectedlyIsClosedToo(@TempDir Path dir) throws Exception {
        java.util.concurrent.CountDownLatch supplierThrew = new java.util.concurrent.CountDownLatch(1);
        StreamServer failing = StreamServer.bind(loop, UnixDomainSocketAddress.of(dir.resolve("failing.sock")), () -> {
            supplierThrew.countDown();
            throw new AssertionError("supplier error (expected by the test)");
        });
        try (SocketChannel trigger = connect(failing.localAddress())) {
            assertTrue(supplierThrew.await(10, TimeUnit.SECONDS));
            TestSupport.onLoop(loop, () -> null); // the failed accept has been dealt with
            trigger.configureBlocking(false);
            assertEquals(-1, trigger.read(ByteBuffer.allocate(1)), "the peer sees end of stream");
        }
    }

    @Test
    void portIsTheBoundTcpPortAndMinusOneForAUnixSocket(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        StreamServer tcp = StreamServer.bind(loop, anyLoopbackPort(), () -> (c, data) -> c.write(data));
        assertEquals(((java.net.InetSocketAddress) tcp.localAddress()).getPort(), tcp.port());
        assertTrue(tcp.port() > 0, "the real port, not the 0 asked for");
        StreamServer unix = StreamServer.bind(loop, java.net.UnixDomainSocketAddress.of(dir.resolve("s.sock")),
                () -> (c, data) -> c.write(data));
        assertEquals(-1, unix.port());
    }
}
