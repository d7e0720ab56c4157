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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.NotYetConnectedException;
import java.nio.channels.SelectionKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DatagramEndpointTest {
    private EventLoop serverLoop;
    private EventLoop clientLoop;

    @BeforeEach
    void startLoops() {
        serverLoop = EventLoop.start("udp-test-server");
        clientLoop = EventLoop.start("udp-test-client");
    }

    @AfterEach
    void closeLoops() {
        clientLoop.close();
        serverLoop.close();
    }

    private static DatagramEndpoint echo(EventLoop loop, DatagramOptions options) throws IOException {
        return DatagramEndpoint.bind(loop, anyLoopbackPort(), options, (endpoint, sender, data) -> endpoint.send(data, sender));
    }

    /** Every datagram is a function of (sender, sequence): 8 bytes of header, then 0 to 1,392 random bytes. */
    static byte[] datagram(int sender, int sequence) {
        Random random = new Random(sender * 1_000_003L + sequence);
        byte[] bytes = new byte[8 + random.nextInt(1393)];
        random.nextBytes(bytes);
        ByteBuffer.wrap(bytes).putInt(sender).putInt(sequence);
        return bytes;
    }

    /**
     * 10 senders, 10,000 datagrams each (8 to 1,400 bytes), through an echo endpoint. Each
     * sender keeps at most 16 datagrams in flight, so the receive buffers never overflow
     * in the normal run; should loopback drop one all the same, a sender that made no
     * progress for 100 ms sends its unanswered datagrams again. Every reply that arrives,
     * first or duplicate, must equal its datagram byte for byte; every datagram must be
     * answered.
     */
    @Test
    void echoes100000DatagramsFromTenSendersEachReplyEqualToItsDatagram() throws Exception {
        int senders = 10;
        int perSender = 10_000;
        int window = 16;
        DatagramOptions big = DatagramOptions.builder().maxDatagramSize(1400)
                .receiveBufferSize(1 << 20).sendBufferSize(1 << 20).build();
        DatagramEndpoint server = echo(serverLoop, big);
        ConcurrentLinkedQueue<String> mismatches = new ConcurrentLinkedQueue<>();
        AtomicLong retransmitted = new AtomicLong();
        CountDownLatch finished = new CountDownLatch(senders);
        List<DatagramEndpoint> clients = new ArrayList<>();

        // Everything below runs on the client loop, one sender at a time.
        final class Sender implements DatagramHandler {
            final int id;
            final BitSet answered = new BitSet(perSender);
            int nextToSend;
            int answeredCount;
            int answeredAtLastCheck = -1;
            DatagramEndpoint endpoint;

            Sender(int id) {
                this.id = id;
            }

            @Override
            public void onOpen(DatagramEndpoint e) {
                endpoint = e;
                // On the loop, connect takes effect at once, so sending can start here.
                e.connect(server.localAddress());
                fill();
                clientLoop.schedule(this::retransmitIfStalled, 100, TimeUnit.MILLISECONDS);
            }

            private int inFlight() {
                return nextToSend - answeredCount;
            }

            private void fill() {
                while (nextToSend < perSender && inFlight() < window) {
                    endpoint.send(ByteBuffer.wrap(datagram(id, nextToSend++)));
                }
            }

            @Override
            public void onDatagram(DatagramEndpoint e, SocketAddress from, ByteBuffer data) {
                byte[] reply = new byte[data.remaining()];
                data.get(reply);
                int sender = reply.length >= 8 ? ByteBuffer.wrap(reply).getInt(0) : -1;
                int sequence = reply.length >= 8 ? ByteBuffer.wrap(reply).getInt(4) : -1;
                if (sender != id || sequence < 0 || sequence >= nextToSend) {
                    mismatches.add("sender " + id + " got a reply it never asked for: " + reply.length + " bytes");
                    return;
                }
                if (!java.util.Arrays.equals(datagram(id, sequence), reply)) {
                    mismatches.add("sender " + id + ", datagram " + sequence + ": the reply differs");
                    return;
                }
                if (!answered.get(sequence)) {
                    answered.set(sequence);
                    answeredCount++;
                    if (answeredCount == perSender) {
                        finished.countDown();
                    }
                    fill();
                }
            }

            private void retransmitIfStalled() {
                if (answeredCount == perSender || !endpoint.isOpen()) {
                    return;
                }
                if (answeredCount == answeredAtLastCheck) {
                    for (int s = answered.nextClearBit(0); s < nextToSend; s = answered.nextClearBit(s + 1)) {
                        endpoint.send(ByteBuffer.wrap(datagram(id, s)));
                        retransmitted.incrementAndGet();
                    }
                }
                answeredAtLastCheck = answeredCount;
                clientLoop.schedule(this::retransmitIfStalled, 100, TimeUnit.MILLISECONDS);
            }
        }

        List<Sender> handlers = new ArrayList<>();
        for (int i = 0; i < senders; i++) {
            Sender sender = new Sender(i);
            handlers.add(sender);
            clients.add(DatagramEndpoint.bind(clientLoop, anyLoopbackPort(), big, sender));
        }
        long started = System.nanoTime();
        assertTrue(finished.await(3, TimeUnit.MINUTES), "every datagram answered");
        long millis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));

        assertEquals(List.of(), new ArrayList<>(mismatches));
        for (Sender sender : handlers) {
            assertEquals(perSender, (int) onLoop(clientLoop, () -> sender.answered.cardinality()));
        }
        assertTrue(server.receivedCount() >= senders * perSender);
        assertEquals(0, server.oversizedCount());
        assertEquals(0, server.droppedSendCount());
        System.out.printf("udp echo: %d datagrams in %d ms (%d/s round trips), %d retransmitted%n",
                senders * perSender, millis, senders * perSender * 1000L / millis, retransmitted.get());
        for (DatagramEndpoint client : clients) {
            client.close();
        }
    }

    /**
     * Another thread sends 116 datagrams while the loop is busy: the first 16 fill the
     * queue, the other 100 are dropped and counted, and the 16 go out once the loop
     * is back. The caller reuses one buffer throughout: each datagram keeps its own bytes.
     */
    @Test
    void aFloodPastTheSendQueueIsDroppedAndCounted() throws Exception {
        List<byte[]> arrived = new CopyOnWriteArrayList<>();
        DatagramEndpoint receiver = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(), (e, from, data) -> {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            arrived.add(b);
        });
        DatagramEndpoint sender = DatagramEndpoint.bind(clientLoop, anyLoopbackPort(),
                DatagramOptions.builder().sendQueueCapacity(16).build(), (e, from, data) -> { });
        CountDownLatch busy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        clientLoop.execute(() -> {
            busy.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertTrue(busy.await(30, TimeUnit.SECONDS));
        ByteBuffer reused = ByteBuffer.allocate(4);
        int accepted = 0;
        for (int i = 0; i < 116; i++) {
            reused.clear();
            reused.putInt(i).flip();
            if (sender.send(reused, receiver.localAddress())) {
                accepted++;
            }
            assertFalse(reused.hasRemaining(), "send consumes the buffer either way");
        }
        assertEquals(16, accepted);
        assertEquals(100, sender.droppedSendCount());
        assertEquals(16, sender.queuedSendCount());
        release.countDown();

        eventually().until(() -> arrived.size() == 16);
        assertEquals(0, sender.queuedSendCount());
        assertEquals(16, sender.sentCount());
        List<Integer> values = new ArrayList<>();
        for (byte[] b : arrived) {
            values.add(ByteBuffer.wrap(b).getInt());
        }
        values.sort(null);
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            expected.add(i);
        }
        assertEquals(expected, values);
    }

    /**
     * Loopback UDP never fills a socket buffer (the skb is released as it is looped
     * back), so the test makes the endpoint see "full" for three sends: the datagrams
     * wait, OP_WRITE is requested, and once writable they all go out and OP_WRITE is
     * dropped again.
     */
    @Test
    void datagramsWaitForAFullSocketAndGoOutWhenItIsWritable() throws Exception {
        List<Integer> arrived = new CopyOnWriteArrayList<>();
        DatagramEndpoint receiver = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(),
                (e, from, data) -> arrived.add(data.getInt()));
        DatagramEndpoint sender = DatagramEndpoint.bind(clientLoop, anyLoopbackPort(), (e, from, data) -> { });
        eventually().until(() -> registeredChannels(clientLoop) == 1);
        int queuedRightAfter = onLoop(clientLoop, () -> {
            sender.refuseSendsForTests = 3;
            for (int i = 0; i < 10; i++) {
                ByteBuffer b = ByteBuffer.allocate(4).putInt(i).flip();
                assertTrue(sender.send(b, receiver.localAddress()));
            }
            return sender.queuedSendCount();
        });
        assertEquals(10, queuedRightAfter, "the first refusal holds back everything behind it");
        eventually().until(() -> arrived.size() == 10);
        List<Integer> sorted = new ArrayList<>(arrived);
        sorted.sort(null);
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), sorted);
        assertEquals(0, sender.queuedSendCount());
        eventually().until(() -> onLoop(clientLoop, () -> sender.queuedSendCount() == 0));
        assertEquals(10, sender.sentCount());
    }

    /** A target that is not a resolved address is the caller's bug: refused at the call, nothing queued. */
    @Test
    void sendingToAnUnresolvedTargetFailsAtTheCallAndQueuesNothing() throws Exception {
        DatagramEndpoint endpoint = DatagramEndpoint.bind(clientLoop, anyLoopbackPort(),
                DatagramOptions.builder().sendQueueCapacity(4).build(), (e, from, data) -> { });
        for (int i = 0; i < 8; i++) {
            assertThrows(IllegalArgumentException.class, () -> endpoint.send(ByteBuffer.wrap(new byte[] {1}),
                    InetSocketAddress.createUnresolved("no.such.host.invalid", 9)));
        }
        assertEquals(0, endpoint.queuedSendCount());
        List<Integer> arrived = new CopyOnWriteArrayList<>();
        DatagramEndpoint receiver = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(),
                (e, from, data) -> arrived.add((int) data.get()));
        assertTrue(endpoint.send(ByteBuffer.wrap(new byte[] {7}), receiver.localAddress()));
        eventually().until(() -> arrived.equals(List.of(7)));
    }

    /**
     * A datagram still waiting for room when connect() fixes another peer cannot be sent
     * any more (the JDK refuses it with an unchecked exception): that datagram fails and is
     * reported, and the endpoint goes on working for its peer.
     */
    @Test
    void aDatagramQueuedForAnotherPeerBeforeConnectFailsAloneAndTheEndpointGoesOn() throws Exception {
        List<Integer> atX = new CopyOnWriteArrayList<>();
        List<Integer> atY = new CopyOnWriteArrayList<>();
        List<IOException> errors = new CopyOnWriteArrayList<>();
        DatagramEndpoint x = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(), (e, from, data) -> atX.add((int) data.get()));
        DatagramEndpoint y = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(), (e, from, data) -> atY.add((int) data.get()));
        DatagramEndpoint endpoint = DatagramEndpoint.bind(clientLoop, anyLoopbackPort(), new DatagramHandler() {
            @Override
            public void onDatagram(DatagramEndpoint e, SocketAddress from, ByteBuffer data) {
            }

            @Override
            public void onError(DatagramEndpoint e, IOException error) {
                errors.add(error);
            }
        });
        eventually().until(() -> registeredChannels(clientLoop) == 1);
        onLoop(clientLoop, () -> {
            endpoint.refuseSendsForTests = 1; // the socket looks full once: the datagram waits
            assertTrue(endpoint.send(ByteBuffer.wrap(new byte[] {1}), x.localAddress()));
            endpoint.connect(y.localAddress());
            return null;
        });
        eventually().until(() -> endpoint.sendErrorCount() == 1);
        assertEquals(1, errors.size(), "reported to onError: " + errors);
        assertTrue(endpoint.isOpen());
        assertTrue(endpoint.send(ByteBuffer.wrap(new byte[] {2})));
        eventually().until(() -> atY.equals(List.of(2)));
        assertTrue(atX.isEmpty());
        assertEquals(0, endpoint.queuedSendCount());
    }

    /**
     * With maxDatagramSize 1400, datagrams of 1,401 and 5,000 bytes are counted and never
     * delivered, not even cut short; 1,400 and 10 bytes are delivered whole.
     */
    @Test
    void anOversizedDatagramIsCountedAndNotDelivered() throws Exception {
        List<byte[]> delivered = new CopyOnWriteArrayList<>();
        DatagramEndpoint endpoint = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(),
                DatagramOptions.builder().maxDatagramSize(1400).build(), (e, from, data) -> {
                    byte[] b = new byte[data.remaining()];
                    data.get(b);
                    delivered.add(b);
                });
        Random random = new Random(1400);
        byte[] exact = TestSupport.randomBytes(random, 1400);
        byte[] small = TestSupport.randomBytes(random, 10);
        try (DatagramChannel peer = DatagramChannel.open()) {
            peer.bind(anyLoopbackPort());
            peer.send(ByteBuffer.wrap(TestSupport.randomBytes(random, 1401)), endpoint.localAddress());
            peer.send(ByteBuffer.wrap(exact), endpoint.localAddress());
            peer.send(ByteBuffer.wrap(TestSupport.randomBytes(random, 5000)), endpoint.localAddress());
            peer.send(ByteBuffer.wrap(small), endpoint.localAddress());
            eventually().until(() -> endpoint.oversizedCount() == 2 && delivered.size() == 2);
        }
        assertEquals(2, endpoint.receivedCount());
        assertArrayEquals(exact, delivered.get(0).length == 1400 ? delivered.get(0) : delivered.get(1));
        assertArrayEquals(small, delivered.get(0).length == 10 ? delivered.get(0) : delivered.get(1));
    }

    /**
     * A connected endpoint sends to its peer with send(ByteBuffer), refuses other targets,
     * and hears of the peer's ICMP port unreachable through onError.
     */
    @Test
    void aConnectedEndpointTalksToItsPeerAndHearsPortUnreachable() throws Exception {
        List<Integer> arrived = new CopyOnWriteArrayList<>();
        DatagramEndpoint peer = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(), (e, from, data) -> arrived.add(data.getInt()));
        List<IOException> errors = new CopyOnWriteArrayList<>();
        DatagramEndpoint endpoint = DatagramEndpoint.bind(clientLoop, anyLoopbackPort(), new DatagramHandler() {
            @Override
            public void onDatagram(DatagramEndpoint e, SocketAddress from, ByteBuffer data) {
            }

            @Override
            public void onError(DatagramEndpoint e, IOException error) {
                errors.add(error);
            }
        });
        assertThrows(NotYetConnectedException.class, () -> endpoint.send(ByteBuffer.allocate(1)));
        endpoint.connect(peer.localAddress()).get(30, TimeUnit.SECONDS);
        assertEquals(peer.localAddress(), endpoint.remoteAddress());
        assertTrue(endpoint.send(ByteBuffer.allocate(4).putInt(42).flip()));
        eventually().until(() -> arrived.equals(List.of(42)));
        assertThrows(IllegalArgumentException.class,
                () -> endpoint.send(ByteBuffer.allocate(1), new InetSocketAddress("127.0.0.1", 9)));

        peer.close();
        peer.closeFuture().get(30, TimeUnit.SECONDS);
        // Each send to the closed port draws an ICMP port unreachable; loopback does not rate-limit it.
        assertTrue(endpoint.send(ByteBuffer.allocate(4).putInt(43).flip()));
        eventually().until(() -> !errors.isEmpty());
        assertInstanceOf(PortUnreachableException.class, errors.get(0));
        assertTrue(endpoint.isOpen(), "an ICMP error does not close the endpoint");
    }

    /**
     * close() sends what is still queued, then closes: onClose once, the port released,
     * nothing registered, no socket left; sends after it are refused.
     */
    @Test
    void closeFlushesTheQueueThenReleasesEverything() throws Exception {
        int baseline = TestSupport.openSockets();
        AtomicInteger arrived = new AtomicInteger();
        DatagramEndpoint receiver = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(), (e, from, data) -> arrived.incrementAndGet());
        List<Throwable> closes = new CopyOnWriteArrayList<>();
        List<String> order = new CopyOnWriteArrayList<>();
        DatagramEndpoint sender = DatagramEndpoint.bind(clientLoop, anyLoopbackPort(), new DatagramHandler() {
            @Override
            public void onOpen(DatagramEndpoint e) {
                order.add("open");
            }

            @Override
            public void onDatagram(DatagramEndpoint e, SocketAddress from, ByteBuffer data) {
            }

            @Override
            public void onClose(DatagramEndpoint e, Throwable cause) {
                order.add("close");
                closes.add(cause == null ? new Throwable("orderly") : cause);
            }
        });
        onLoop(clientLoop, () -> {
            sender.refuseSendsForTests = 1;
            for (int i = 0; i < 5; i++) {
                sender.send(ByteBuffer.allocate(8), receiver.localAddress());
            }
            sender.close();
            assertFalse(sender.isOpen());
            assertFalse(sender.send(ByteBuffer.allocate(8), receiver.localAddress()), "sends after close are refused");
            return null;
        });
        sender.closeFuture().get(30, TimeUnit.SECONDS);
        eventually().until(() -> arrived.get() == 5);
        assertEquals(List.of("open", "close"), order);
        assertEquals("orderly", closes.get(0).getMessage());
        assertEquals(5, sender.sentCount());

        // Hold the receiver's loop as soon as closeFuture completes: the port must be free by then.
        CountDownLatch completed = new CountDownLatch(1);
        CountDownLatch rebound = new CountDownLatch(1);
        receiver.closeFuture().thenRun(() -> {
            completed.countDown();
            try {
                rebound.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        receiver.close();
        try {
            assertTrue(completed.await(30, TimeUnit.SECONDS));
            try (DatagramChannel again = DatagramChannel.open()) {
                again.bind(receiver.localAddress()); // the port really is free
            }
        } finally {
            rebound.countDown();
        }
        assertEquals(0, registeredChannels(clientLoop));
        assertEquals(0, registeredChannels(serverLoop));
        awaitSocketsAtMost(baseline);
    }

    /** A loop shutting down closes its endpoints (onClose with no cause when nothing was lost). */
    @Test
    void aLoopShutdownClosesItsEndpoints() throws Exception {
        int baseline = TestSupport.openSockets();
        CompletableFuture<Throwable> closed = new CompletableFuture<>();
        DatagramEndpoint endpoint = DatagramEndpoint.bind(clientLoop, anyLoopbackPort(), new DatagramHandler() {
            @Override
            public void onDatagram(DatagramEndpoint e, SocketAddress from, ByteBuffer data) {
            }

            @Override
            public void onClose(DatagramEndpoint e, Throwable cause) {
                closed.complete(cause);
            }
        });
        eventually().until(() -> registeredChannels(clientLoop) == 1);
        clientLoop.shutdownGracefully(Duration.ofSeconds(10)).get(30, TimeUnit.SECONDS);
        assertNull(closed.get(30, TimeUnit.SECONDS));
        assertFalse(endpoint.isOpen());
        assertFalse(endpoint.send(ByteBuffer.allocate(1), anyLoopbackPort()));
        awaitSocketsAtMost(baseline);
    }

    /**
     * onDatagram gets a view of exactly its datagram. It used to get the loop's shared
     * read buffer, so a handler that moved the limit read what another sender's datagram
     * had left there: isolation between peers is a security property.
     */
    @Test
    void aHandlerCannotReachAnotherSendersBytesThroughItsDatagramBuffer() throws Exception {
        Map<SocketAddress, Integer> received = new ConcurrentHashMap<>();
        Map<SocketAddress, Integer> reachableBytesOfA = new ConcurrentHashMap<>();
        DatagramEndpoint endpoint = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(), (e, sender, data) -> {
            received.put(sender, data.remaining());
            data.limit(data.capacity()); // a careless or hostile handler reaching past its datagram
            byte[] reachable = new byte[data.remaining()];
            data.get(reachable);
            reachableBytesOfA.put(sender, TestSupport.occurrences(reachable, (byte) 'A'));
        });
        try (DatagramChannel a = DatagramChannel.open(); DatagramChannel b = DatagramChannel.open()) {
            a.bind(anyLoopbackPort());
            b.bind(anyLoopbackPort());
            byte[] fromA = new byte[1000];
            java.util.Arrays.fill(fromA, (byte) 'A');
            a.send(ByteBuffer.wrap(fromA), endpoint.localAddress());
            eventually().until(() -> received.containsKey(a.getLocalAddress()));
            b.send(ByteBuffer.wrap("bbbbb".getBytes(java.nio.charset.StandardCharsets.US_ASCII)), endpoint.localAddress());
            eventually().until(() -> received.containsKey(b.getLocalAddress()));
            assertEquals(5, received.get(b.getLocalAddress()));
            assertEquals(0, reachableBytesOfA.get(b.getLocalAddress()), "bytes of A's that the handler could read in B's datagram");
        } finally {
            endpoint.close();
        }
    }

    /**
     * Nothing is delivered after close(): five datagrams already waiting in the socket
     * when the handler closes the endpoint on the first one, and only that one arrives.
     */
    @Test
    void nothingIsDeliveredAfterClose() throws Exception {
        List<Integer> delivered = new CopyOnWriteArrayList<>();
        CountDownLatch hold = new CountDownLatch(1);
        DatagramEndpoint endpoint = DatagramEndpoint.bind(serverLoop, anyLoopbackPort(), (e, sender, data) -> {
            delivered.add((int) data.get(0));
            e.close();
        });
        // The loop waits while all five arrive, so that they are read in one pass.
        serverLoop.execute(() -> {
            try {
                hold.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try (java.net.DatagramSocket client = new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            for (int i = 0; i < 5; i++) {
                client.send(new java.net.DatagramPacket(new byte[] {(byte) i}, 1, endpoint.localAddress()));
            }
        }
        hold.countDown();
        endpoint.closeFuture().get(60, TimeUnit.SECONDS);
        assertEquals(List.of(0), delivered);
    }
}
