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

    private LoopOptions(Builder b) {
        memoryBudget = b.memoryBudget;
        memoryPressureTimeout = b.memoryPressureTimeout;
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

    MemoryBudget newBudget() {
        return new MemoryBudget(memoryBudget > 0 ? memoryBudget : MemoryBudget.defaultLimit(), memoryPressureTimeout);
    }

    @Override
    public String toString() {
        return "LoopOptions[memoryBudget=" + (memoryBudget > 0 ? memoryBudget : "default")
                + ", memoryPressureTimeout=" + memoryPressureTimeout + "]";
    }

    /** Builds {@link LoopOptions}. Not thread-safe; build on one thread. */
    public static final class Builder {
        private long memoryBudget;
        private Duration memoryPressureTimeout = Duration.ofSeconds(10);

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

        public LoopOptions build() {
            return new LoopOptions(this);
        }
    }
}
