package io.selectloop;

/** A connection with output queued during this iteration, flushed in the loop's last phase. */
interface PendingFlush {
    void flushPending();
}
