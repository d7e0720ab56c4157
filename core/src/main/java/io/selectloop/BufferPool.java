package io.selectloop;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;

/**
 * Per-loop free list of fixed-size chunks for outbound data, and of size-classed
 * accumulation buffers for partial inbound frames. Only the loop thread touches it, so
 * there are no locks and no reference counts: a chunk belongs to exactly one
 * connection's queue until it is drained, an accumulation buffer to one connection's
 * decoder until its frame is complete, then each comes straight back. Whoever holds one
 * is charged for it on its {@link MemoryAccount}, by capacity, until it comes back.
 *
 * <p>Direct memory is only returned to the OS by a GC cleaner, under a cap of its own,
 * so a burst could pin far more of it than the budget allows until some later
 * collection. So the pool makes at most {@link #MAX_DIRECT_CHUNKS} direct chunks, keeps
 * every one of them for reuse, and serves a burst beyond that from heap chunks, which a
 * GC reclaims under -Xmx like any garbage. Writing a heap chunk costs the JDK one copy
 * into its own small per-thread direct buffer (a chunk's size at most).
 */
final class BufferPool {
    static final int CHUNK_SIZE = 16 * 1024;
    /** Direct chunks made and kept per loop (4 MiB): a fixed cost, not a per-peer one. */
    static final int MAX_DIRECT_CHUNKS = 256;

    /** A buffer seen through two cursors: one to append, one to drain. */
    static final class Chunk {
        final ByteBuffer fill;
        final ByteBuffer drain;

        Chunk(ByteBuffer memory) {
            fill = memory;
            drain = memory.duplicate();
            drain.limit(0);
        }

        /** Copies as much of {@code src} as fits; returns the number of bytes copied. */
        int append(ByteBuffer src) {
            int n = Math.min(src.remaining(), fill.remaining());
            if (n == src.remaining()) {
                fill.put(src);
            } else {
                int limit = src.limit();
                src.limit(src.position() + n);
                fill.put(src);
                src.limit(limit);
            }
            drain.limit(fill.position());
            return n;
        }

        boolean hasRoom() {
            return fill.hasRemaining();
        }

        int readable() {
            return drain.remaining();
        }

        void reset() {
            fill.clear();
            drain.clear();
            drain.limit(0);
        }
    }

    /** Smallest accumulation buffer: most partial frames are a few hundred bytes. */
    static final int MIN_ACCUMULATION_CLASS = 4 * 1024;
    /** Larger accumulation buffers are never kept: a rare huge frame must not pin its memory. */
    static final int MAX_RETAINED_ACCUMULATION_CLASS = 1 << 20;
    /** Bytes kept per size class, so a small class keeps many buffers and the largest one. */
    static final int RETAINED_BYTES_PER_CLASS = 1 << 20;

    private final ArrayDeque<Chunk> free = new ArrayDeque<>();
    private int directChunks;
    private int inUse;

    /** Free accumulation buffers; index {@code i} holds capacity {@code MIN_ACCUMULATION_CLASS << i}. */
    private final ArrayList<ArrayDeque<ByteBuffer>> freeAccumulation = new ArrayList<>();
    private int accumulationInUse;

    BufferPool() {
        for (int size = MIN_ACCUMULATION_CLASS; size <= MAX_RETAINED_ACCUMULATION_CLASS; size <<= 1) {
            freeAccumulation.add(new ArrayDeque<>());
        }
    }

    /** An empty chunk, charged to {@code account} until {@link #give}. */
    Chunk take(MemoryAccount account) {
        Chunk c = free.pollLast();
        if (c == null) {
            if (directChunks < MAX_DIRECT_CHUNKS) {
                directChunks++;
                c = new Chunk(ByteBuffer.allocateDirect(CHUNK_SIZE));
            } else {
                c = new Chunk(ByteBuffer.allocate(CHUNK_SIZE));
            }
        }
        inUse++;
        account.charge(CHUNK_SIZE);
        return c;
    }

    void give(Chunk c, MemoryAccount account) {
        inUse--;
        account.release(CHUNK_SIZE);
        if (c.fill.isDirect()) {
            c.reset();
            free.addLast(c);
        }
    }

    /** Chunks currently held by connections (for tests and leak checks). */
    int inUse() {
        return inUse;
    }

    /**
     * An empty accumulation buffer of at least {@code minCapacity} bytes: a power of two
     * up to {@link #MAX_RETAINED_ACCUMULATION_CLASS}, exactly {@code minCapacity} above.
     * Heap memory, not direct: frames can be MiBs, and direct memory is only returned
     * by a GC cleaner under a separate cap, while the heap is bounded by -Xmx and
     * collected promptly. Copying from the direct read buffer into it is one memcpy.
     */
    ByteBuffer takeAccumulation(int minCapacity, MemoryAccount account) {
        if (minCapacity < 0) {
            throw new IllegalArgumentException("negative capacity " + minCapacity);
        }
        ByteBuffer b;
        if (minCapacity > MAX_RETAINED_ACCUMULATION_CLASS) {
            b = ByteBuffer.allocate(minCapacity);
        } else {
            int size = sizeClass(minCapacity);
            b = freeAccumulation.get(classIndex(size)).pollLast();
            if (b == null) {
                b = ByteBuffer.allocate(size);
            }
        }
        accumulationInUse++;
        account.charge(b.capacity());
        return b;
    }

    /** Takes back a buffer from {@link #takeAccumulation}; the caller must drop every reference to it. */
    void giveAccumulation(ByteBuffer b, MemoryAccount account) {
        accumulationInUse--;
        int size = b.capacity();
        account.release(size);
        if (size <= MAX_RETAINED_ACCUMULATION_CLASS && size == sizeClass(size)) {
            ArrayDeque<ByteBuffer> list = freeAccumulation.get(classIndex(size));
            if (list.size() < RETAINED_BYTES_PER_CLASS / size) {
                b.clear();
                list.addLast(b);
            }
        }
    }

    static int sizeClass(int minCapacity) {
        return minCapacity <= MIN_ACCUMULATION_CLASS ? MIN_ACCUMULATION_CLASS
                : Integer.highestOneBit(minCapacity - 1) << 1;
    }

    private static int classIndex(int size) {
        return Integer.numberOfTrailingZeros(size) - Integer.numberOfTrailingZeros(MIN_ACCUMULATION_CLASS);
    }

    /** Accumulation buffers currently held by decoders (for tests and leak checks). */
    int accumulationInUse() {
        return accumulationInUse;
    }

    /** Accumulation buffers kept for reuse, across all size classes (tests). */
    int accumulationRetained() {
        int n = 0;
        for (ArrayDeque<ByteBuffer> list : freeAccumulation) {
            n += list.size();
        }
        return n;
    }

    /** Direct chunks ever made (tests prove a burst does not grow direct memory). */
    int directChunks() {
        return directChunks;
    }

    void clear() {
        free.clear();
        for (ArrayDeque<ByteBuffer> list : freeAccumulation) {
            list.clear();
        }
    }
}
