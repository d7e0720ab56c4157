package io.selectloop;

import java.io.IOException;

/**
 * A connection's pending output would have exceeded {@code maxPendingWriteBytes}, so
 * it was closed rather than let a peer that does not read grow the heap without bound.
 */
public final class WriteLimitExceededException extends IOException {
    private final long limit;
    private final long attempted;

    public WriteLimitExceededException(long limit, long attempted) {
        super("pending output would reach " + attempted + " bytes, over maxPendingWriteBytes " + limit
                + "; the peer is not reading fast enough (watch onWritabilityChanged)");
        this.limit = limit;
        this.attempted = attempted;
    }

    public long limit() {
        return limit;
    }

    public long attempted() {
        return attempted;
    }
}
