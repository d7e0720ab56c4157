package io.selectloop;

import java.time.Duration;

/**
 * Settings for stream connections and the servers that accept them. Immutable, so any
 * thread may use one; build one with {@link #builder()}. The defaults are the safe ones:
 * Nagle off, back-pressure on, a hard cap on pending output.
 *
 * <pre>{@code
 * StreamOptions options = StreamOptions.builder()
 *         .watermarks(64 * 1024, 256 * 1024)
 *         .maxPendingWriteBytes(4 << 20)
 *         .build();
 * }</pre>
 */
public final class StreamOptions {
    /** Idle timeouts beyond this (about 100 years) are treated as this, so deadlines never overflow. */
    private static final Duration MAX_IDLE = Duration.ofDays(36_500);
    /** nginx's send_timeout: long enough for any live peer's window to open again. */
    static final Duration DEFAULT_WRITE_STALL = Duration.ofSeconds(60);
    /** A close that still trickles out after this long is serving a peer too slow to keep. */
    static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(60);
    /** go-proxyproto's default: HAProxy sends its header with the connection, so this is generous. */
    static final Duration DEFAULT_PROXY_HEADER_TIMEOUT = Duration.ofSeconds(10);
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
    private final long readIdleNanos;
    private final long writeIdleNanos;
    private final long allIdleNanos;
    private final int maxConnections;
    private final long writeStallNanos;
    private final long closeTimeoutNanos;
    private final OverLimit overLimit;
    private final byte[] overLimitMessage;
    // TLS (issue 10): null for plain connections.
    private final TlsOptions tls;
    // -- scale-out options (issue 12): SO_REUSEPORT, group accepting, PROXY protocol
    private final boolean reusePort;
    private final GroupAccept groupAccept;
    private final ProxyProtocol proxyProtocol;
    private final long proxyHeaderTimeoutNanos;

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
        readIdleNanos = b.readIdleNanos;
        writeIdleNanos = b.writeIdleNanos;
        allIdleNanos = b.allIdleNanos;
        maxConnections = b.maxConnections;
        writeStallNanos = b.writeStallNanos;
        closeTimeoutNanos = b.closeTimeoutNanos;
        overLimit = b.overLimit;
        overLimitMessage = b.overLimitMessage.clone();
        tls = b.tls;
        reusePort = b.reusePort;
        groupAccept = b.groupAccept;
        proxyProtocol = b.proxyProtocol;
        proxyHeaderTimeoutNanos = b.proxyHeaderTimeoutNanos;
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
                .maxReadsPerWakeup(maxReadsPerWakeup).maxAcceptsPerWakeup(maxAcceptsPerWakeup)
                .readIdleTimeout(Duration.ofNanos(readIdleNanos)).writeIdleTimeout(Duration.ofNanos(writeIdleNanos))
                .allIdleTimeout(Duration.ofNanos(allIdleNanos)).maxConnections(maxConnections)
                .writeStallTimeout(Duration.ofNanos(writeStallNanos)).closeTimeout(Duration.ofNanos(closeTimeoutNanos))
                .overLimit(overLimit).overLimitMessage(overLimitMessage)
                .tls(tls)
                .reusePort(reusePort).groupAccept(groupAccept).proxyProtocol(proxyProtocol)
                .proxyHeaderTimeout(Duration.ofNanos(proxyHeaderTimeoutNanos));
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
    /** {@link Duration#ZERO} when off. */
    public Duration readIdleTimeout() { return Duration.ofNanos(readIdleNanos); }
    /** {@link Duration#ZERO} when off. */
    public Duration writeIdleTimeout() { return Duration.ofNanos(writeIdleNanos); }
    /** {@link Duration#ZERO} when off. */
    public Duration allIdleTimeout() { return Duration.ofNanos(allIdleNanos); }
    /** 0 when unlimited. */
    public int maxConnections() { return maxConnections; }
    /** {@link Duration#ZERO} when off. */
    public Duration writeStallTimeout() { return Duration.ofNanos(writeStallNanos); }
    /** {@link Duration#ZERO} when off. */
    public Duration closeTimeout() { return Duration.ofNanos(closeTimeoutNanos); }
    public OverLimit overLimit() { return overLimit; }
    /** A copy; empty when none. */
    public byte[] overLimitMessage() { return overLimitMessage.clone(); }
    /** The TLS settings; null for plain (unencrypted) connections. */
    public TlsOptions tls() { return tls; }
    public boolean reusePort() { return reusePort; }
    public GroupAccept groupAccept() { return groupAccept; }
    public ProxyProtocol proxyProtocol() { return proxyProtocol; }
    public Duration proxyHeaderTimeout() { return Duration.ofNanos(proxyHeaderTimeoutNanos); }
    long proxyHeaderTimeoutNanos() { return proxyHeaderTimeoutNanos; }

