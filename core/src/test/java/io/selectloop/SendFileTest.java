package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.onLoop;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SendFileTest {
    private EventLoop loop;

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("sendfile-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    /** Writes {@code size} pseudo-random bytes to a new file, feeding them to {@code digest} too. */
    private static Path randomFile(Path dir, long size, long seed, MessageDigest digest) throws IOException {
        Path path = dir.resolve("random-" + size + ".bin");
        SplittableRandom random = new SplittableRandom(seed);
        ByteBuffer block = ByteBuffer.allocate(1 << 20);
        try (FileChannel out = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long written = 0; written < size; ) {
                block.clear();
                while (block.remaining() >= Long.BYTES) {
                    block.putLong(random.nextLong());
                }
                block.flip();
                block.limit((int) Math.min(block.limit(), size - written));
                if (digest != null) {
                    digest.update(block.duplicate());
                }
                written += block.remaining();
                while (block.hasRemaining()) {
                    out.write(block);
                }
            }
        }
        return path;
    }

    /** A client with small socket buffers, so the server's output backs up. */
    private static SocketChannel slowClient(java.net.SocketAddress address) throws IOException {
        SocketChannel ch = SocketChannel.open();
        ch.setOption(StandardSocketOptions.SO_RCVBUF, 64 * 1024);
        ch.connect(address);
        return ch;
    }

    private static final StreamOptions SMALL_SEND_BUFFER = StreamOptions.builder().sendBufferSize(64 * 1024).build();

    /**
     * 256 MiB from a file to a reader with small socket buffers, between buffered writes:
     * 200 KiB written before, 100 KiB after on the loop, then from another thread 100 KiB,
     * a second region of the file and 100 KiB more, then close. The reader gets exactly
     * that stream (SHA-256 over all of it). Throughout, a loop timer samples the pool
     * chunks in use: they stay bounded by the buffered writes (a few hundred KiB), never
     * near the file's size. The file channel is still open afterwards.
     */
    @Test
    void sends256MiBToASlowReaderInOrderWithWritesBeforeAndAfterAndBoundedMemory(@TempDir Path dir) throws Exception {
        long size = 256L << 20;
        Random random = new Random(256);
        byte[] before = TestSupport.randomBytes(random, 200 * 1024);
        byte[] afterOnLoop = TestSupport.randomBytes(random, 100 * 1024);
        byte[] afterElsewhere1 = TestSupport.randomBytes(random, 100 * 1024);
        byte[] afterElsewhere2 = TestSupport.randomBytes(random, 100 * 1024);
        int secondRegion = 64 * 1024;

        MessageDigest expected = TestSupport.sha256();
        expected.update(before);
        Path path = randomFile(dir, size, 42, expected);
        expected.update(afterOnLoop);
        expected.update(afterElsewhere1);
        try (FileChannel head = FileChannel.open(path)) {
            ByteBuffer region = ByteBuffer.allocate(secondRegion);
            while (region.hasRemaining() && head.read(region) >= 0) {
                // read the first bytes again for the second region
            }
            expected.update(region.flip());
        }
        expected.update(afterElsewhere2);
        long total = before.length + size + afterOnLoop.length + afterElsewhere1.length + secondRegion
                + afterElsewhere2.length;

        try (FileChannel file = FileChannel.open(path, StandardOpenOption.READ)) {
            CompletableFuture<Connection> opened = new CompletableFuture<>();
            CompletableFuture<Throwable> closed = new CompletableFuture<>();
            List<Boolean> writability = new CopyOnWriteArrayList<>();
            StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), SMALL_SEND_BUFFER, () -> new Handler() {
                @Override
                public void onOpen(Connection c) {
                    c.write(before);
                    c.sendFile(file, 0, size);
                    c.write(afterOnLoop);
                    opened.complete(c);
                }

                @Override
                public void onData(Connection c, ByteBuffer data) {
                }

                @Override
                public void onWritabilityChanged(Connection c, boolean writable) {
                    writability.add(writable);
                }

                @Override
                public void onClose(Connection c, Throwable cause) {
                    closed.complete(cause);
                }
            });

            AtomicInteger maxChunksInUse = new AtomicInteger();
            CompletableFuture<Void> samplingStopped = new CompletableFuture<>();
            Runnable sample = new Runnable() {
                @Override
                public void run() {
                    maxChunksInUse.accumulateAndGet(loop.pool.inUse(), Math::max);
                    if (!closed.isDone()) {
                        loop.schedule(this, 1, TimeUnit.MILLISECONDS);
                    } else {
                        samplingStopped.complete(null);
                    }
                }
            };
            loop.execute(sample);

            try (SocketChannel client = slowClient(server.localAddress())) {
                Connection c = opened.get(30, TimeUnit.SECONDS);
                c.write(afterElsewhere1);
                c.sendFile(file, 0, secondRegion);
                c.write(afterElsewhere2);
                c.close();

                MessageDigest actual = TestSupport.sha256();
                ByteBuffer buffer = ByteBuffer.allocate(16 * 1024);
                long received = 0;
                int n;
                while ((n = client.read(buffer)) >= 0) {
                    received += n;
                    actual.update(buffer.flip());
                    buffer.clear();
                }
                assertEquals(total, received);
                assertArrayEquals(expected.digest(), actual.digest(), "the stream differs");
            }
            assertNull(closed.get(30, TimeUnit.SECONDS));
            samplingStopped.get(30, TimeUnit.SECONDS);
            assertTrue(file.isOpen(), "the file channel stays the caller's");
            assertEquals(List.of(false, true), writability.subList(0, 2));

            // 400 KiB of buffered writes in 16 KiB chunks is 25 chunks, plus partly filled ones.
            int bound = (before.length + afterOnLoop.length + afterElsewhere1.length + afterElsewhere2.length)
                    / BufferPool.CHUNK_SIZE + 4;
            assertTrue(maxChunksInUse.get() <= bound, "pool chunks in use peaked at " + maxChunksInUse.get()
                    + " (" + maxChunksInUse.get() * BufferPool.CHUNK_SIZE / 1024 + " KiB), over " + bound);
            assertEquals(0, (int) onLoop(loop, loop.pool::inUse));
        }
    }

    /**
     * maxPendingWriteBytes bounds memory, and a file region holds none: a write from
     * another thread while a large file is still pending must not trip it.
     */
    @Test
    void aWriteFromAnotherThreadBehindALargePendingFileIsNotRefusedByTheMemoryCap(@TempDir Path dir) throws Exception {
        long size = 32L << 20;
        MessageDigest expected = TestSupport.sha256();
        Path path = randomFile(dir, size, 7, expected);
        byte[] trailer = "the end\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        expected.update(trailer);
        StreamOptions options = SMALL_SEND_BUFFER.toBuilder().maxPendingWriteBytes(1 << 20).build();
        try (FileChannel file = FileChannel.open(path)) {
            CompletableFuture<Connection> opened = new CompletableFuture<>();
            CompletableFuture<Throwable> closed = new CompletableFuture<>();
            StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), options, () -> new Handler() {
                @Override
                public void onOpen(Connection c) {
                    c.sendFile(file, 0, size);
                    opened.complete(c);
                }

                @Override
                public void onData(Connection c, ByteBuffer data) {
                }

                @Override
                public void onClose(Connection c, Throwable cause) {
                    closed.complete(cause);
                }
            });
            try (SocketChannel client = slowClient(server.localAddress())) {
                Connection c = opened.get(30, TimeUnit.SECONDS);
                assertTrue(c.pendingWriteBytes() > options.maxPendingWriteBytes(), "the file is still pending");
                c.write(trailer); // from the test thread, not the loop
                c.close();
                byte[] received = TestSupport.readToEnd(client);
                assertEquals(size + trailer.length, received.length);
                assertArrayEquals(expected.digest(), TestSupport.sha256(received));
            }
            assertNull(closed.get(30, TimeUnit.SECONDS));
        }
    }

    /** Promising more bytes than the file has fails that connection with an EOFException that says so. */
    @Test
    void aFileShorterThanPromisedFailsTheConnectionWithAClearError(@TempDir Path dir) throws Exception {
        long size = 1 << 20;
        MessageDigest expected = TestSupport.sha256();
        Path path = randomFile(dir, size, 9, expected);
        try (FileChannel file = FileChannel.open(path)) {
            CompletableFuture<Throwable> closed = new CompletableFuture<>();
            StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new Handler() {
                @Override
                public void onOpen(Connection c) {
                    c.sendFile(file, 0, size + 100);
                    c.write(new byte[] {1, 2, 3}); // never sent: the file comes first and fails
                }

                @Override
                public void onData(Connection c, ByteBuffer data) {
                }

                @Override
                public void onClose(Connection c, Throwable cause) {
                    closed.complete(cause);
                }
            });
            try (SocketChannel client = SocketChannel.open(server.localAddress())) {
                // Read while the file goes out: the socket buffers need not hold 1 MiB (they
                // do not when other processes hold much of the machine's TCP memory).
                CompletableFuture<byte[]> reading = CompletableFuture.supplyAsync(() -> {
                    try {
                        return TestSupport.readToEnd(client);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                Throwable cause = closed.get(30, TimeUnit.SECONDS);
                EOFException eof = assertInstanceOf(EOFException.class, cause);
                assertTrue(eof.getMessage().contains("file ended at " + size) && eof.getMessage().contains("100 bytes"),
                        eof.getMessage());
                byte[] received = reading.get(30, TimeUnit.SECONDS);
                assertEquals(size, received.length, "what the file had arrives, nothing after it");
                assertArrayEquals(expected.digest(), TestSupport.sha256(received));
            }
            assertTrue(file.isOpen());
        }
        eventually().until(() -> onLoop(loop, loop.pool::inUse) == 0);
        assertFalse(loop.isShuttingDown());
    }
}
