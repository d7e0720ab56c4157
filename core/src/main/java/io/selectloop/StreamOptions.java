package io.selectloop;

/**
 * Settings for stream connections and the servers that accept them. Immutable; build
 * one with {@link #builder()}. The defaults are the safe ones: Nagle off, back-pressure
 * on, a hard cap on pending output.
 *
 * <pre>{@code
 * StreamOptions options = StreamOptions.builder()
 *         .watermarks(64 * 1024, 256 * 1024)
 *         .maxPendingWriteBytes(4 << 20)
 *         .build();
 * }</pre>
 */
public final class StreamOptions {
    private static final StreamOptions DEFAULTS = builder().build();

    private final boolean tcpNoDelay;
    private final boolean keepAlive;
    private final boolean reuseAddress;
    private final int receiveBufferSize;
    private final int sendBufferSize;
    private final int backlog;
    private final int lowWatermark;
    private final int highWatermark;
    private final long maxPendingWriteBytes;
    private final boolean pauseReadingWhenUnwritable;
    private final int maxReadsPerWakeup;
    private final int maxAcceptsPerWakeup;

    private StreamOptions(Builder b) {
        tcpNoDelay = b.tcpNoDelay;
        keepAlive = b.keepAlive;
        reuseAddress = b.reuseAddress;
        receiveBufferSize = b.receiveBufferSize;
        sendBufferSize = b.sendBufferSize;
        backlog = b.backlog;
        lowWatermark = b.lowWatermark;
        highWatermark = b.highWatermark;
        maxPendingWriteBytes = b.maxPendingWriteBytes;
        pauseReadingWhenUnwritable = b.pauseReadingWhenUnwritable;
        maxReadsPerWakeup = b.maxReadsPerWakeup;
        maxAcceptsPerWakeup = b.maxAcceptsPerWakeup;
    }

    /** The defaults listed on each {@link Builder} method. */
    public static StreamOptions defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these settings. */
    public Builder toBuilder() {
        return new Builder()
                .tcpNoDelay(tcpNoDelay).keepAlive(keepAlive).reuseAddress(reuseAddress)
                .receiveBufferSize(receiveBufferSize).sendBufferSize(sendBufferSize).backlog(backlog)
                .watermarks(lowWatermark, highWatermark).maxPendingWriteBytes(maxPendingWriteBytes)
                .pauseReadingWhenUnwritable(pauseReadingWhenUnwritable)
                .maxReadsPerWakeup(maxReadsPerWakeup).maxAcceptsPerWakeup(maxAcceptsPerWakeup);
    }

    public boolean tcpNoDelay() { return tcpNoDelay; }
    public boolean keepAlive() { return keepAlive; }
    public boolean reuseAddress() { return reuseAddress; }
    public int receiveBufferSize() { return receiveBufferSize; }
    public int sendBufferSize() { return sendBufferSize; }
    public int backlog() { return backlog; }
    public int lowWatermark() { return lowWatermark; }
    public int highWatermark() { return highWatermark; }
    public long maxPendingWriteBytes() { return maxPendingWriteBytes; }
    public boolean pauseReadingWhenUnwritable() { return pauseReadingWhenUnwritable; }
    public int maxReadsPerWakeup() { return maxReadsPerWakeup; }
    public int maxAcceptsPerWakeup() { return maxAcceptsPerWakeup; }

    @Override
    public String toString() {
        return "StreamOptions[tcpNoDelay=" + tcpNoDelay + ", keepAlive=" + keepAlive + ", reuseAddress=" + reuseAddress
                + ", receiveBufferSize=" + receiveBufferSize + ", sendBufferSize=" + sendBufferSize
                + ", backlog=" + backlog + ", watermarks=" + lowWatermark + "/" + highWatermark
                + ", maxPendingWriteBytes=" + maxPendingWriteBytes
                + ", pauseReadingWhenUnwritable=" + pauseReadingWhenUnwritable
                + ", maxReadsPerWakeup=" + maxReadsPerWakeup + ", maxAcceptsPerWakeup=" + maxAcceptsPerWakeup + "]";
    }

