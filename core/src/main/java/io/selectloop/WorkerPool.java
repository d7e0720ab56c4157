package io.selectloop;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed pool of worker threads with a bounded queue, for the blocking work that must not
 * run on a loop (a database call, a file read): the producer/consumer hand-off from loops
 * to workers and, through {@link EventLoop#offload}, back. When all workers are busy and
 * the queue is full, {@link #execute} refuses at once with a
 * {@link RejectedExecutionException} rather than queueing without bound or blocking the
 * loop; {@code offload} turns that into a failed future, which the handler answers (say,
 * "busy, try again") while it goes on serving everyone else.
 *
 * <pre>{@code
 * WorkerPool db = WorkerPool.start("db", 8, 1000);       // 8 threads, at most 1000 waiting
 * loop.offload(() -> lookup(key), db)                     // runs on a worker
 *     .whenComplete((row, error) -> c.write(...));        // back on the loop thread
 * }</pre>
 *
 * <p>The threads are daemon threads named {@code name-N}. Every method may be called from
 * any thread. A thin wrapper over the JDK's {@link ThreadPoolExecutor}, so that the bound
 * and the refusal are the defaults rather than options to remember.
 */
public final class WorkerPool implements Executor, AutoCloseable {
    private final String name;
    private final int queueCapacity;
    private final ThreadPoolExecutor executor;

    private WorkerPool(String name, int threads, int queueCapacity) {
        this.name = name;
        this.queueCapacity = queueCapacity;
        AtomicInteger ids = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, name + "-" + ids.getAndIncrement());
            t.setDaemon(true);
            return t;
        };
        this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queueCapacity), factory, (job, pool) -> {
                    throw new RejectedExecutionException(pool.isShutdown()
                            ? "worker pool " + name + " is closed"
                            : "worker pool " + name + " is full: " + threads + " threads busy and " + queueCapacity
                                    + " jobs waiting");
                });
    }

    /**
     * Starts {@code threads} workers with room for {@code queueCapacity} waiting jobs.
     *
     * @throws IllegalArgumentException if either is less than 1
     */
    public static WorkerPool start(String name, int threads, int queueCapacity) {
        java.util.Objects.requireNonNull(name, "name");
        if (threads < 1 || queueCapacity < 1) {
            throw new IllegalArgumentException("a worker pool needs at least one thread and room for one job, not "
                    + threads + " threads and " + queueCapacity);
        }
        return new WorkerPool(name, threads, queueCapacity);
    }

    /**
     * Runs {@code job} on a worker.
     *
     * @throws RejectedExecutionException at once, when every worker is busy and the queue is
     *     full, or after {@link #close()}
     */
    @Override
    public void execute(Runnable job) {
        executor.execute(job);
    }

    /** Jobs waiting for a worker now. */
    public int queued() {
        return executor.getQueue().size();
    }

    /** Room for this many jobs waiting, as given to {@link #start}. */
    public int queueCapacity() {
        return queueCapacity;
    }

    /** Workers running a job now. */
    public int active() {
        return executor.getActiveCount();
    }

    /** Jobs finished. */
    public long completed() {
        return executor.getCompletedTaskCount();
    }

    /**
     * Takes no more jobs, lets the queued and running ones finish for up to {@code timeout},
     * then interrupts what is still running.
     *
     * @return true if every job finished within the timeout
     */
    public boolean shutdown(Duration timeout) throws InterruptedException {
        executor.shutdown();
        if (executor.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
            return true;
        }
        refuseQueued(executor.shutdownNow());
        return false;
    }

    /** Takes no more jobs and interrupts the running ones; queued jobs are dropped. */
    @Override
    public void close() {
        refuseQueued(executor.shutdownNow());
    }

    /** Offloaded work that never started: its future fails rather than waiting for ever. */
    private void refuseQueued(java.util.List<Runnable> neverStarted) {
        for (Runnable job : neverStarted) {
            if (job instanceof LoopFuture.Job) {
                ((LoopFuture.Job<?>) job).refuse(new RejectedExecutionException("worker pool " + name
                        + " was closed before this job started"));
            }
        }
    }

    @Override
    public String toString() {
        return "WorkerPool[" + name + ", " + executor.getPoolSize() + " threads, " + queued() + "/" + queueCapacity
                + " queued]";
    }
}
