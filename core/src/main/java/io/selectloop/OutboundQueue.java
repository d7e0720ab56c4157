package io.selectloop;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * One connection's output, in order: copied bytes in pooled chunks, and file regions
 * from {@link Connection#sendFile}. Loop thread only, except that other threads read the
 * byte counts (to check the cap and writability before they hand a write over).
 */
final class OutboundQueue {
    /** Write calls per flush before yielding to other connections. */
    private static final int WRITE_SPIN_LIMIT = 16;

    /** A slice of a file waiting in the queue. */
    private static final class FileRegion {
        final FileChannel file;
        long position;
        long remaining;

        FileRegion(FileChannel file, long position, long count) {
            this.file = file;
            this.position = position;
            this.remaining = count;
        }
    }

    private final BufferPool pool;
    private final MemoryAccount memory;
    /** BufferPool.Chunk or FileRegion; created on first use, so an idle connection holds none. */
    private ArrayDeque<Object> items;
    /** Bytes in chunks: memory, which the cap bounds. */
    private volatile long bufferedBytes;
    /** Bytes in chunks and file regions: what the watermarks pace. */
    private volatile long pendingBytes;

    OutboundQueue(BufferPool pool, MemoryAccount memory) {
        this.pool = pool;
        this.memory = memory;
    }

    boolean isEmpty() {
        return items == null || items.isEmpty();
    }

    /** Any thread. */
    long bufferedBytes() {
        return bufferedBytes;
    }

    /** Any thread. */
    long pendingBytes() {
        return pendingBytes;
    }

    /** Copies what remains of {@code src} to the tail. */
    void append(ByteBuffer src) {
        int length = src.remaining();
        if (items == null) {
            items = new ArrayDeque<>(4);
        }
        Object tail = items.peekLast();
        BufferPool.Chunk chunk = tail instanceof BufferPool.Chunk ? (BufferPool.Chunk) tail : null;
        while (src.hasRemaining()) {
            if (chunk == null || !chunk.hasRoom()) {
                chunk = pool.take(memory);
                items.addLast(chunk);
            }
            chunk.append(src);
        }
        bufferedBytes += length;
        pendingBytes += length;
    }

    void appendFile(FileChannel file, long position, long count) {
        if (items == null) {
            items = new ArrayDeque<>(4);
        }
        items.addLast(new FileRegion(file, position, count));
        pendingBytes += count;
    }

    /**
     * Writes as much as the socket takes now, gathering chunks into one write call.
     *
     * @return the bytes written
     * @throws EOFException if a file region's file ended before the promised count
     */
    long writeTo(SocketChannel channel, ByteBuffer[] gather) throws IOException {
        long total = 0;
        for (int spin = 0; spin < WRITE_SPIN_LIMIT && !isEmpty(); spin++) {
            Object head = items.peekFirst();
            if (head instanceof FileRegion) {
                FileRegion region = (FileRegion) head;
                long n = region.file.transferTo(region.position, region.remaining, channel);
                if (n == 0 && region.position >= region.file.size()) {
                    throw new EOFException("sendFile: the file ended at " + region.position + " with "
                            + region.remaining + " bytes still to send");
                }
                region.position += n;
                region.remaining -= n;
                pendingBytes -= n;
                total += n;
                if (region.remaining == 0) {
                    items.pollFirst();
                } else if (n == 0) {
                    return total; // socket full
                }
                continue;
            }
            int count = 0;
            long attempted = 0;
            for (Object o : items) {
                if (!(o instanceof BufferPool.Chunk) || count == gather.length) {
                    break;
                }
                ByteBuffer b = ((BufferPool.Chunk) o).drain;
                gather[count++] = b;
                attempted += b.remaining();
            }
            long n;
            try {
                // One chunk (the usual case for a small echo) goes out with write(2): the
                // JDK's gathering path adds a thread-local iovec lookup and writev(2) for nothing.
                n = count == 1 ? channel.write(gather[0]) : channel.write(gather, 0, count);
            } finally {
                Arrays.fill(gather, 0, count, null);
            }
            bufferedBytes -= n;
            pendingBytes -= n;
            total += n;
            while (!items.isEmpty() && items.peekFirst() instanceof BufferPool.Chunk
                    && ((BufferPool.Chunk) items.peekFirst()).readable() == 0) {
                pool.give((BufferPool.Chunk) items.pollFirst(), memory);
            }
            if (n < attempted) {
                return total; // socket full
            }
        }
        return total;
    }

    // ---------------------------------------------------------------- TLS (issue 10)
    // The engine, not the socket, takes the plaintext: TlsSession peeks at the head,
    // wraps what it can, and reports how much was taken.

    /** The readable chunks at the head (stopping at a file region), at most {@code gather.length}; how many. */
    int peekChunks(ByteBuffer[] gather) {
        int count = 0;
        if (items != null) {
            for (Object o : items) {
                if (!(o instanceof BufferPool.Chunk) || count == gather.length) {
                    break;
                }
                gather[count++] = ((BufferPool.Chunk) o).drain;
            }
        }
        return count;
    }

    /**
     * Reads the file region at the head into {@code dst} (from its position on, without
     * moving it: {@link #consumed} does).
     *
     * @return the bytes read, or -1 if the head is not a file region
     * @throws EOFException if the file ended before the promised count
     */
    int readFileHead(ByteBuffer dst) throws IOException {
        Object head = items == null ? null : items.peekFirst();
        if (!(head instanceof FileRegion)) {
            return -1;
        }
        FileRegion region = (FileRegion) head;
        if (dst.remaining() > region.remaining) {
            dst.limit(dst.position() + (int) region.remaining);
        }
        int n = region.file.read(dst, region.position);
        if (n <= 0) {
            throw new EOFException("sendFile: the file ended at " + region.position + " with "
                    + region.remaining + " bytes still to send");
        }
        return n;
    }

    /** {@code n} bytes at the head went into the engine: account for them and give back drained chunks. */
    void consumed(long n) {
        bufferedBytesOrRegion(n);
        pendingBytes -= n;
        while (!isEmpty()) {
            Object head = items.peekFirst();
            if (head instanceof BufferPool.Chunk && ((BufferPool.Chunk) head).readable() == 0) {
                pool.give((BufferPool.Chunk) items.pollFirst(), memory);
            } else if (head instanceof FileRegion && ((FileRegion) head).remaining == 0) {
                items.pollFirst();
            } else {
                break;
            }
        }
    }

    private void bufferedBytesOrRegion(long n) {
        Object head = items.peekFirst();
        if (head instanceof FileRegion) {
            FileRegion region = (FileRegion) head;
            region.position += n;
            region.remaining -= n;
        } else {
            bufferedBytes -= n;
        }
    }

    /** Drops everything queued and gives the chunks back. */
    void release() {
        if (items != null) {
            Object o;
            while ((o = items.pollFirst()) != null) {
                if (o instanceof BufferPool.Chunk) {
                    pool.give((BufferPool.Chunk) o, memory);
                }
            }
        }
        bufferedBytes = 0;
        pendingBytes = 0;
    }
}
