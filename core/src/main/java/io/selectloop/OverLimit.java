package io.selectloop;

/**
 * What a server does with peers that connect while it already has
 * {@link StreamOptions#maxConnections()} open: see {@link StreamOptions.Builder#overLimit}.
 */
public enum OverLimit {
    /**
     * Stop accepting: peers wait in the kernel's listen backlog and are accepted, oldest
     * first, as connections close (nginx, HAProxy and Go's LimitListener do this). A burst
     * slightly over the limit is served a moment later; a peer that waits too long sees an
     * ordinary connect or read timeout.
     */
    WAIT,
    /**
     * Accept and close at once, after writing {@link StreamOptions#overLimitMessage()} if
     * one is set (say {@code busy\n}): the peer learns immediately instead of hanging.
     */
    REJECT
}
