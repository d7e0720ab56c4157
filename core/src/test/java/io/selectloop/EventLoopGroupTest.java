package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.awaitSocketsAtMost;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readToEnd;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EventLoopGroupTest {

    @Test
    void nextHandsOutTheLoopsInTurnAndCloseTerminatesThemAll() {
        EventLoopGroup group = EventLoopGroup.start(3, "turns");
        try {
            assertEquals(3, group.size());
            assertEquals(List.of("turns-0", "turns-1", "turns-2"),
                    group.loops().stream().map(EventLoop::name).collect(java.util.stream.Collectors.toList()));
            for (int i = 0; i < 7; i++) {
                assertSame(group.loops().get(i % 3), group.next());
            }
            assertThrows(UnsupportedOperationException.class, () -> group.loops().clear());
        } finally {
            group.close();
        }
        assertTrue(group.isTerminated());
        assertTrue(group.loops().stream().allMatch(EventLoop::isTerminated));
        assertThrows(IllegalArgumentException.class, () -> EventLoopGroup.start(0, "none"));
    }

    /**
     * A server on a group of two loops, 1,000 connections from a client loop: the server
     * side splits them evenly (±10%; round-robin makes it exact), each connection's
     * callbacks all run on one thread, the thread of the loop its {@code loop()} names,
     * and every echo comes back intact.
     */
    @Test
    void aServerOnTwoLoopsSplitsOneThousandConnectionsEvenlyAndKeepsEachOnOneThread() throws Exception {
        int connections = 1000;
        EventLoopGroup group = EventLoopGroup.start(2, "pair");
        EventLoop clientLoop = EventLoop.start("pair-clients");
        try {
            Map<String, AtomicInteger> perLoop = new ConcurrentHashMap<>();
            ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
            AtomicInteger serverCloses = new AtomicInteger();

            final class PinnedEcho implements Handler {
                private Thread thread;

                private void check(Connection c, String callback) {
                    if (Thread.currentThread() != thread || !c.loop().inEventLoop()) {
                        violations.add(callback + " of " + c + " ran on " + Thread.currentThread().getName()
                                + ", not on " + thread.getName() + " (loop " + c.loop().name() + ")");
                    }
                }

                @Override
                public void onOpen(Connection c) {
                    thread = Thread.currentThread();
                    check(c, "onOpen");
                    perLoop.computeIfAbsent(c.loop().name(), k -> new AtomicInteger()).incrementAndGet();
                }

                @Override
                public void onData(Connection c, ByteBuffer data) {
                    check(c, "onData");
                    c.write(data);
                }

                @Override
                public void onEof(Connection c) {
                    check(c, "onEof");
                    c.close();
                }

                @Override
                public void onClose(Connection c, Throwable cause) {
                    check(c, "onClose");
                    if (cause != null) {
                        violations.add(c + " closed with " + cause);
                    }
                    serverCloses.incrementAndGet();
                }
            }
            StreamServer server = StreamServer.bind(group, anyLoopbackPort(), PinnedEcho::new);
            assertTrue(group.loops().contains(server.loop()));

            ConcurrentLinkedQueue<Throwable> clientFailures = new ConcurrentLinkedQueue<>();
            AtomicInteger echoed = new AtomicInteger();
            final class Client implements Handler {
                private final byte[] message;
                private final ByteBuffer reply;

                Client(int id) {
                    message = TestSupport.randomBytes(new java.util.Random(id), 512);
                    reply = ByteBuffer.allocate(message.length);
                }

                @Override
                public void onOpen(Connection c) {
                    c.write(message);
                }

                @Override
                public void onData(Connection c, ByteBuffer data) {
                    reply.put(data);
                    if (!reply.hasRemaining()) {
                        if (!Arrays.equals(message, reply.array())) {
                            clientFailures.add(new AssertionError("echo differs on " + c));
                        }
                        echoed.incrementAndGet();
                        c.close();
                    }
                }
            }
            // At most 128 connecting at once: the loop, not the test thread, drives the rest.
            final class Driver {
                int next;
                int connecting;

                void fill() {
                    while (next < connections && connecting < 128) {
                        connecting++;
                        StreamClient.connect(clientLoop, server.localAddress(), new Client(next++), Duration.ofSeconds(30))
                                .whenComplete((c, failure) -> {
                                    connecting--;
                                    if (failure != null) {
                                        clientFailures.add(failure);
                                    }
                                    fill();
                                });
                    }
                }
            }
            clientLoop.execute(new Driver()::fill);

            eventually().until(() -> !clientFailures.isEmpty() || serverCloses.get() == connections);
            assertEquals(List.of(), new ArrayList<>(clientFailures));
            assertEquals(connections, echoed.get());
            assertEquals(List.of(), new ArrayList<>(violations));
            assertEquals(2, perLoop.size(), "both loops served: " + perLoop);
            for (Map.Entry<String, AtomicInteger> e : perLoop.entrySet()) {
                int n = e.getValue().get();
                assertTrue(n >= 450 && n <= 550, e.getKey() + " served " + n + " of " + connections + ": " + perLoop);
            }
            assertEquals(connections, server.acceptedCount());
            eventually().until(() -> server.connectionCount() == 0);
        } finally {
            clientLoop.close();
            group.close();
        }
    }

    /**
     * Graceful shutdown of a group: every loop lets its connections drain (each reader
     * gets all 1 MiB its connection wrote, then end of stream), all loops terminate, and
     * no socket is left open.
     */
    @Test
    void gracefulShutdownOfAGroupDrainsEveryLoopAndLeavesNoSocketOpen() throws Exception {
        int baseline = TestSupport.openSockets();
        EventLoopGroup group = EventLoopGroup.start(2, "drain");
        int output = 1 << 20;
        Map<String, AtomicInteger> perLoop = new ConcurrentHashMap<>();
        StreamServer server = StreamServer.bind(group, anyLoopbackPort(), () -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                perLoop.computeIfAbsent(c.loop().name(), k -> new AtomicInteger()).incrementAndGet();
                byte[] block = new byte[64 * 1024];
                for (int i = 0; i < output / block.length; i++) {
                    c.write(block);
                }
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
            }
        });
        List<SocketChannel> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                clients.add(connect(server.localAddress()));
            }
            eventually().until(() -> server.connectionCount() == 10);
            assertEquals(2, perLoop.size());
            CompletableFuture<Void> terminated = group.shutdownGracefully(Duration.ofSeconds(30));
            List<CompletableFuture<Integer>> drained = new ArrayList<>();
            for (SocketChannel ch : clients) {
                drained.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return readToEnd(ch).length;
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }));
            }
            for (CompletableFuture<Integer> d : drained) {
                assertEquals(output, d.get(60, TimeUnit.SECONDS));
            }
            terminated.get(60, TimeUnit.SECONDS);
            assertTrue(group.isTerminated());
            assertEquals(0, server.connectionCount());
        } finally {
            for (SocketChannel ch : clients) {
                ch.close();
            }
            group.close();
        }
        awaitSocketsAtMost(baseline);
    }

    /**
     * A loop of the group that has already terminated cannot take a connection: the
     * server closes it instead of leaking it, and keeps serving on the other loop.
     */
    @Test
    void aConnectionHandedToATerminatedLoopIsClosedNotLeaked() throws Exception {
        int baseline = TestSupport.openSockets();
        EventLoopGroup group = EventLoopGroup.start(2, "half");
        try {
            StreamServer server = StreamServer.bind(group, anyLoopbackPort(), () -> (c, data) -> c.write(data));
            EventLoop other = group.loops().get(0) == server.loop() ? group.loops().get(1) : group.loops().get(0);
            other.close();
            int served = 0;
            for (int i = 0; i < 4; i++) {
                try (SocketChannel ch = connect(server.localAddress())) {
                    writeFully(ch, ByteBuffer.wrap(new byte[] {1, 2, 3}));
                    byte[] back = readToEnd(chWithShutdown(ch));
                    if (back.length == 3) {
                        assertArrayEquals(new byte[] {1, 2, 3}, back);
                        served++;
                    } else {
                        assertEquals(0, back.length, "refused connections end at once");
                    }
                } catch (IOException e) {
                    // a reset from the refused side is fine too
                }
            }
            assertEquals(2, served, "every other connection went to the live loop");
            eventually().until(() -> server.connectionCount() == 0);
        } finally {
            group.close();
        }
        awaitSocketsAtMost(baseline);
    }

    /** Half-closes our side so the echo server's default onEof closes once it has echoed. */
    private static SocketChannel chWithShutdown(SocketChannel ch) throws IOException {
        ch.shutdownOutput();
        return ch;
    }

    /** Two of the group's loops close the group at the same moment: neither waits for the other. */
    @Test
    void closingTheGroupFromTwoOfItsOwnLoopsAtOnceDoesNotDeadlock() throws Exception {
        EventLoopGroup group = EventLoopGroup.start(2, "closing-each-other");
        java.util.concurrent.CountDownLatch both = new java.util.concurrent.CountDownLatch(2);
        for (EventLoop l : group) {
            l.execute(() -> {
                both.countDown();
                try {
                    both.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                group.close(); // returns at once on a loop thread
            });
        }
        group.terminationFuture().get(60, java.util.concurrent.TimeUnit.SECONDS);
        for (EventLoop l : group) {
            org.junit.jupiter.api.Assertions.assertTrue(l.isTerminated(), l.name());
        }
    }
}
