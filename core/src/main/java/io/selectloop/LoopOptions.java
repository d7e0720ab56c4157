package io.selectloop;

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

    private LoopOptions(Builder b) {
        memoryBudget = b.memoryBudget;
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

    MemoryBudget newBudget() {
        return new MemoryBudget(memoryBudget > 0 ? memoryBudget : MemoryBudget.defaultLimit());
    }

    @Override
    public String toString() {
        return "LoopOptions[memoryBudget=" + (memoryBudget > 0 ? memoryBudget : "default") + "]";
    }

    /** Builds {@link LoopOptions}. Not thread-safe; build on one thread. */
    public static final class Builder {
        private long memoryBudget;

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

        public LoopOptions build() {
            return new LoopOptions(this);
        }
    }
}
