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

    // ------------------------------------------------------------------ framing

    /**
     * A {@link Connection} without a socket, for driving a {@link Handler} directly:
     * writes are recorded, pause/resume counted, and {@code close()}/{@code abort()} call
     * the handler's {@code onClose} at once, as a connection with nothing pending does.
     * Its loop is the caller's {@link EventLoop#open()} loop, whose pool the decoders use.
     */
    static final class FakeConnection implements Connection {
        private final EventLoop loop;
        private Handler handler;
        final java.io.ByteArrayOutputStream written = new java.io.ByteArrayOutputStream();
        int pauseCalls;
        int resumeCalls;
        private boolean open = true;
        private Object attachment;

        FakeConnection(EventLoop loop) {
            this.loop = loop;
        }

        /** The handler whose onClose {@link #close()} calls. */
        FakeConnection handler(Handler h) {
            this.handler = h;
            return this;
        }

        @Override
        public EventLoop loop() {
            return loop;
        }

        @Override
        public void write(ByteBuffer src) {
            byte[] copy = new byte[src.remaining()];
            src.get(copy);
            if (open) {
                written.write(copy, 0, copy.length);
            }
        }

        @Override
        public void sendFile(java.nio.channels.FileChannel file, long position, long count) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void flush() {
        }

        @Override
        public boolean isWritable() {
            return true;
        }

        @Override
        public long pendingWriteBytes() {
            return 0;
        }

        @Override
        public void pauseReading() {
            pauseCalls++;
        }

        @Override
        public void resumeReading() {
            resumeCalls++;
        }

        @Override
        public void shutdownOutput() {
        }

        @Override
        public void close() {
            if (open) {
                open = false;
                if (handler != null) {
                    handler.onClose(this, null);
                }
            }
        }

        @Override
        public void abort() {
            close();
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public SocketAddress remoteAddress() {
            return null;
        }

        @Override
        public SocketAddress localAddress() {
            return null;
        }

        @Override
        public Object attachment() {
            return attachment;
        }

        @Override
        public void attach(Object attachment) {
            this.attachment = attachment;
        }
    }

    /**
     * Hands bytes to a handler's {@code onData} the way the loop does: through one reused
     * direct buffer, overwritten for every call. After each call the bytes it carried are
     * scribbled over, so a decoder that kept a view of them past the call delivers garbage
     * and fails the test.
     */
    static final class Feeder {
        private final Handler handler;
        private final Connection connection;
        private ByteBuffer scratch = ByteBuffer.allocateDirect(EventLoop.READ_BUFFER_SIZE);

        Feeder(Handler handler, Connection connection) {
            this.handler = handler;
            this.connection = connection;
        }

        /** One {@code onData} call with {@code bytes[from, to)}; asserts it consumed them all. */
        void feed(byte[] bytes, int from, int to) throws Exception {
            int n = to - from;
            if (n > scratch.capacity()) {
                scratch = ByteBuffer.allocateDirect(n);
            }
            scratch.clear();
            scratch.put(bytes, from, n).flip();
            try {
                handler.onData(connection, scratch);
                assertEquals(scratch.limit(), scratch.position(), "onData consumed every byte it was given");
            } finally {
                for (int i = 0; i < n; i++) {
                    scratch.put(i, (byte) 0x5A);
                }
            }
        }

        void feed(byte[] bytes) throws Exception {
            feed(bytes, 0, bytes.length);
        }

        /** The whole of {@code bytes} in chunks whose sizes come from {@code chunkSize}. */
        void feedInChunks(byte[] bytes, java.util.function.IntSupplier chunkSize) throws Exception {
            int at = 0;
            while (at < bytes.length) {
                int n = Math.min(bytes.length - at, Math.max(1, chunkSize.getAsInt()));
                feed(bytes, at, at + n);
                at += n;
            }
        }
    }

    /** A frame handler that keeps a copy of every frame and what closed it. */
    static class FrameRecorder implements FrameHandler {
        final List<byte[]> frames = new CopyOnWriteArrayList<>();
        final java.util.concurrent.CompletableFuture<Throwable> closed = new java.util.concurrent.CompletableFuture<>();
        final AtomicInteger eofs = new AtomicInteger();

        @Override
        public void onFrame(Connection c, ByteBuffer frame) throws Exception {
            byte[] copy = new byte[frame.remaining()];
            frame.get(copy);
            frames.add(copy);
        }

        @Override
        public void onEof(Connection c) throws Exception {
            eofs.incrementAndGet();
            FrameHandler.super.onEof(c);
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            closed.complete(cause);
        }
    }

    /** The frames concatenated, each encoded by {@code framing}. */
    static byte[] encodeAll(Framing framing, List<byte[]> payloads) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (byte[] p : payloads) {
            ByteBuffer frame = framing.encode(ByteBuffer.wrap(p));
            out.write(frame.array(), frame.arrayOffset() + frame.position(), frame.remaining());
        }
        return out.toByteArray();
    }

    /**
     * {@code payload} with every delimiter occurrence broken, counting one that begins in
     * the payload and ends in the delimiter written after it. Written independently of
     * the framing's own check, as an oracle.
     */
    static byte[] withoutDelimiter(byte[] payload, byte[] delimiter) {
        byte replacement = 0x7F;
        while (contains(delimiter, replacement)) {
            replacement++;
        }
        byte[] p = payload.clone();
        for (int i = 0; i < p.length; i++) {
            boolean occurs = true;
            for (int k = 0; k < delimiter.length && occurs; k++) {
                byte b = i + k < p.length ? p[i + k] : delimiter[i + k - p.length];
                occurs = b == delimiter[k];
            }
            if (occurs) {
                p[i] = replacement; // not in the delimiter, so no new occurrence appears
            }
        }
        return p;
    }

    private static boolean contains(byte[] bytes, byte b) {
        for (byte x : bytes) {
            if (x == b) {
                return true;
            }
        }
        return false;
    }
}
