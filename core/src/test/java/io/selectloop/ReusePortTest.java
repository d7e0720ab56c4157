package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.BindException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** SO_REUSEPORT servers and a group's listener per loop, on real sockets. */
class ReusePortTest {
    private static final StreamOptions PER_LOOP = StreamOptions.builder().groupAccept(GroupAccept.LISTENER_PER_LOOP).build();

    private static void assertEchoes(InetSocketAddress address, String text) throws Exception {
        try (SocketChannel ch = connect(address)) {
            byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            writeFully(ch, ByteBuffer.wrap(bytes));
            assertArrayEquals(bytes, readFully(ch, bytes.length));
        }
    }

    @Test
    void twoServersWithReusePortShareAPortWhichOneWithoutItCannotJoin() throws Exception {
        EventLoop a = EventLoop.start("reuse-a");
        EventLoop b = EventLoop.start("reuse-b");
        try {
            StreamOptions reuse = StreamOptions.builder().reusePort(true).build();
            Set<EventLoop> servedBy = ConcurrentHashMap.newKeySet();
            StreamServer first = StreamServer.bind(a, anyLoopbackPort(), reuse, () -> (c, d) -> {
                servedBy.add(c.loop());
                c.write(d);
            });
            InetSocketAddress port = (InetSocketAddress) first.localAddress();
            StreamServer second = StreamServer.bind(b, port, reuse, () -> (c, d) -> {
                servedBy.add(c.loop());
                c.write(d);
            });
            assertEquals(port, second.localAddress());
            assertThrows(BindException.class, () -> StreamServer.bind(b, port, () -> (c, d) -> { }));
            for (int i = 0; i < 40; i++) {
                assertEchoes(port, "message " + i);
            }
            // The kernel hashes each connection's ports over both: all 40 on one has odds of 2^-39.
            assertEquals(Set.of(a, b), servedBy);
            first.close();
            first.closeFuture().get();
            for (int i = 0; i < 10; i++) {
                assertEchoes(port, "after " + i); // the other one serves them all
            }
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void aGroupWithAListenerPerLoopListensOnEveryLoopAndEachLoopServesWhatItAccepts() throws Exception {
        EventLoopGroup group = EventLoopGroup.start(2, "per-loop");
        try {
            Map<EventLoop, AtomicInteger> perLoop = new ConcurrentHashMap<>();
            AtomicInteger inSupplier = new AtomicInteger();
            AtomicInteger overlaps = new AtomicInteger();
            StreamServer server = StreamServer.bind(group, anyLoopbackPort(), PER_LOOP, () -> {
                if (inSupplier.incrementAndGet() > 1) {
                    overlaps.incrementAndGet();
                }
                inSupplier.decrementAndGet();
                return new Handler() {
                    @Override
                    public void onOpen(Connection c) {
                        assertTrue(c.loop().inEventLoop());
                        perLoop.computeIfAbsent(c.loop(), l -> new AtomicInteger()).incrementAndGet();
                    }

                    @Override
                    public void onData(Connection c, ByteBuffer data) {
                        c.write(data);
                    }
                };
            });
            assertEquals(group.loops(), server.acceptingLoops());
            List<SocketChannel> open = new ArrayList<>();
            try {
                for (int i = 0; i < 64; i++) {
                    SocketChannel ch = connect(server.localAddress());
                    open.add(ch);
                    writeFully(ch, ByteBuffer.wrap(new byte[] {(byte) i}));
                    assertArrayEquals(new byte[] {(byte) i}, readFully(ch, 1));
                }
                assertEquals(64, server.connectionCount());
                assertEquals(64, server.acceptedCount());
            } finally {
                for (SocketChannel ch : open) {
                    ch.close();
                }
            }
            assertEquals(group.loops().size(), perLoop.size(), "both loops accepted: " + perLoop);
            assertEquals(0, overlaps.get(), "the handler supplier is called one connection at a time");
            eventually().until(() -> server.connectionCount() == 0);
            server.close();
            server.closeFuture().get();
            assertThrows(ConnectException.class, () -> connect(server.localAddress()).close());
        } finally {
            group.close();
        }
    }

    @Test
    void aGroupBindOnAPortInUseFailsEvenThoughItsListenersShareThePort() throws Exception {
        EventLoopGroup group = EventLoopGroup.start(2, "in-use");
        EventLoop other = EventLoop.start("in-use-other");
        try (ServerSocket plain = new ServerSocket(0, 10, java.net.InetAddress.getLoopbackAddress())) {
            InetSocketAddress taken = (InetSocketAddress) plain.getLocalSocketAddress();
            assertThrows(BindException.class, () -> StreamServer.bind(group, taken, PER_LOOP, () -> (c, d) -> { }));
            // A SO_REUSEPORT server on the port: a group that did not ask to share must not join it.
            StreamServer sharing = StreamServer.bind(other, anyLoopbackPort(), StreamOptions.builder().reusePort(true).build(),
                    () -> (c, d) -> { });
            assertThrows(BindException.class, () -> StreamServer.bind(group, sharing.localAddress(), PER_LOOP,
                    () -> (c, d) -> { }));
            StreamServer joined = StreamServer.bind(group, sharing.localAddress(),
                    PER_LOOP.toBuilder().reusePort(true).build(), () -> (c, d) -> c.write(d));
            assertEquals(group.loops(), joined.acceptingLoops());
            assertEquals(sharing.localAddress(), joined.localAddress());
        } finally {
            group.close();
            other.close();
        }
    }

    @Test
    void maxConnectionsCountsAcrossTheListenersOfAGroup() throws Exception {
        EventLoopGroup group = EventLoopGroup.start(2, "limit");
        try {
            StreamOptions options = PER_LOOP.toBuilder().maxConnections(2).build();
            StreamServer server = StreamServer.bind(group, anyLoopbackPort(), options, () -> (c, d) -> c.write(d));
            List<SocketChannel> served = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                SocketChannel ch = connect(server.localAddress());
                served.add(ch);
                writeFully(ch, ByteBuffer.wrap(new byte[] {1}));
                readFully(ch, 1);
            }
            try (SocketChannel waiting = connect(server.localAddress())) {
                writeFully(waiting, ByteBuffer.wrap(new byte[] {7}));
                // Whichever listener the kernel gave it to is paused at the limit.
                eventually().until(() -> server.connectionLimitPauses() >= 1);
                assertEquals(2, server.acceptedCount());
                served.get(0).close();
                assertArrayEquals(new byte[] {7}, readFully(waiting, 1), "served once a connection closed");
                assertEquals(3, server.acceptedCount());
            } finally {
                for (SocketChannel ch : served) {
                    ch.close();
                }
            }
        } finally {
            group.close();
        }
    }

    @Test
    void handOffTheDefaultAcceptsOnOneLoop() throws Exception {
        EventLoopGroup group = EventLoopGroup.start(2, "hand-off");
        try {
            StreamServer server = StreamServer.bind(group, anyLoopbackPort(), () -> (c, d) -> c.write(d));
            assertEquals(1, server.acceptingLoops().size());
            assertEchoes((InetSocketAddress) server.localAddress(), "x");
        } finally {
            group.close();
        }
    }
}
