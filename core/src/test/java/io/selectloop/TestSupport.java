package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
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

    /**
     * TCP data segments the socket {@code from} has sent to {@code to}, as the kernel
     * counts them ({@code ss -ti}'s data_segs_out; iproute2). For proving how many writes
     * reached the wire without a counter in the code under test.
     */
    static long dataSegmentsSent(InetSocketAddress from, InetSocketAddress to) throws IOException, InterruptedException {
        Process ss = new ProcessBuilder("ss", "-tinH", "state", "established",
                "( sport = :" + from.getPort() + " and dport = :" + to.getPort() + " )")
                .redirectErrorStream(true).start();
        String out = new String(ss.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (ss.waitFor() != 0 || out.isBlank()) {
            throw new IllegalStateException("ss found no connection " + from + " -> " + to + ": " + out);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("data_segs_out:(\\d+)").matcher(out);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** Open file descriptors of this process, from /proc/self/fd. */
    static int openFileDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return (int) fds.count();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc/self/fd", e);
        }
    }

    /** Waits until this process has no more open file descriptors than {@code baseline}. */
    static void awaitFileDescriptorsAtMost(int baseline) {
        try {
            eventually().until(() -> openFileDescriptors() <= baseline);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(openFileDescriptors() + " file descriptors open, expected at most " + baseline
                    + "; they are: " + describeFileDescriptors(), e);
        }
    }

    /**
     * Open sockets of this process. Steadier than {@link #openFileDescriptors()} across a
     * test's first use of a library (class loading opens jars, SecureRandom opens
     * /dev/urandom), and sockets are what a transport could leak.
     */
    static int openSockets() {
        JdkOwnSocket.ensureCreated();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return (int) fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith("socket:");
                } catch (IOException e) {
                    return false; // closed while listing
                }
            }).count();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc/self/fd", e);
        }
    }

    /**
     * The JDK keeps one socket of its own for the life of the process: the first blocking
     * socket I/O creates a Unix socket pair, closes one end and keeps the other to dup2
     * over descriptors being closed under a blocked thread ("preClose"). Created here,
     * before any baseline is taken, so that it does not look like a leak.
     */
    private static final class JdkOwnSocket {
        static {
            try (ServerSocketChannel server = ServerSocketChannel.open()) {
                server.bind(anyLoopbackPort());
                try (SocketChannel client = SocketChannel.open(server.getLocalAddress());
                     SocketChannel accepted = server.accept()) {
                    client.write(ByteBuffer.wrap(new byte[1]));
                    accepted.read(ByteBuffer.allocate(1));
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        static void ensureCreated() {
        }
    }

    /** Waits until this process has no more open sockets than {@code baseline}. */
    static void awaitSocketsAtMost(int baseline) {
        try {
            eventually().until(() -> openSockets() <= baseline);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(openSockets() + " sockets open, expected at most " + baseline
                    + "; open descriptors: " + describeFileDescriptors(), e);
        }
    }

    /** The /proc/net line of the socket with this inode: its protocol, addresses and state. */
    private static String describeSocket(String inode) {
        for (String table : List.of("tcp", "tcp6", "udp", "udp6", "unix")) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/net", table))) {
                    if (List.of(line.trim().split("\\s+")).contains(inode)) {
                        return table + ": " + line.trim().replaceAll("\\s+", " ");
                    }
                }
            } catch (IOException e) {
                // that table is not there
            }
        }
        return "inode " + inode;
    }

    /** What each open descriptor points to, grouped and counted (for failure messages). */
    static Map<String, Long> describeFileDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(fd -> {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        return "socket " + describeSocket(target.substring(8, target.length() - 1));
                    }
                    return target.replaceAll("\\[\\d+\\]", "[...]");
                } catch (IOException e) {
                    return "(gone)";
                }
            }).collect(java.util.stream.Collectors.groupingBy(t -> t, java.util.TreeMap::new,
                    java.util.stream.Collectors.counting()));
        } catch (IOException e) {
            return Map.of("cannot list /proc/self/fd", 1L);
        }
    }

    /** Runs {@code action} on the loop thread and returns its result. */
    static <T> T onLoop(EventLoop loop, Callable<T> action) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        loop.execute(() -> {
            try {
                result.complete(action.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result.get(60, TimeUnit.SECONDS);
    }

    /**
     * Keeps {@code loop} busy in one task until {@link LoopHold#close()}, so that whatever
     * other threads hand over meanwhile waits in its task queue, in order. Once released,
     * the task returns only after the loop's per-iteration task budget
     * ({@link EventLoop#TASK_BUDGET_NANOS}) has passed, as under real load: the loop checks
     * the budget every 32 tasks, so beyond the next few, the tasks queued behind this one
     * wait for a later iteration.
     */
    static LoopHold holdLoop(EventLoop loop) throws InterruptedException {
        LoopHold hold = new LoopHold();
        loop.execute(hold::hold);
        if (!hold.held.await(60, TimeUnit.SECONDS)) {
            throw new AssertionError("the loop never ran the holding task");
        }
        return hold;
    }

    /** See {@link #holdLoop}. */
    static final class LoopHold implements AutoCloseable {
        private final java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
        private final java.util.concurrent.CountDownLatch released = new java.util.concurrent.CountDownLatch(1);

        private void hold() {
            long start = System.nanoTime();
            held.countDown();
            try {
                released.await(60, TimeUnit.SECONDS); // bounded: a failed test must not wedge the loop
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            while (System.nanoTime() - start <= EventLoop.TASK_BUDGET_NANOS) {
                Thread.onSpinWait();
            }
        }

        @Override
        public void close() {
            released.countDown();
        }
    }

    /** Channels the loop still has registered (cancelled keys not counted). */
    static int registeredChannels(EventLoop loop) throws Exception {
        return onLoop(loop, loop::registeredChannelCount);
    }

    static SocketChannel connect(SocketAddress address) throws IOException {
        SocketChannel ch = SocketChannel.open(address instanceof InetSocketAddress
                ? ((InetSocketAddress) address).getAddress() instanceof java.net.Inet6Address
                        ? java.net.StandardProtocolFamily.INET6 : java.net.StandardProtocolFamily.INET
                : java.net.StandardProtocolFamily.UNIX);
        ch.connect(address);
        return ch;
    }

    /** A TCP client with a small receive window, set before connecting: a peer that reads little. */
    static SocketChannel connectWithReceiveBuffer(SocketAddress address, int bytes) throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            ch.setOption(java.net.StandardSocketOptions.SO_RCVBUF, bytes);
            ch.connect(address);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
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

    /**
     * SHA-256 of the next {@code length} bytes, read in 64 KiB pieces: reading into one
     * heap buffer the size of the stream would make the JDK cache a direct buffer of that
     * size for this thread, which the direct-memory tests would count.
     */
    static byte[] sha256OfNext(SocketChannel ch, long length) throws IOException {
        MessageDigest digest = sha256();
        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
        long left = length;
        while (left > 0) {
            buffer.clear().limit((int) Math.min(buffer.capacity(), left));
            int n = ch.read(buffer);
            if (n < 0) {
                throw new java.io.EOFException("end of stream after " + (length - left) + " of " + length + " bytes");
            }
            digest.update(buffer.array(), 0, n);
            left -= n;
        }
        return digest.digest();
    }

    /** Bytes held by this JVM's direct buffers, as the "direct" buffer pool bean counts them. */
    static long directMemoryUsed() {
        for (java.lang.management.BufferPoolMXBean pool
                : java.lang.management.ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) {
                return pool.getMemoryUsed();
            }
        }
        throw new IllegalStateException("this JVM has no \"direct\" buffer pool bean");
    }

    /** How many times {@code b} occurs in {@code bytes}. */
    static int occurrences(byte[] bytes, byte b) {
        int n = 0;
        for (byte x : bytes) {
            if (x == b) {
                n++;
            }
        }
        return n;
    }

    /** Drives an {@link EventLoop#open()} loop on this thread until {@code done}, for at most a minute. */
    static void runUntil(EventLoop loop, java.util.function.BooleanSupplier done) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!done.getAsBoolean() && System.nanoTime() < deadline) {
            loop.runOnce(10);
        }
        org.junit.jupiter.api.Assertions.assertTrue(done.getAsBoolean(), "not done after a minute of runOnce");
    }

    /** A handler that drops what the peer sends and offers its connection to {@code opened}. */
    static class Discarding implements Handler {
        final CompletableFuture<Connection> opened;

        Discarding(CompletableFuture<Connection> opened) {
            this.opened = opened;
        }

        @Override
        public void onOpen(Connection c) {
            opened.complete(c);
        }

        @Override
        public void onData(Connection c, ByteBuffer data) {
            data.position(data.limit());
        }
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
        private ByteBuffer scratch;

        Feeder(Handler handler, Connection connection) {
            this(handler, connection, ByteBuffer.allocateDirect(EventLoop.READ_BUFFER_SIZE));
        }

        /**
         * Reading through {@code scratch}, a direct buffer the caller reuses: a fuzz loop
         * making a feeder per input would otherwise churn through direct memory (GBs of RSS).
         */
        Feeder(Handler handler, Connection connection, ByteBuffer scratch) {
            this.handler = handler;
            this.connection = connection;
            this.scratch = scratch;
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

    /**
     * A loopback TCP listener that never accepts, with its accept queue full: a connect
     * to it stays pending, since Linux drops a SYN for a listener whose accept queue is
     * full (the client retransmits it, and it is dropped again). With backlog 1 the
     * queue holds two connections ({@code sk_ack_backlog > sk_max_ack_backlog} counts as
     * full), so two blocking connects fill it; this waits until /proc/net/tcp shows the
     * listener's queue length (its rx_queue column) at two before returning, so the
     * caller's SYN cannot slip in ahead of the fillers' handshakes.
     */
    static final class FullBacklogListener implements AutoCloseable {
        final ServerSocketChannel listener;
        final InetSocketAddress address;
        private final List<SocketChannel> fillers = new java.util.ArrayList<>();

        FullBacklogListener() throws IOException {
            listener = ServerSocketChannel.open(StandardProtocolFamily.INET);
            try {
                listener.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 1);
                address = (InetSocketAddress) listener.getLocalAddress();
                for (int i = 0; i < 2; i++) {
                    fillers.add(SocketChannel.open(address));
                }
                eventually().until(() -> acceptQueueLength(address.getPort()) >= 2);
            } catch (IOException | RuntimeException e) {
                close();
                throw e;
            }
        }

        /** The accept queue length of the IPv4 listener on {@code port}, -1 if none. */
        static int acceptQueueLength(int port) throws IOException {
            String local = String.format(":%04X", port);
            for (String line : Files.readAllLines(Path.of("/proc/net/tcp"))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 4 && f[1].endsWith(local) && f[3].equals("0A")) {
                    return Integer.parseInt(f[4].substring(f[4].indexOf(':') + 1), 16);
                }
            }
            return -1;
        }

        @Override
        public void close() throws IOException {
            for (SocketChannel ch : fillers) {
                ch.close();
            }
            listener.close();
        }
    }

    /**
     * A raw echo server in a JVM of its own, for tests whose two ends would not fit in
     * one process's file descriptor limit. Prints {@code port N} once listening and
     * serves until its standard input ends, so it cannot outlive the test that started
     * it, even if that test's JVM dies. Args: [loops] (default 1).
     */
    static final class ChildEchoServer {
        public static void main(String[] args) throws Exception {
            int loops = args.length > 0 ? Integer.parseInt(args[0]) : 1;
            EventLoopGroup group = EventLoopGroup.start(loops, "child-echo");
            StreamOptions options = StreamOptions.builder().backlog(4096).build();
            StreamServer server = StreamServer.bind(group, new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0),
                    options, () -> (c, data) -> c.write(data));
            System.out.println("port " + ((InetSocketAddress) server.localAddress()).getPort());
            System.out.flush();
            while (System.in.read() >= 0) {
                // nothing to read; waiting for the end of stream
            }
            group.close();
        }

        /** Starts one; the caller must {@link Child#close()} it. */
        static Child start(int loops) throws IOException {
            String javaBinary = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process process = new ProcessBuilder(javaBinary, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                    ChildEchoServer.class.getName(), Integer.toString(loops))
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            try {
                java.io.BufferedReader out = new java.io.BufferedReader(
                        new java.io.InputStreamReader(process.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
                String line = out.readLine();
                if (line == null || !line.startsWith("port ")) {
                    throw new IOException("child echo server did not start; it said: " + line);
                }
                int port = Integer.parseInt(line.substring(5).trim());
                return new Child(process, new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port));
            } catch (IOException | RuntimeException e) {
                process.destroyForcibly();
                throw e;
            }
        }
    }

    /** A running {@link ChildEchoServer}. */
    static final class Child implements AutoCloseable {
        final Process process;
        final InetSocketAddress address;

        Child(Process process, InetSocketAddress address) {
            this.process = process;
            this.address = address;
        }

        @Override
        public void close() throws Exception {
            try {
                process.getOutputStream().close(); // its cue to stop
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } finally {
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }
}
