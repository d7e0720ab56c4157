package io.selectloop;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One loop's own counters and its activity clock: how long it worked and how long it
 * slept in {@code select}, the longest callback, and the moment the current callback
 * began (which the {@link LoopWatchdog} reads).
 *
 * <p><b>Threads and staleness.</b> Only the loop thread writes these, as plain increments
 * stored with opaque writes (no fence; a 64-bit value is never seen half-written). At the
 * end of every iteration the loop makes one volatile write ({@link #publish}); a reader
 * that reads it first ({@link #awaitPublished}) sees every counter as of that iteration's
 * end at least. So a snapshot is at most one iteration old, however long the loop then
 * sleeps in {@code select} (it counts nothing while it sleeps).
 */
final class LoopCounters {
    private static final VarHandle BUSY, IDLE, LONGEST, CALLBACKS, TASKS_RUN, TIMERS_FIRED, LAST_MARK, WORKING,
            DATAGRAMS_RECEIVED, DATAGRAMS_SENT, WINDOW_START_BUSY, WINDOW_START_IDLE, WINDOW_RATIO_BITS,
            TIMERS_PENDING;
    /** The busy ratio is reported over windows of about this length. */
    static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(1);

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            BUSY = l.findVarHandle(LoopCounters.class, "busyNanos", long.class);
            IDLE = l.findVarHandle(LoopCounters.class, "idleNanos", long.class);
            LONGEST = l.findVarHandle(LoopCounters.class, "longestCallbackNanos", long.class);
            CALLBACKS = l.findVarHandle(LoopCounters.class, "callbacks", long.class);
            TASKS_RUN = l.findVarHandle(LoopCounters.class, "tasksRun", long.class);
            TIMERS_FIRED = l.findVarHandle(LoopCounters.class, "timersFired", long.class);
            LAST_MARK = l.findVarHandle(LoopCounters.class, "lastMark", long.class);
            WORKING = l.findVarHandle(LoopCounters.class, "working", boolean.class);
            DATAGRAMS_RECEIVED = l.findVarHandle(LoopCounters.class, "datagramsReceived", long.class);
            DATAGRAMS_SENT = l.findVarHandle(LoopCounters.class, "datagramsSent", long.class);
            WINDOW_START_BUSY = l.findVarHandle(LoopCounters.class, "windowStartBusy", long.class);
            WINDOW_START_IDLE = l.findVarHandle(LoopCounters.class, "windowStartIdle", long.class);
            WINDOW_RATIO_BITS = l.findVarHandle(LoopCounters.class, "windowRatioBits", long.class);
            TIMERS_PENDING = l.findVarHandle(LoopCounters.class, "timersPending", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private long busyNanos;
    private long idleNanos;
    private long longestCallbackNanos;
    private long callbacks;
    private long tasksRun;
    private long timersFired;
    private long datagramsReceived;
    private long datagramsSent;
    private int timersPending;
    /** When the current stretch (a callback, a sleep in select) began, System.nanoTime(). */
    private long lastMark;
    /** True while the loop works (runs an iteration outside select): what the watchdog checks. */
    private boolean working;
    /** Loop thread's own copy of {@link #working}, read without any ordering. */
    private boolean workingHere;
    private long windowStartBusy;
    private long windowStartIdle;
    private long windowRatioBits;
    private volatile long published;

    /** Datagrams dropped for a full send queue: counted on whichever thread sent them. */
    final AtomicLong datagramsDropped = new AtomicLong();
    /** Blocked-loop incidents; written by the watchdog's thread only. */
    volatile long blockedIncidents;
    /** The {@link #lastMark} of the incident the watchdog last reported (watchdog thread only). */
    long reportedMark = Long.MIN_VALUE;

    /** Stream counters of this loop's connections, one block per server (and one for clients). */
    final CopyOnWriteArrayList<StreamCounters> streams = new CopyOnWriteArrayList<>();
    final StreamCounters clientStreams = new StreamCounters(false);

    LoopCounters() {
        streams.add(clientStreams);
        lastMark = System.nanoTime();
        workingHere = true; // a started loop is working from the first instant; runOnce loops say so per call
        working = true;
    }

    // ------------------------------------------------------------------ loop thread

    /**
     * An iteration begins. A loop on its own thread runs its iterations back to back, so
     * its marks simply carry on from the last iteration (no clock read here). A loop driven
     * by the application's {@code runOnce} starts afresh: the time between two calls is the
     * application's, neither busy nor idle.
     */
    void iterationStarted(boolean backToBack) {
        if (!backToBack) {
            LAST_MARK.setOpaque(this, System.nanoTime());
            workingHere = true;
            WORKING.setRelease(this, true); // after the mark: a watchdog seeing "working" sees the fresh mark
        }
    }

    /** The loop is about to block in select. */
    void selecting(long now) {
        addBusy(now);
        workingHere = false;
        WORKING.setRelease(this, false);
    }

    /** Select returned, or dispatches its first key: the sleep is over. */
    void wokeIfSleeping() {
        if (!workingHere) {
            long now = System.nanoTime();
            IDLE.setOpaque(this, idleNanos + (now - lastMark));
            LAST_MARK.setOpaque(this, now);
            workingHere = true;
            WORKING.setRelease(this, true);
        }
    }

    /** A callback (a key's dispatch, a task, a timer) ended now. */
    void callbackEnded(long now) {
        long took = now - lastMark;
        if (took > longestCallbackNanos) {
            LONGEST.setOpaque(this, took);
        }
        CALLBACKS.setOpaque(this, callbacks + 1);
        addBusy(now);
    }

    private void addBusy(long now) {
        BUSY.setOpaque(this, busyNanos + (now - lastMark));
        LAST_MARK.setOpaque(this, now);
    }

    void taskRan() {
        TASKS_RUN.setOpaque(this, tasksRun + 1);
    }

    void timerFired() {
        TIMERS_FIRED.setOpaque(this, timersFired + 1);
    }

    void datagramReceived() {
        DATAGRAMS_RECEIVED.setOpaque(this, datagramsReceived + 1);
    }

    void datagramSent() {
        DATAGRAMS_SENT.setOpaque(this, datagramsSent + 1);
    }

    /**
     * The iteration is over: close the busy-ratio window if it is long enough, and publish.
     * Back to back, the stretch since the last mark is left running into the next iteration
     * (it is busy time all the same, added at the next mark), which spares a clock read.
     */
    void iterationEnded(boolean backToBack, int timersPendingNow) {
        long now;
        if (backToBack) {
            now = lastMark;
        } else {
            now = System.nanoTime();
            addBusy(now);
            workingHere = false;
            WORKING.setRelease(this, false);
        }
        TIMERS_PENDING.setOpaque(this, timersPendingNow);
        long busyInWindow = busyNanos - windowStartBusy;
        long idleInWindow = idleNanos - windowStartIdle;
        if (busyInWindow + idleInWindow >= WINDOW_NANOS) {
            WINDOW_RATIO_BITS.setOpaque(this, Double.doubleToRawLongBits((double) busyInWindow / (busyInWindow + idleInWindow)));
            WINDOW_START_BUSY.setOpaque(this, busyNanos);
            WINDOW_START_IDLE.setOpaque(this, idleNanos);
        }
        published = now;
    }

    // ------------------------------------------------------------------ any thread

    /** Reads the once-per-iteration publication first, so what follows is at least that fresh. */
    void awaitPublished() {
        long ignored = published;
    }

    boolean working() {
        return (boolean) WORKING.getAcquire(this);
    }

    long lastMark() {
        return (long) LAST_MARK.getOpaque(this);
    }

    /** Time spent working, including the stretch under way if the loop is working now. */
    long busyNanos(long now) {
        long busy = (long) BUSY.getOpaque(this);
        return working() ? busy + Math.max(0, now - lastMark()) : busy;
    }

    long idleNanos(long now) {
        long idle = (long) IDLE.getOpaque(this);
        return working() ? idle : idle + Math.max(0, now - lastMark());
    }

    /**
     * Time working ÷ (time working + time asleep in select), over the last window of about a
     * second; over the window still open if that has grown past two (the loop slept or was
     * blocked all along, and did not end an iteration to close it).
     */
    double busyRatio(long now) {
        long busy = busyNanos(now) - (long) WINDOW_START_BUSY.getOpaque(this);
        long idle = idleNanos(now) - (long) WINDOW_START_IDLE.getOpaque(this);
        if (busy + idle >= 2 * WINDOW_NANOS) {
            return (double) busy / (busy + idle);
        }
        return Double.longBitsToDouble((long) WINDOW_RATIO_BITS.getOpaque(this));
    }

    /** CPU time of {@code thread}, or -1: read by the snapshot's reader, so it costs the loop nothing. */
    static long threadCpuNanos(Thread thread) {
        try {
            java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
            return thread == null || !threads.isThreadCpuTimeSupported() ? -1 : threads.getThreadCpuTime(thread.getId());
        } catch (RuntimeException | LinkageError unsupported) {
            return -1;
        }
    }

    long longestCallbackNanos() {
        return (long) LONGEST.getOpaque(this);
    }

    long callbacks() {
        return (long) CALLBACKS.getOpaque(this);
    }

    long tasksRun() {
        return (long) TASKS_RUN.getOpaque(this);
    }

    long timersFired() {
        return (long) TIMERS_FIRED.getOpaque(this);
    }

    int timersPending() {
        return (int) TIMERS_PENDING.getOpaque(this);
    }

    long datagramsReceived() {
        return (long) DATAGRAMS_RECEIVED.getOpaque(this);
    }

    long datagramsSent() {
        return (long) DATAGRAMS_SENT.getOpaque(this);
    }
}
