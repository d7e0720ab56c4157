package io.selectloop;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The counters of the stream connections of one owner (a server, or a loop's clients) on
 * one loop. Written only by that loop's thread, as plain increments stored with opaque
 * writes: no fence on the hot path, and a reader on another thread never sees half of a
 * 64-bit value. Readers see values at most one iteration old (see {@link LoopCounters}).
 * The few writes other threads make (a write to a connection already closed) go to
 * atomics of their own.
 */
final class StreamCounters {
    private static final VarHandle OPENED, BYTES_READ, READS, BYTES_WRITTEN, WRITES, DROPPED_WRITES,
            DROPPED_BYTES, REJECTED;
    private static final VarHandle CLOSED = MethodHandles.arrayElementVarHandle(long[].class);

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            OPENED = l.findVarHandle(StreamCounters.class, "opened", long.class);
            BYTES_READ = l.findVarHandle(StreamCounters.class, "bytesRead", long.class);
            READS = l.findVarHandle(StreamCounters.class, "reads", long.class);
            BYTES_WRITTEN = l.findVarHandle(StreamCounters.class, "bytesWritten", long.class);
            WRITES = l.findVarHandle(StreamCounters.class, "writes", long.class);
            DROPPED_WRITES = l.findVarHandle(StreamCounters.class, "droppedWrites", long.class);
            DROPPED_BYTES = l.findVarHandle(StreamCounters.class, "droppedBytes", long.class);
            REJECTED = l.findVarHandle(StreamCounters.class, "rejected", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private long opened;
    private long bytesRead;
    private long reads;
    private long bytesWritten;
    private long writes;
    private long droppedWrites;
    private long droppedBytes;
    private long rejected;
    private final long[] closed = new long[CloseCause.count()];
    private final AtomicLong foreignDroppedWrites = new AtomicLong();
    private final AtomicLong foreignDroppedBytes = new AtomicLong();
    /** A server's connections (counted as accepted), not a loop's clients. */
    private final boolean accepting;

    StreamCounters(boolean accepting) {
        this.accepting = accepting;
    }

    // ------------------------------------------------------------------ loop thread

    void opened() {
        OPENED.setOpaque(this, opened + 1);
    }

    void closed(CloseCause cause) {
        int i = cause.ordinal();
        CLOSED.setOpaque(closed, i, closed[i] + 1);
    }

    void read(int bytes) {
        BYTES_READ.setOpaque(this, bytesRead + bytes);
        READS.setOpaque(this, reads + 1);
    }

    void wrote(long bytes) {
        BYTES_WRITTEN.setOpaque(this, bytesWritten + bytes);
        WRITES.setOpaque(this, writes + 1);
    }

    /** A write to a connection already closing or closed (or with its output shut): dropped. */
    void droppedWrite(long bytes) {
        DROPPED_WRITES.setOpaque(this, droppedWrites + 1);
        DROPPED_BYTES.setOpaque(this, droppedBytes + bytes);
    }

    /** A peer refused at maxConnections (accepting loop's thread). */
    void rejected() {
        REJECTED.setOpaque(this, rejected + 1);
    }

    // ------------------------------------------------------------------ any thread

    /** As {@link #droppedWrite}, from a thread other than the loop's. */
    void droppedForeignWrite(long bytes) {
        foreignDroppedWrites.incrementAndGet();
        foreignDroppedBytes.addAndGet(bytes);
    }

    /** Adds these counters into {@code into} (a snapshot being summed). Any thread. */
    void addTo(StreamMetrics.Sum into) {
        long opens = (long) OPENED.getOpaque(this);
        into.opened += opens;
        if (accepting) {
            into.accepted += opens;
        }
        into.bytesRead += (long) BYTES_READ.getOpaque(this);
        into.reads += (long) READS.getOpaque(this);
        into.bytesWritten += (long) BYTES_WRITTEN.getOpaque(this);
        into.writes += (long) WRITES.getOpaque(this);
        into.droppedWrites += (long) DROPPED_WRITES.getOpaque(this) + foreignDroppedWrites.get();
        into.droppedBytes += (long) DROPPED_BYTES.getOpaque(this) + foreignDroppedBytes.get();
        into.rejected += (long) REJECTED.getOpaque(this);
        for (int i = 0; i < closed.length; i++) {
            into.closed[i] += (long) CLOSED.getOpaque(closed, i);
        }
    }
}
