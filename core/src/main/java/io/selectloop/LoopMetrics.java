package io.selectloop;

/**
 * A snapshot of one loop's counters ({@link EventLoop#metrics()}), readable on any thread.
 * Counters count from the loop's creation; values are at most one loop iteration old
 * (the loop publishes them once per iteration), and they are read one after the other,
 * not at one instant. Durations are in nanoseconds.
 *
 * @param loop                 the loop's name
 * @param iterations           loop iterations run
 * @param busyNanos            time spent working: running callbacks and the loop's own phases,
 *                             everything but sleeping in {@code select}
 * @param idleNanos            time spent asleep in {@code select}
 * @param threadCpuNanos       CPU time of the loop's thread (the application's thread, for a loop
 *                             from {@link EventLoop#open()}), read from the JVM when the snapshot
 *                             is taken; -1 if the JVM cannot say. Busy time well above it means
 *                             the thread was runnable but waiting for a CPU: an oversubscribed machine
 * @param busyRatio            busy ÷ (busy + idle) over the last second or so: 0 idle, 1 saturated
 *                             (for a loop on its own thread, about the CPU share its thread uses)
 * @param longestCallbackNanos the longest single callback (a key's dispatch, a task, a timer)
 * @param callbacks            callbacks run
 * @param blockedIncidents     callbacks that the watchdog saw run past the loop's
 *                             {@link LoopOptions#blockedThreshold()} (each logged once)
 * @param tasksQueued          tasks waiting in the queue now ({@link EventLoop#execute})
 * @param tasksRun             tasks run
 * @param timersPending        timers waiting now
 * @param timersFired          timer runs
 * @param streams              every stream connection of this loop (servers' and clients')
 * @param datagramsReceived    datagrams delivered to {@link DatagramHandler}s
 * @param datagramsSent        datagrams sent
 * @param datagramsDropped     datagrams dropped for a full send queue
 * @param poolChunksInUse      pooled output chunks lent out now (16 KiB each)
 * @param poolDirectChunks     direct chunks the pool has made (at most 256; kept for reuse)
 * @param budgetUsedBytes      bytes of the memory budget in use; the loops of a group share
 *                             one budget, so each of them reports the same figure
 * @param budgetLimitBytes     the memory budget's limit
 */
public record LoopMetrics(String loop, long iterations, long busyNanos, long idleNanos, long threadCpuNanos,
                          double busyRatio,
                          long longestCallbackNanos, long callbacks, long blockedIncidents,
                          long tasksQueued, long tasksRun, int timersPending, long timersFired,
                          StreamMetrics streams, long datagramsReceived, long datagramsSent, long datagramsDropped,
                          int poolChunksInUse, int poolDirectChunks, long budgetUsedBytes, long budgetLimitBytes) {
}
