package io.selectloop;

/**
 * Settings for a {@link DatagramEndpoint}. Immutable; build one with {@link #builder()}.
 * The defaults never truncate a datagram and bound the send queue.
 *
 * <pre>{@code
 * DatagramOptions options = DatagramOptions.builder()
 *         .maxDatagramSize(1400)          // larger datagrams are counted and dropped
 *         .sendQueueCapacity(4096)
 *         .build();
 * }</pre>
 */
public final class DatagramOptions {
    /** No UDP payload is larger: the 16-bit length field counts the 8-byte header too (IPv4 carries at most 65,507). */
    static final int LARGEST_DATAGRAM = 65_535;
    private static final DatagramOptions DEFAULTS = builder().build();

    private final int maxDatagramSize;
    private final int sendQueueCapacity;
    private final int receiveBufferSize;
    private final int sendBufferSize;
    private final boolean reuseAddress;
    private final int maxReceivesPerWakeup;

    private DatagramOptions(Builder b) {
        maxDatagramSize = b.maxDatagramSize;
        sendQueueCapacity = b.sendQueueCapacity;
        receiveBufferSize = b.receiveBufferSize;
        sendBufferSize = b.sendBufferSize;
        reuseAddress = b.reuseAddress;
        maxReceivesPerWakeup = b.maxReceivesPerWakeup;
    }

    /** The defaults listed on each {@link Builder} method. */
    public static DatagramOptions defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these settings. */
    public Builder toBuilder() {
        return builder().maxDatagramSize(maxDatagramSize).sendQueueCapacity(sendQueueCapacity)
                .receiveBufferSize(receiveBufferSize).sendBufferSize(sendBufferSize)
                .reuseAddress(reuseAddress).maxReceivesPerWakeup(maxReceivesPerWakeup);
    }

    public int maxDatagramSize() { return maxDatagramSize; }
    public int sendQueueCapacity() { return sendQueueCapacity; }
    public int receiveBufferSize() { return receiveBufferSize; }
    public int sendBufferSize() { return sendBufferSize; }
    public boolean reuseAddress() { return reuseAddress; }
    public int maxReceivesPerWakeup() { return maxReceivesPerWakeup; }

    @Override
    public String toString() {
        return "DatagramOptions[maxDatagramSize=" + maxDatagramSize + ", sendQueueCapacity=" + sendQueueCapacity
                + ", receiveBufferSize=" + receiveBufferSize + ", sendBufferSize=" + sendBufferSize
                + ", reuseAddress=" + reuseAddress + ", maxReceivesPerWakeup=" + maxReceivesPerWakeup + "]";
    }

    /** Builds {@link DatagramOptions}. Not thread-safe; build on one thread. */
    public static final class Builder {
        private int maxDatagramSize = LARGEST_DATAGRAM;
        private int sendQueueCapacity = 1024;
        private int receiveBufferSize = 0;
        private int sendBufferSize = 0;
        private boolean reuseAddress = false;
        private int maxReceivesPerWakeup = 64;

        private Builder() {
        }

        /**
         * The largest datagram delivered to {@code onDatagram}, in bytes. A larger one is
         * detected (the endpoint receives into one byte more than this), counted in
         * {@link DatagramEndpoint#oversizedCount()} and dropped: never delivered cut short.
         * At most 65,535. Default 65,535, which no UDP datagram exceeds.
         */
        public Builder maxDatagramSize(int bytes) {
            if (bytes < 1 || bytes > LARGEST_DATAGRAM) {
                throw new IllegalArgumentException("maxDatagramSize must be 1.." + LARGEST_DATAGRAM + ", was " + bytes);
            }
            maxDatagramSize = bytes;
            return this;
        }

        /**
         * Datagrams that may wait to be sent: those handed over by other threads and not
         * yet sent, plus those waiting for room in a full socket buffer. Past it,
         * {@code send} drops the datagram, returns false and counts it in
         * {@link DatagramEndpoint#droppedSendCount()} (UDP may drop anyway; the heap must
         * not grow without bound). Default 1024.
         */
        public Builder sendQueueCapacity(int datagrams) {
            sendQueueCapacity = requireAtLeast(datagrams, 1, "sendQueueCapacity");
            return this;
        }

        /** SO_RCVBUF in bytes; 0 leaves the OS default. Default 0. */
        public Builder receiveBufferSize(int bytes) {
            receiveBufferSize = requireAtLeast(bytes, 0, "receiveBufferSize");
            return this;
        }

        /** SO_SNDBUF in bytes; 0 leaves the OS default. Default 0. */
        public Builder sendBufferSize(int bytes) {
            sendBufferSize = requireAtLeast(bytes, 0, "sendBufferSize");
            return this;
        }

        /** SO_REUSEADDR before binding. Default false. */
        public Builder reuseAddress(boolean on) {
            reuseAddress = on;
            return this;
        }

        /** Datagrams received per loop wake-up, so one busy endpoint cannot starve the rest. Default 64. */
        public Builder maxReceivesPerWakeup(int datagrams) {
            maxReceivesPerWakeup = requireAtLeast(datagrams, 1, "maxReceivesPerWakeup");
            return this;
        }

        public DatagramOptions build() {
            return new DatagramOptions(this);
        }

        private static int requireAtLeast(int value, int min, String what) {
            if (value < min) {
                throw new IllegalArgumentException(what + " must be at least " + min + ", was " + value);
            }
            return value;
        }
    }
}
