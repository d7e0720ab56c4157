package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.directMemoryUsed;
import static io.selectloop.TestSupport.sha256;
import static io.selectloop.TestSupport.sha256OfNext;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Direct memory goes back to the OS only through a GC cleaner, outside -Xmx and outside
 * the loop's memory budget, so the loop must not let traffic grow it. Measured with the
 * JVM's "direct" buffer pool bean: a bound on memory, with a wide margin both ways.
 */
class DirectMemoryTest {
    private static final int MIB = 1 << 20;
    /** The pool's direct chunks per loop (BufferPool.MAX_DIRECT_CHUNKS), spelled out so
     *  that this test compiles against the code from before that constant too. */
    private static final long POOLED_DIRECT_BYTES = 256L * BufferPool.CHUNK_SIZE;

    private EventLoop loop;
    private final CompletableFuture<Connection> serverSide = new CompletableFuture<>();

    @BeforeEach
    void startLoop() {
        loop = EventLoop.start("direct-memory-test");
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    /** A server whose handlers ignore what peers send; each connection is offered to {@link #serverSide}. */
    private StreamServer serve(StreamOptions options) throws IOException {
        return StreamServer.bind(loop, anyLoopbackPort(), options, () -> new TestSupport.Discarding(serverSide));
    }

    /**
     * An 8 MiB write from a heap buffer. The direct-write shortcut used to hand heap
     * buffers to the channel, and the JDK copies each into a temporary direct buffer of
     * the same size that it keeps cached for the thread's life: +8 MiB for good.
     */
    @Test
    void aLargeHeapWriteLeavesNoDirectBufferOfItsSizeBehind() throws Exception {
        StreamOptions options = StreamOptions.builder().maxPendingWriteBytes(64L * MIB).build();
        StreamServer server = serve(options);
        try (SocketChannel ch = TestSupport.connect(server.localAddress())) {
            Connection c = serverSide.get(10, TimeUnit.SECONDS);
            // First the pool makes its direct chunks (a fixed cost, kept for reuse), with
            // small writes that take no shortcut: the baseline includes them.
            byte[] warmUp = TestSupport.randomBytes(new Random(4), (int) POOLED_DIRECT_BYTES);
            writeInPieces(c, warmUp, 8 * 1024);
            assertArrayEquals(sha256(warmUp), sha256OfNext(ch, warmUp.length));
            TestSupport.onLoop(loop, () -> null);

            byte[] payload = TestSupport.randomBytes(new Random(8), 8 * MIB);
            long before = directMemoryUsed();
            TestSupport.onLoop(loop, () -> {
                c.write(ByteBuffer.wrap(payload));
                return null;
            });
            assertArrayEquals(sha256(payload), sha256OfNext(ch, payload.length), "every byte arrives intact");
            TestSupport.onLoop(loop, () -> null); // the last flush has returned
            long grew = directMemoryUsed() - before;
            assertTrue(grew < 4L * MIB, "after an 8 MiB heap write, direct memory stayed " + grew / 1024
                    + " KiB larger than with the pool's chunks made");
        }
    }

    /**
     * 16 MiB of 8 KiB writes queued for a peer that is not reading yet: 1,024 chunks'
     * worth. Chunks beyond the 256 the pool keeps used to be direct too, left to the GC
     * once drained, so a burst grew direct memory by its whole size until a collection.
     */
    @Test
    void aBurstOfSmallWritesMakesNoMoreDirectChunksThanThePoolKeeps() throws Exception {
        byte[] payload = TestSupport.randomBytes(new Random(16), 16 * MIB);
        StreamOptions options = StreamOptions.builder()
                .maxPendingWriteBytes(64L * MIB).sendBufferSize(64 * 1024).build();
        StreamServer server = serve(options);
        try (SocketChannel ch = SocketChannel.open()) {
            ch.setOption(StandardSocketOptions.SO_RCVBUF, 64 * 1024);
            ch.connect(server.localAddress());
            Connection c = serverSide.get(10, TimeUnit.SECONDS);
            long before = directMemoryUsed();
            writeInPieces(c, payload, 8 * 1024);
            long grew = directMemoryUsed() - before; // the burst is queued: the peer has read nothing
            assertTrue(grew < POOLED_DIRECT_BYTES + 2L * MIB, "with 16 MiB queued, direct memory grew by "
                    + grew / 1024 + " KiB; the pool's direct chunks are " + POOLED_DIRECT_BYTES / 1024 + " KiB");
            assertArrayEquals(sha256(payload), sha256OfNext(ch, payload.length), "every byte arrives intact");
        }
    }

    /** Writes {@code bytes} on the loop, {@code piece} bytes per write, all in one task. */
    private void writeInPieces(Connection c, byte[] bytes, int piece) throws Exception {
        TestSupport.onLoop(loop, () -> {
            for (int at = 0; at < bytes.length; at += piece) {
                c.write(bytes, at, Math.min(piece, bytes.length - at));
            }
            return null;
        });
    }
}