    /** Builds {@link StreamOptions}. Not thread-safe; build on one thread. */
    public static final class Builder {
        private boolean tcpNoDelay = true;
        private boolean keepAlive = false;
        private boolean reuseAddress = true;
        private int receiveBufferSize = 0;
        private int sendBufferSize = 0;
        private int backlog = 1024;
        private int lowWatermark = 32 * 1024;
        private int highWatermark = 64 * 1024;
        private long maxPendingWriteBytes = 16L * 1024 * 1024;
        private boolean pauseReadingWhenUnwritable = true;
        private int maxReadsPerWakeup = 16;
        private int maxAcceptsPerWakeup = 64;

        private Builder() {
        }

        /** TCP_NODELAY on accepted/connected TCP sockets. Default true. Ignored for Unix domain sockets. */
        public Builder tcpNoDelay(boolean on) {
            tcpNoDelay = on;
            return this;
        }

        /** SO_KEEPALIVE on TCP sockets. Default false. */
        public Builder keepAlive(boolean on) {
            keepAlive = on;
            return this;
        }

        /** SO_REUSEADDR on TCP servers. Default true, so a restarted server can bind at once. */
        public Builder reuseAddress(boolean on) {
            reuseAddress = on;
            return this;
        }

        /** SO_RCVBUF in bytes; 0 leaves the OS default (and its auto-tuning). Default 0. */
        public Builder receiveBufferSize(int bytes) {
            receiveBufferSize = requireAtLeast(bytes, 0, "receiveBufferSize");
            return this;
        }

        /** SO_SNDBUF in bytes; 0 leaves the OS default. Default 0. */
        public Builder sendBufferSize(int bytes) {
            sendBufferSize = requireAtLeast(bytes, 0, "sendBufferSize");
            return this;
        }

        /** Listen backlog (the kernel caps it at net.core.somaxconn). Default 1024. */
        public Builder backlog(int connections) {
            backlog = requireAtLeast(connections, 1, "backlog");
            return this;
        }

        /** Pending-output watermarks for {@link Handler#onWritabilityChanged}. Default 32 KiB / 64 KiB. */
        public Builder watermarks(int low, int high) {
            requireAtLeast(low, 0, "low watermark");
            if (high < low) {
                throw new IllegalArgumentException("high watermark " + high + " is below low watermark " + low);
            }
            lowWatermark = low;
            highWatermark = high;
            return this;
        }

        /**
         * Hard cap on buffered output per connection; a write past it closes the
         * connection with {@link WriteLimitExceededException}. Default 16 MiB.
         */
        public Builder maxPendingWriteBytes(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("maxPendingWriteBytes must be at least 1, was " + bytes);
            }
            maxPendingWriteBytes = bytes;
            return this;
        }

        /**
         * Stop reading while the connection is not writable, so a peer that sends but
         * does not read is held back by TCP flow control. Default true.
         */
        public Builder pauseReadingWhenUnwritable(boolean on) {
            pauseReadingWhenUnwritable = on;
            return this;
        }

        /** Reads per connection per loop wake-up, so one busy peer cannot starve the rest. Default 16. */
        public Builder maxReadsPerWakeup(int reads) {
            maxReadsPerWakeup = requireAtLeast(reads, 1, "maxReadsPerWakeup");
            return this;
        }

        /** Connections accepted per loop wake-up, so a connect storm cannot starve I/O. Default 64. */
        public Builder maxAcceptsPerWakeup(int accepts) {
            maxAcceptsPerWakeup = requireAtLeast(accepts, 1, "maxAcceptsPerWakeup");
            return this;
        }

        public StreamOptions build() {
            if (maxPendingWriteBytes < highWatermark) {
                throw new IllegalArgumentException("maxPendingWriteBytes " + maxPendingWriteBytes
                        + " is below the high watermark " + highWatermark);
            }
            return new StreamOptions(this);
        }

        private static int requireAtLeast(int value, int min, String what) {
            if (value < min) {
                throw new IllegalArgumentException(what + " must be at least " + min + ", was " + value);
            }
            return value;
        }
    }
}
