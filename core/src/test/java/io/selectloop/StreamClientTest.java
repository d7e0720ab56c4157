package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.awaitSocketsAtMost;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.onLoop;
import static io.selectloop.TestSupport.registeredChannels;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StreamClientTest {
    private static final Duration PATIENT = Duration.ofSeconds(30);

    private EventLoop serverLoop;
    private EventLoop clientLoop;

    @BeforeEach
    void startLoops() {
        serverLoop = EventLoop.start("client-test-server");
        clientLoop = EventLoop.start("client-test-client");
    }

    @AfterEach
    void closeLoops() {
        clientLoop.close();
        serverLoop.close();
    }

    private StreamServer echoServer(SocketAddress address) throws IOException {
        return StreamServer.bind(serverLoop, address, () -> (c, data) -> c.write(data));
    }

    /** Records the order of what a client connection's handler saw, and the threads it ran on. */
    private static final class ClientRecorder implements Handler {
        final List<String> events = new CopyOnWriteArrayList<>();
        final List<Thread> threads = new CopyOnWriteArrayList<>();
        final ByteBuffer received = ByteBuffer.allocate(1 << 16);
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();

        @Override
        public void onOpen(Connection c) {
            threads.add(Thread.currentThread());
            events.add("onOpen");
        }

        @Override
        public void onData(Connection c, ByteBuffer data) {
            threads.add(Thread.currentThread());
            synchronized (received) {
                received.put(data);
            }
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            threads.add(Thread.currentThread());
            events.add("onClose");
            closed.complete(cause);
        }

        byte[] receivedBytes() {
            synchronized (received) {
                byte[] b = new byte[received.position()];
                received.duplicate().flip().get(b);
                return b;
            }
        }
    }

    /**
     * Connects, echoes through the connection, and closes: onOpen runs before the future
     * completes (asyncio's order), both on the loop thread; OP_CONNECT is no longer asked
     * for once connected; the connection belongs to the loop it was made on.
     */
    private void connectEchoAndClose(SocketAddress serverAddress) throws Exception {
        ClientRecorder recorder = new ClientRecorder();
        List<Thread> completionThread = new CopyOnWriteArrayList<>();
        // Hold the loop until the stage below is attached, so it cannot miss the completion.
        CountDownLatch attached = new CountDownLatch(1);
        clientLoop.execute(() -> awaitUninterruptibly(attached));
        CompletableFuture<Connection> future = StreamClient.connect(clientLoop, serverAddress, recorder, PATIENT);
        CompletableFuture<Connection> observed = future.thenApply(c -> {
            recorder.events.add("future");
            completionThread.add(Thread.currentThread());
            return c;
        });
        attached.countDown();
        Connection c = observed.get(30, TimeUnit.SECONDS);
        assertEquals(List.of("onOpen", "future"), recorder.events.subList(0, 2));
        assertTrue(completionThread.get(0).getName().equals(clientLoop.name()), "the future completes on the loop");
        assertSame(clientLoop, c.loop());
        assertEquals(SelectionKey.OP_READ, (int) onLoop(clientLoop, ((StreamConnection) c)::registeredOpsForTests));
        assertEquals(1, registeredChannels(clientLoop));

        byte[] hello = "hello through a client connection\n".getBytes(StandardCharsets.UTF_8);
        c.write(hello);
        eventually().until(() -> recorder.receivedBytes().length == hello.length);
        assertArrayEquals(hello, recorder.receivedBytes());

        c.close();
        assertNull(recorder.closed.get(30, TimeUnit.SECONDS));
        assertEquals(List.of("onOpen", "future", "onClose"), recorder.events);
        for (Thread t : recorder.threads) {
            assertEquals(clientLoop.name(), t.getName(), "every callback on the connection's loop");
        }
        eventually().until(() -> registeredChannels(clientLoop) == 0);
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void connectsOverTcpAndEchoesWithOnOpenBeforeTheFutureCompletes() throws Exception {
        StreamServer server = echoServer(anyLoopbackPort());
        connectEchoAndClose(server.localAddress());
    }

    @Test
    void connectsOverIpv6Loopback() throws Exception {
        InetSocketAddress v6 = new InetSocketAddress(InetAddress.getByName("::1"), 0);
        StreamServer server;
        try {
            server = echoServer(v6);
        } catch (IOException e) {
            assumeTrue(false, "no IPv6 loopback here: " + e);
            return;
        }
        assertInstanceOf(Inet6Address.class, ((InetSocketAddress) server.localAddress()).getAddress());
        connectEchoAndClose(server.localAddress());
    }

    @Test
    void connectsOverAUnixDomainSocket(@TempDir Path dir) throws Exception {
        StreamServer server = echoServer(UnixDomainSocketAddress.of(dir.resolve("echo.sock")));
        connectEchoAndClose(server.localAddress());
    }

    /** The failure cases must not leave the attempt's channel registered, nor its fd open. */
    private void assertNothingLeft(int fdBaseline) throws Exception {
        eventually().until(() -> registeredChannels(clientLoop) == 0);
        assertEquals(0, (int) onLoop(clientLoop, clientLoop::timerCount), "the timeout timer is gone");
        awaitSocketsAtMost(fdBaseline);
    }

    /** Counts every handler callback: none may happen for a connection that was never made. */
    private static final class NeverCalled implements Handler {
        final AtomicInteger calls = new AtomicInteger();

        @Override
        public void onOpen(Connection c) {
            calls.incrementAndGet();
        }

        @Override
        public void onData(Connection c, ByteBuffer data) {
            calls.incrementAndGet();
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            calls.incrementAndGet();
        }
    }

    @Test
    void aRefusedConnectFailsWithTheAddressAndLeavesNothingOpen() throws Exception {
        InetSocketAddress closedPort;
        try (ServerSocketChannel probe = ServerSocketChannel.open()) {
            probe.bind(anyLoopbackPort());
            closedPort = (InetSocketAddress) probe.getLocalAddress();
        }
        int baseline = TestSupport.openSockets();
        NeverCalled handler = new NeverCalled();
        CompletableFuture<Connection> future = StreamClient.connect(clientLoop, closedPort, handler, PATIENT);
        ExecutionException failure = assertThrows(ExecutionException.class, () -> future.get(30, TimeUnit.SECONDS));
        assertInstanceOf(ConnectException.class, failure.getCause());
        assertTrue(failure.getCause().getMessage().contains(closedPort.toString()), failure.getCause().getMessage());
        assertNothingLeft(baseline);
        assertEquals(0, handler.calls.get());
    }

    @Test
    void aUnixConnectToNoSocketFailsAndLeavesNothingOpen(@TempDir Path dir) throws Exception {
        int baseline = TestSupport.openSockets();
        NeverCalled handler = new NeverCalled();
        CompletableFuture<Connection> future = StreamClient.connect(clientLoop,
                UnixDomainSocketAddress.of(dir.resolve("nobody-listens.sock")), handler, PATIENT);
        ExecutionException failure = assertThrows(ExecutionException.class, () -> future.get(30, TimeUnit.SECONDS));
        assertInstanceOf(IOException.class, failure.getCause());
        assertTrue(failure.getCause().getMessage().contains("nobody-listens.sock"), failure.getCause().getMessage());
        assertNothingLeft(baseline);
        assertEquals(0, handler.calls.get());
    }

    /**
     * Linux drops the SYN for a listener whose accept queue is full, so the connect stays
     * pending until the loop's timer ends it.
     */
    @Test
    void aConnectToAFullBacklogTimesOutWithAClearMessageAndLeavesNothingOpen() throws Exception {
        try (TestSupport.FullBacklogListener full = new TestSupport.FullBacklogListener()) {
            int baseline = TestSupport.openSockets();
            NeverCalled handler = new NeverCalled();
            Duration timeout = Duration.ofMillis(300);
            CompletableFuture<Connection> future = StreamClient.connect(clientLoop, full.address, handler, timeout);
            ExecutionException failure = assertThrows(ExecutionException.class, () -> future.get(30, TimeUnit.SECONDS));
            ConnectTimeoutException timedOut = assertInstanceOf(ConnectTimeoutException.class, failure.getCause());
            assertEquals(full.address, timedOut.address());
            assertEquals(timeout, timedOut.timeout());
            assertTrue(timedOut.getMessage().contains(full.address.toString()) && timedOut.getMessage().contains("300 ms"),
                    timedOut.getMessage());
            assertNothingLeft(baseline);
            assertEquals(0, handler.calls.get());
        }
    }

    @Test
    void cancellingTheFutureClosesTheChannel() throws Exception {
        try (TestSupport.FullBacklogListener full = new TestSupport.FullBacklogListener()) {
            int baseline = TestSupport.openSockets();
            NeverCalled handler = new NeverCalled();
            CompletableFuture<Connection> future = StreamClient.connect(clientLoop, full.address, handler, PATIENT);
            eventually().until(() -> registeredChannels(clientLoop) == 1); // the attempt is in flight
            assertTrue(TestSupport.openSockets() > baseline);
            assertTrue(future.cancel(false));
            assertThrows(CancellationException.class, future::join);
            assertNothingLeft(baseline);
            assertEquals(0, handler.calls.get());
        }
    }

    @Test
    void anAttemptInFlightFailsWhenItsLoopShutsDown() throws Exception {
        try (TestSupport.FullBacklogListener full = new TestSupport.FullBacklogListener()) {
            int baseline = TestSupport.openSockets();
            CompletableFuture<Connection> future = StreamClient.connect(clientLoop, full.address, new NeverCalled(), PATIENT);
            eventually().until(() -> registeredChannels(clientLoop) == 1);
            clientLoop.shutdownGracefully(PATIENT).get(30, TimeUnit.SECONDS);
            ExecutionException failure = assertThrows(ExecutionException.class, () -> future.get(30, TimeUnit.SECONDS));
            assertInstanceOf(IOException.class, failure.getCause());
            assertTrue(failure.getCause().getMessage().contains("shut down"), failure.getCause().getMessage());
            // The loop's own selector and wake-up pipe go too; what matters is the socket.
            awaitSocketsAtMost(baseline);
            CompletableFuture<Connection> late = StreamClient.connect(clientLoop, full.address, new NeverCalled(), PATIENT);
            assertThrows(ExecutionException.class, () -> late.get(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void anUnresolvedAddressFailsAtOnce() {
        CompletableFuture<Connection> future = StreamClient.connect(clientLoop,
                InetSocketAddress.createUnresolved("localhost", 7), new NeverCalled(), PATIENT);
        assertTrue(future.isCompletedExceptionally());
        ExecutionException failure = assertThrows(ExecutionException.class, future::get);
        assertInstanceOf(UnresolvedAddressException.class, failure.getCause());
        assertThrows(IllegalArgumentException.class,
                () -> StreamClient.connect(clientLoop, anyLoopbackPort(), new NeverCalled(), Duration.ZERO));
    }

    /**
     * One loop opens 10,000 client connections (at most 256 connecting at a time) to an
     * echo server in a child JVM (the two ends together would not fit in one process's
     * 20,000 file descriptors). Each sends 16 KiB of its own random bytes and checks the
     * echo's SHA-256; all stay open until every one is verified, then all close.
     */
    @Test
    void tenThousandClientConnectionsFromOneLoopEachEcho16KiB() throws Exception {
        int connections = 10_000;
        int size = 16 * 1024;
        int window = 256;
        try (TestSupport.Child child = TestSupport.ChildEchoServer.start(1)) {
            int baseline = TestSupport.openSockets();
            AtomicInteger verified = new AtomicInteger();
            AtomicInteger closed = new AtomicInteger();
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            Collection<Connection> open = new ConcurrentLinkedQueue<>();

            final class DigestEcho implements Handler {
                private final int id;
                private final MessageDigest digest = TestSupport.sha256();
                private byte[] expected;
                private int received;

                DigestEcho(int id) {
                    this.id = id;
                }

                @Override
                public void onOpen(Connection c) {
                    byte[] payload = TestSupport.randomBytes(new Random(id), size);
                    expected = TestSupport.sha256(payload);
                    c.write(payload);
                }

                @Override
                public void onData(Connection c, ByteBuffer data) {
                    received += data.remaining();
                    digest.update(data);
                    if (received > size) {
                        failures.add(new AssertionError("connection " + id + " got " + received + " bytes"));
                    } else if (received == size) {
                        if (MessageDigest.isEqual(expected, digest.digest())) {
                            verified.incrementAndGet();
                        } else {
                            failures.add(new AssertionError("connection " + id + ": echo differs"));
                        }
                    }
                }

                @Override
                public void onClose(Connection c, Throwable cause) {
                    closed.incrementAndGet();
                    if (cause != null) {
                        failures.add(cause);
                    }
                }
            }

            // Runs on the client loop only: the completion of each connect starts the next.
            final class Driver {
                int next;
                int connecting;

                void fill() {
                    while (next < connections && connecting < window) {
                        int id = next++;
                        connecting++;
                        StreamClient.connect(clientLoop, child.address, new DigestEcho(id), PATIENT)
                                .whenComplete((c, failure) -> {
                                    connecting--;
                                    if (failure != null) {
                                        failures.add(failure);
                                    } else {
                                        open.add(c);
                                    }
                                    fill();
                                });
                    }
                }
            }
            clientLoop.execute(new Driver()::fill);

            eventually().atMost(Duration.ofMinutes(3))
                    .until(() -> !failures.isEmpty() || verified.get() == connections);
            assertEquals(List.of(), new ArrayList<>(failures));
            assertEquals(connections, open.size());
            assertTrue(TestSupport.openSockets() >= baseline + connections, "all open at once");
            assertEquals(0, closed.get());
            for (Connection c : open) {
                c.close();
            }
            eventually().until(() -> closed.get() == connections);
            assertEquals(List.of(), new ArrayList<>(failures));
            eventually().until(() -> registeredChannels(clientLoop) == 0);
            awaitSocketsAtMost(baseline);
            assertFalse(open.stream().anyMatch(Connection::isOpen));
        }
    }
}
