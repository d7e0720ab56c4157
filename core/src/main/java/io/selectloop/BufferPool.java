package io.selectloop;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * Per-loop free list of fixed-size direct chunks for outbound data. Only the loop
 * thread touches it, so there are no locks and no reference counts: a chunk belongs
 * to exactly one connection's queue until it is drained, then comes straight back.
 */
final class BufferPool {
    static final int CHUNK_SIZE = 16 * 1024;
    /** Chunks kept for reuse; beyond this, drained chunks are left to the GC. */
    static final int MAX_RETAINED = 256;

    /** A direct buffer seen through two cursors: one to append, one to drain. */
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

        int append(byte[] src, int offset, int length) {
            int n = Math.min(length, fill.remaining());
            fill.put(src, offset, n);
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

    private final ArrayDeque<Chunk> free = new ArrayDeque<>();
    private int inUse;

    Chunk take() {
        Chunk c = free.pollLast();
        if (c == null) {
            c = new Chunk(ByteBuffer.allocateDirect(CHUNK_SIZE));
        }
        inUse++;
        return c;
    }

    void give(Chunk c) {
        inUse--;
        if (free.size() < MAX_RETAINED) {
            c.reset();
            free.addLast(c);
        }
    }

    /** Chunks currently held by connections (for tests and leak checks). */
    int inUse() {
        return inUse;
    }

    int retained() {
        return free.size();
    }

    void clear() {
        free.clear();
    }
}
