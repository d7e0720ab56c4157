package io.selectloop;

import java.io.IOException;

/**
 * Why a stream connection closed, as the metrics count it ({@link StreamMetrics#closed(CloseCause)}).
 * The {@code onClose} cause says the same thing in detail; this is its category.
 *
 * <p>New transports add their own constants (say a TLS handshake failure): add the constant
 * with its label, and the line in {@link #of} that recognises its exception. Counters are
 * kept per constant, in order, so nothing else needs to change.
 */
public enum CloseCause {
    /** The application closed or aborted it, with no error. */
    LOCAL("local"),
    /** The peer ended its output, or reset the connection (or another socket error). */
    PEER("peer"),
    /** An idle timeout ({@link StreamOptions.Builder#allIdleTimeout} and the like). */
    IDLE("idle"),
    /** Output made no progress (writeStallTimeout), or a close could not flush in time (closeTimeout). */
    STALL("stall"),
    /** A per-connection limit: more pending output than {@code maxPendingWriteBytes}. */
    LIMIT("limit"),
    /** The peer broke the framing ({@link FramingException}). */
    FRAMING("framing_error"),
    /** Shed to keep the loop within its memory budget. */
    SHED("shed"),
    /** TLS failed: a bad or unfinished handshake, a broken record, garbage after close_notify. */
    TLS("tls_error"),
    /** A PROXY protocol header was malformed, missing where required, or too slow to arrive. */
    PROXY_HEADER("proxy_header_error"),
    /** A handler callback threw. */
    HANDLER("handler_error"),
    /** Closed by the loop's shutdown (or its failure) rather than by either side. */
    SHUTDOWN("shutdown"),
    /** selectloop or the JDK failed unexpectedly on this connection (logged at ERROR). */
    INTERNAL("internal_error");

    private static final CloseCause[] VALUES = values();
    private final String label;

    CloseCause(String label) {
        this.label = label;
    }

    /** A lower-case name for metric labels, such as {@code framing_error}. */
    public String label() {
        return label;
    }

    static int count() {
        return VALUES.length;
    }

    static CloseCause at(int ordinal) {
        return VALUES[ordinal];
    }

    /**
     * The category of an {@code onClose} cause, for closes that did not say theirs
     * explicitly. {@code peerEnded}: the peer had shut its output before the close.
     */
    static CloseCause of(Throwable cause, boolean peerEnded) {
        if (cause == null) {
            return peerEnded ? PEER : LOCAL;
        }
        if (cause instanceof FramingException) {
            return FRAMING;
        }
        if (cause instanceof IdleTimeoutException) {
            return IDLE;
        }
        if (cause instanceof WriteTimeoutException) {
            return STALL;
        }
        if (cause instanceof WriteLimitExceededException) {
            return LIMIT;
        }
        if (cause instanceof MemoryBudgetExceededException) {
            return SHED;
        }
        if (cause instanceof javax.net.ssl.SSLException) {
            return TLS;
        }
        if (cause instanceof ProxyProtocolException) {
            return PROXY_HEADER;
        }
        if (cause instanceof IOException) {
            return PEER; // resets, broken pipes: the socket's own errors
        }
        return INTERNAL;
    }
}
