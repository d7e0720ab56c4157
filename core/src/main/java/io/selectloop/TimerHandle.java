package io.selectloop;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * A task scheduled with {@link EventLoop#schedule(Runnable, long, TimeUnit)}: what
 * asyncio calls a {@code TimerHandle}. Every method may be called from any thread.
 */
public final class TimerHandle {
    private static final int PENDING = 0, CANCELLED = 1, FIRED = 2;
    private static final AtomicIntegerFieldUpdater<TimerHandle> STATE =
            AtomicIntegerFieldUpdater.newUpdater(TimerHandle.class, "state");

    final EventLoop loop;
    final Runnable task;
    /** Nanoseconds on the loop's clock ({@link EventLoop#nanoTime()}); moves on for a fixed-rate timer. */
    long deadline;
    /** Breaks ties between equal deadlines so timers fire in the order they were scheduled. */
    long sequence;
    /** 0 for a one-shot timer; else the period of a fixed-rate one. */
    final long periodNanos;
    /** Position in the loop's heap, -1 when not in it. Loop thread only. */
    int heapIndex = -1;
    private volatile int state;

    TimerHandle(EventLoop loop, Runnable task, long deadline, long sequence, long periodNanos) {
        this.loop = loop;
        this.task = task;
        this.deadline = deadline;
        this.sequence = sequence;
        this.periodNanos = periodNanos;
    }

    /** A fixed-rate timer's next run, while it is out of the heap. Loop thread only. */
    void reschedule(long nextDeadline, long nextSequence) {
        deadline = nextDeadline;
        sequence = nextSequence;
    }

    /**
     * Cancels the timer. A cancelled timer never runs (again, for a fixed-rate one).
     *
     * @return true if this call cancelled it; false if it already ran or was cancelled
     */
    public boolean cancel() {
        if (!STATE.compareAndSet(this, PENDING, CANCELLED)) {
            return false;
        }
        loop.timerCancelled(this);
        return true;
    }

    /** True if {@link #cancel()} won before the timer ran. */
    public boolean isCancelled() {
        return state == CANCELLED;
    }

    /** True once the timer has run (a one-shot timer) or been cancelled. */
    public boolean isDone() {
        return state != PENDING;
    }

    /** Time left until the deadline (negative once it has passed). */
    public long getDelay(TimeUnit unit) {
        return unit.convert(deadline - EventLoop.nanoTime(), TimeUnit.NANOSECONDS);
    }

    /** Claims the right to run; false if it was cancelled first. */
    boolean markFired() {
        return STATE.compareAndSet(this, PENDING, FIRED);
    }

    boolean lessThan(TimerHandle other) {
        return deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence;
    }

    @Override
    public String toString() {
        return "TimerHandle[" + task + ", in " + getDelay(TimeUnit.MICROSECONDS) + "us, "
                + (state == PENDING ? "pending" : state == CANCELLED ? "cancelled" : "fired") + "]";
    }
}
