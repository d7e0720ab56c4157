package io.selectloop;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes that peers can make a loop hold — partial frames, queued output, output on
 * its way from other threads, queued datagrams — counted against one limit. A loop has
 * one; the loops of an {@link EventLoopGroup} share one. Set it with
 * {@link LoopOptions.Builder#memoryBudget(long)}; by default it is a quarter of the
 * smaller of the JVM's maximum heap and maximum direct memory, so that no peer
 * behaviour can exhaust either on default settings.
 *
 * <p>How a loop keeps to it (docs/ARCHITECTURE.md, "Memory budget"): from half the
 * limit on, a connection holding more than its {@linkplain #fairShare() fair share}
 * stops reading, and one holding less reads at most up to its share; over the limit,
 * the loop closes the largest holders above their fair share, biggest first, with a
 * {@link MemoryBudgetExceededException}, until the budget is back under three
 * quarters; and a connection that stays paused for memory longer than
 * {@link LoopOptions#memoryPressureTimeout()} while the pressure lasts is closed the
 * same way. A connection within its fair share is never closed for memory.
 *
 * <p>Every method may be called from any thread.
 */
public final class MemoryBudget {
    /** The fair share never falls below this: one output chunk's worth. */
    static final long MIN_FAIR_SHARE = 16 * 1024;

    private final long limit;
    private final long pressureTimeoutNanos;
    private final AtomicLong used = new AtomicLong();
    private final AtomicInteger connections = new AtomicInteger();
    private final List<EventLoop> loops = new CopyOnWriteArrayList<>();

    MemoryBudget(long limit) {
        this(limit, java.time.Duration.ofSeconds(10));
    }

    MemoryBudget(long limit, java.time.Duration pressureTimeout) {
        if (limit < 1) {
            throw new IllegalArgumentException("a memory budget must be at least 1 byte, was " + limit);
        }
        this.limit = limit;
        this.pressureTimeoutNanos = pressureTimeout.toNanos();
    }

    /**
     * The default limit: a quarter of the smaller of the maximum heap
     * ({@code -Xmx}) and the maximum direct memory ({@code -XX:MaxDirectMemorySize},
     * which defaults to the maximum heap). A quarter leaves the application the rest,
     * and room for the garbage that freed buffers are until a collection.
     */
    public static long defaultLimit() {
        long heap = Runtime.getRuntime().maxMemory();
        return Math.max(1, Math.min(heap, maxDirectMemory(heap)) / 4);
    }

    private static long maxDirectMemory(long heap) {
        try {
            String value = java.lang.management.ManagementFactory
                    .getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
                    .getVMOption("MaxDirectMemorySize").getValue();
            long bytes = Long.parseLong(value);
            return bytes > 0 ? bytes : heap; // 0: the JVM's default, the maximum heap
        } catch (Throwable notHotSpot) {
            return heap; // the same default on every JVM we know of
        }
    }

    /** The limit, in bytes. */
    public long limit() {
        return limit;
    }

    /** Bytes held now, across every loop that shares this budget. */
    public long used() {
        return used.get();
    }

    /**
     * What one connection may hold without ever being shed: an equal part of a quarter
     * of the limit, and at least 16 KiB. A quarter, so that every connection can hold its
     * share (even doubled by a buffer that grows in powers of two) before the loop sheds.
     */
    public long fairShare() {
        return Math.max(MIN_FAIR_SHARE, limit / (4L * Math.max(1, connections.get())));
    }

    /** Half the limit is held: connections over their fair share stop reading. */
    boolean underPressure() {
        return used.get() >= limit / 2;
    }

    /** Over the limit: the largest holders are closed. */
    boolean exceeded() {
        return used.get() > limit;
    }

    /** How long a connection may stay paused for memory, under pressure, before it is shed. */
    long pressureTimeoutNanos() {
        return pressureTimeoutNanos;
    }

    /** Where shedding stops. */
    long shedTarget() {
        return limit - limit / 4;
    }

    void charge(long bytes) {
        used.addAndGet(bytes);
    }

    void release(long bytes) {
        used.addAndGet(-bytes);
    }

    void connectionOpened() {
        connections.incrementAndGet();
    }

    void connectionClosed() {
        connections.decrementAndGet();
    }

    void attach(EventLoop loop) {
        loops.add(loop);
    }

    void detach(EventLoop loop) {
        loops.remove(loop);
    }

    /** The holders may live on other loops of the group: let each shed its own. */
    void askOtherLoopsToShed(EventLoop asking) {
        for (EventLoop loop : loops) {
            if (loop != asking) {
                loop.shedder().requestShed();
            }
        }
    }

    @Override
    public String toString() {
        return "MemoryBudget[used " + used.get() + " of " + limit + " bytes]";
    }
}