    long readIdleNanos() { return readIdleNanos; }
    long writeIdleNanos() { return writeIdleNanos; }
    long allIdleNanos() { return allIdleNanos; }
    long writeStallNanos() { return writeStallNanos; }
    long closeTimeoutNanos() { return closeTimeoutNanos; }

    boolean hasIdleTimeout() {
        return readIdleNanos > 0 || writeIdleNanos > 0 || allIdleNanos > 0;
    }

    @Override
    public String toString() {
        return "StreamOptions[tcpNoDelay=" + tcpNoDelay + ", keepAlive=" + keepAlive + ", reuseAddress=" + reuseAddress
                + ", receiveBufferSize=" + receiveBufferSize + ", sendBufferSize=" + sendBufferSize
                + ", backlog=" + backlog + ", watermarks=" + lowWatermark + "/" + highWatermark
                + ", maxPendingWriteBytes=" + maxPendingWriteBytes
                + ", pauseReadingWhenUnwritable=" + pauseReadingWhenUnwritable
                + ", maxReadsPerWakeup=" + maxReadsPerWakeup + ", maxAcceptsPerWakeup=" + maxAcceptsPerWakeup
                + ", idleTimeouts(read/write/all)=" + readIdleTimeout() + "/" + writeIdleTimeout() + "/" + allIdleTimeout()
                + ", maxConnections=" + maxConnections + ", writeStallTimeout=" + writeStallTimeout()
                + ", closeTimeout=" + closeTimeout() + ", overLimit=" + overLimit
                + (tls != null ? ", tls=" + tls : "")
                + ", reusePort=" + reusePort + ", groupAccept=" + groupAccept + ", proxyProtocol=" + proxyProtocol
                + ", proxyHeaderTimeout=" + proxyHeaderTimeout() + "]";
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
        private long readIdleNanos;
        private long writeIdleNanos;
        private long allIdleNanos;
        private int maxConnections;
        private long writeStallNanos = DEFAULT_WRITE_STALL.toNanos();
        private long closeTimeoutNanos = DEFAULT_CLOSE_TIMEOUT.toNanos();
        private OverLimit overLimit = OverLimit.WAIT;
        private byte[] overLimitMessage = new byte[0];
        private TlsOptions tls;
        private boolean reusePort;
        private GroupAccept groupAccept = GroupAccept.HAND_OFF;
        private ProxyProtocol proxyProtocol = ProxyProtocol.OFF;
        private long proxyHeaderTimeoutNanos = DEFAULT_PROXY_HEADER_TIMEOUT.toNanos();

        private Builder() {
        }

        /**
         * Speak TLS on these connections ({@link TlsOptions#server} for a server,
         * {@link TlsOptions#client} for a client); null, the default, for plain ones. The
         * handler sees plaintext as without TLS, and {@link Handler#onOpen} runs once the
         * handshake is done. {@link Connection#sendFile} still works, but its bytes pass
         * through the engine: zero-copy is impossible under TLS.
         */
        public Builder tls(TlsOptions options) {
            tls = options;
            return this;
        }

        // -- scale-out options (issue 12) --------------------------------------------

        /**
         * SO_REUSEPORT on TCP servers: several sockets, in this process or others of the
         * same user, may listen on one port, and the kernel spreads new connections over
         * them (Linux hashes each connection's addresses and ports). Lets a new process
         * start on the port before the old one stops (README, zero-downtime restart).
         * Default false. Ignored for Unix domain sockets. Where the platform lacks the
         * option, {@code bind} fails with {@link UnsupportedOperationException}.
         */
        public Builder reusePort(boolean on) {
            reusePort = on;
            return this;
        }

        /**
         * How a server bound to an {@link EventLoopGroup} spreads connections over its
         * loops; see {@link GroupAccept}. Default {@link GroupAccept#HAND_OFF}, which did
         * somewhat better on connection churn when measured (bench/README.md, "Scale-out").
         * Ignored for a server on a single loop.
         */
        public Builder groupAccept(GroupAccept mode) {
            groupAccept = java.util.Objects.requireNonNull(mode, "mode");
            return this;
        }

        /**
         * Whether accepted connections start with a PROXY protocol header (v1 or v2, as
         * HAProxy's {@code send-proxy} / {@code send-proxy-v2} sends it). Default
         * {@link ProxyProtocol#OFF}. Servers only. See {@link ProxyProtocol}.
         */
        public Builder proxyProtocol(ProxyProtocol mode) {
            proxyProtocol = java.util.Objects.requireNonNull(mode, "mode");
            return this;
        }

        /**
         * How long an accepted connection may take to deliver its whole PROXY header before
         * it is closed with a {@link ProxyProtocolException}; meanwhile the handler has not
         * been opened. Default 10 s; must be positive (every wait has a deadline).
         */
        public Builder proxyHeaderTimeout(Duration timeout) {
            long nanos = timeoutNanos(timeout, "proxyHeaderTimeout");
            if (nanos == 0) {
                throw new IllegalArgumentException("proxyHeaderTimeout must be positive: a header wait needs a deadline");
            }
            proxyHeaderTimeoutNanos = nanos;
            return this;
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

        /**
         * Calls {@link Handler#onIdle} with {@link IdleKind#READ} when nothing has been
         * read for this long (the default handler closes the connection), and again after
         * each further such period. {@link Duration#ZERO}, the default, turns it off.
         * Checked with the loop's timers, to the millisecond; see {@link IdleKind}.
         */
        public Builder readIdleTimeout(Duration timeout) {
            readIdleNanos = timeoutNanos(timeout, "readIdleTimeout");
            return this;
        }

        /** As {@link #readIdleTimeout}, for nothing written to the socket ({@link IdleKind#WRITE}). Default off. */
        public Builder writeIdleTimeout(Duration timeout) {
            writeIdleNanos = timeoutNanos(timeout, "writeIdleTimeout");
            return this;
        }

        /** As {@link #readIdleTimeout}, for nothing read nor written ({@link IdleKind#ALL}). Default off. */
        public Builder allIdleTimeout(Duration timeout) {
            allIdleNanos = timeoutNanos(timeout, "allIdleTimeout");
            return this;
        }

        /**
         * Most connections a server keeps open at once; 0, the default, means no limit.
         * At the limit, by default ({@link OverLimit#WAIT}), the server stops accepting, so
         * further peers wait in the listen backlog (as with nginx and HAProxy) and are
         * accepted, oldest first, as connections close; see {@link #overLimit} to reject
         * them at once instead. Servers only; ignored for client connections.
         */
        public Builder maxConnections(int connections) {
            maxConnections = requireAtLeast(connections, 0, "maxConnections");
            return this;
        }

        /**
         * What the server does with a peer that connects while {@link #maxConnections} are
         * open: {@link OverLimit#WAIT} (the default) leaves it in the listen backlog,
         * {@link OverLimit#REJECT} accepts it and closes it at once, after writing
         * {@link #overLimitMessage} if set. Servers only.
         */
        public Builder overLimit(OverLimit policy) {
            overLimit = java.util.Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Bytes written to a peer rejected over the limit before it is closed (such as
         * {@code busy\n}); at most 1,024 bytes, written once without waiting. Default none.
         * Not sent to TLS peers, to whom plaintext would be garbage: they see the close only.
         */
        public Builder overLimitMessage(byte[] message) {
            if (message.length > 1024) {
                throw new IllegalArgumentException("overLimitMessage is " + message.length + " bytes; at most 1024");
            }
            overLimitMessage = message.clone();
            return this;
        }

        /**
         * Closes a connection whose queued output makes no progress for this long: the
         * socket takes not one byte of it (the peer stopped reading, or vanished without a
         * reset). The connection is aborted with a {@link WriteTimeoutException} and its
         * output dropped, so a peer that never reads cannot hold a connection and its
         * output forever. Progress of any size restarts the clock. Default 60 s (nginx's
         * {@code send_timeout}); {@link Duration#ZERO} turns it off.
         */
        public Builder writeStallTimeout(Duration timeout) {
            writeStallNanos = timeoutNanos(timeout, "writeStallTimeout");
            return this;
        }

        /**
         * How long {@link Connection#close()} may wait for pending output to drain; past
         * it the connection is aborted (reset) with a {@link WriteTimeoutException}, so a
         * peer that reads a trickle cannot keep a closing connection for hours. Default
         * 60 s; {@link Duration#ZERO} waits for as long as output keeps moving (the write
         * stall timeout still applies).
         */
        public Builder closeTimeout(Duration timeout) {
            closeTimeoutNanos = timeoutNanos(timeout, "closeTimeout");
            return this;
        }

        private static long timeoutNanos(Duration timeout, String what) {
            if (timeout == null || timeout.isNegative()) {
                throw new IllegalArgumentException(what + " must be zero (off) or positive, was " + timeout);
            }
            return timeout.compareTo(MAX_IDLE) > 0 ? MAX_IDLE.toNanos() : timeout.toNanos();
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
