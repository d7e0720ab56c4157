package io.selectloop;

/**
 * A connection with output queued during this iteration. The loop runs its deferred
 * flush once, in the iteration's last phase, so many writes cost one gathering write.
 */
interface DeferredFlush {
    void runDeferredFlush();
}
