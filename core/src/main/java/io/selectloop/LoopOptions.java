package io.selectloop;

import java.time.Duration;

/**
 * Settings for an {@link EventLoop} or an {@link EventLoopGroup}. Immutable, so any
 * thread may use one; build one with {@link #builder()}.
 *
 * <pre>{@code
 * EventLoopGroup group = EventLoopGroup.start(4, "io",
 *         LoopOptions.builder().memoryBudget(512L << 20).build());
 * }</pre>
 */
public final class LoopOptions {
    private static final LoopOptions DEFAULTS = builder().build();

    private final long memoryBudget;
    private final Duration memoryPressureTimeout;
    private final Duration blockedThreshold; // [watchdog]

    private LoopOptions(Builder b) {
        memoryBudget = b.memoryBudget;
        memoryPressureTimeout = b.memoryPressureTimeout;
        blockedThreshold = b.blockedThreshold; // [watchdog]
    }

    /** The defaults listed on each {@link Builder} method. */
    public static LoopOptions defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The memory budget in bytes; 0 means {@link MemoryBudget#defaultLimit()}. */
    public long memoryBudget() {
        return memoryBudget;
    }

    /** How long a connection may stay paused for memory while the pressure lasts, before it is shed. */
    public Duration memoryPressureTimeout() {
        return memoryPressureTimeout;
    }

    /** How long one callback may run before the watchdog reports the loop as blocked; zero: not watched. */
    public Duration blockedThreshold() {
        return blockedThreshold;
    }

    MemoryBudget newBudget() {
        return new MemoryBudget(memoryBudget > 0 ? memoryBudget : MemoryBudget.defaultLimit(), memoryPressureTimeout);
    }

    @Override
    public String toString() {
        return "LoopOptions[memoryBudget=" + (memoryBudget > 0 ? memoryBudget : "default")
                + ", memoryPressureTimeout=" + memoryPressureTimeout + ", blockedThreshold=" + blockedThreshold + "]";
    }

    /** Builds {@link LoopOptions}. Not thread-safe; build on one thread. */
    public static final class Builder {
        private long memoryBudget;
        private Duration memoryPressureTimeout = Duration.ofSeconds(10);
        private Duration blockedThreshold = Duration.ofMillis(100); // [watchdog]

        private Builder() {
        }

        /**
         * The most bytes that peers can make the loop (or the group, which shares one
         * budget) hold at once; see {@link MemoryBudget}. 0, the default, means a quarter
         * of the smaller of the JVM's maximum heap and maximum direct memory.
         */
        public Builder memoryBudget(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("memoryBudget must be 0 (the default) or positive, was " + bytes);
            }
            memoryBudget = bytes;
            return this;
        }

        /**
         * How long a connection may stay paused for memory (the budget is under pressure and
         * it holds more than its fair share) before the loop sheds it, largest first, while
         * the pressure lasts. Pausing alone would let peers that vanished, or that never
         * finish their frame, keep the budget under pressure for good: a paused connection
         * does not even notice that its peer has gone. Default 10 s.
         */
        public Builder memoryPressureTimeout(Duration timeout) {
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("memoryPressureTimeout must be positive, was " + timeout);
            }
            memoryPressureTimeout = timeout;
            return this;
        }

        /**
         * The blocked-loop watchdog: a callback (a handler, a task, a timer) that runs longer
         * than this stalls every other connection of the loop, so it is logged once, at WARN,
         * with the loop thread's stack at that moment and how long the callback had been
         * running, and counted ({@link LoopMetrics#blockedIncidents()}). One daemon thread
         * watches every loop. Default 100 ms; {@link Duration#ZERO} turns it off for these
         * loops.
         */
        public Builder blockedThreshold(Duration threshold) {
            if (threshold == null || threshold.isNegative()) {
                throw new IllegalArgumentException("blockedThreshold must be zero (off) or positive, was " + threshold);
            }
            blockedThreshold = threshold;
            return this;
        }

        public LoopOptions build() {
            return new LoopOptions(this);
        }
    }
}
