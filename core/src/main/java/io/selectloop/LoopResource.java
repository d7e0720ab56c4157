package io.selectloop;

/**
 * Something the loop owns that takes part in graceful shutdown: servers stop
 * accepting, connections flush and close. Package-private on purpose: users
 * see only {@link EventLoop#shutdownGracefully(java.time.Duration)}.
 */
interface LoopResource {
    /** Start an orderly close (idempotent). Called on the loop thread. */
    void beginGracefulClose();

    /**
     * Close now, dropping whatever is left: the shutdown deadline passed (cause null),
     * or this resource's I/O handler failed (the cause). Called on the loop thread.
     */
    void forceClose(Throwable causeOrNull);

    /** True once nothing of this resource is left open. */
    boolean isClosed();
}
