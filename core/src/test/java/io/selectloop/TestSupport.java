package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;

/** Helpers shared by the socket tests: loopback addresses, fd counting, clients, digests. */
final class TestSupport {
    private TestSupport() {
    }

    static InetSocketAddress anyLoopbackPort() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    }

    /** Awaitility with a patient bound: the machines are noisy, but nothing may hang forever. */
    static ConditionFactory eventually() {
        return Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10));
    }

    /** Open file descriptors of this process, from /proc/self/fd. */
    static int openFileDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return (int) fds.count();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc/self/fd", e);
        }
    }

    static SocketChannel connect(SocketAddress address) throws IOException {
        SocketChannel ch = SocketChannel.open(address instanceof InetSocketAddress
                ? ((InetSocketAddress) address).getAddress() instanceof java.net.Inet6Address
                        ? java.net.StandardProtocolFamily.INET6 : java.net.StandardProtocolFamily.INET
                : java.net.StandardProtocolFamily.UNIX);
        ch.connect(address);
        return ch;
    }

    static void writeFully(SocketChannel ch, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            ch.write(buffer);
        }
    }

    /** Reads until {@code length} bytes have arrived; fails on an early end of stream. */
    static byte[] readFully(SocketChannel ch, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (ch.read(buffer) < 0) {
                throw new java.io.EOFException("end of stream after " + buffer.position() + " of " + length + " bytes");
            }
        }
        return buffer.array();
    }

    /** Reads to end of stream. */
    static byte[] readToEnd(SocketChannel ch) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
        while (ch.read(buffer) >= 0) {
            out.write(buffer.array(), 0, buffer.position());
            buffer.clear();
        }
        return out.toByteArray();
    }

    static byte[] randomBytes(Random random, int length) {
        byte[] b = new byte[length];
        random.nextBytes(b);
        return b;
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    static byte[] sha256(byte[] data) {
        return sha256().digest(data);
    }

    /** An echo handler that records every callback, for assertions. */
    static class RecordingEcho implements Handler {
        final Events events;
        volatile Connection connection;

        RecordingEcho(Events events) {
            this.events = events;
        }

        @Override
        public void onOpen(Connection c) {
            connection = c;
            events.opened.add(c);
        }

        @Override
        public void onData(Connection c, ByteBuffer data) throws Exception {
            c.write(data);
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            events.closeCount(c).incrementAndGet();
            events.closed.add(c);
            if (cause != null) {
                events.causes.put(c, cause);
            }
        }
    }

    /** What a server's handlers saw, gathered across connections. */
    static final class Events {
        final List<Connection> opened = new CopyOnWriteArrayList<>();
        final List<Connection> closed = new CopyOnWriteArrayList<>();
        final Map<Connection, Throwable> causes = new ConcurrentHashMap<>();
        private final Map<Connection, AtomicInteger> closeCounts = new ConcurrentHashMap<>();

        AtomicInteger closeCount(Connection c) {
            return closeCounts.computeIfAbsent(c, k -> new AtomicInteger());
        }

        /** Each closed connection was reported exactly once. */
        void assertEachClosedOnce() {
            closeCounts.forEach((c, n) -> assertEquals(1, n.get(), "onClose calls for " + c));
        }
    }
}
