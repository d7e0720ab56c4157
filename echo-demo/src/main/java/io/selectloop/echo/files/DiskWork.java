package io.selectloop.echo.files;

import io.selectloop.EventLoop;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

/**
 * The disk work that may take long enough to stall every connection if it ran on the loop:
 * hashing a file, {@code fsync}, rename. A few threads and a bounded queue; the result goes
 * back to the loop with {@link EventLoop#execute}, so sessions only ever change state on
 * their loop. Each session has at most one job queued or running (it stops reading while
 * it waits), so the queue, sized to the connection limit, cannot overflow unless that
 * invariant breaks; if it does, the job is refused and the session answers {@code BUSY}.
 */
final class DiskWork implements AutoCloseable {
    private final ThreadPoolExecutor executor;

    DiskWork(int threads, int queueCapacity) {
        AtomicInteger count = new AtomicInteger();
        executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(queueCapacity),
                r -> {
                    Thread t = new Thread(r, "files-disk-" + count.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
    }

    /**
     * Runs {@code job} on a disk thread and then {@code done(result, failure)} on
     * {@code loop}. Any thread.
     *
     * @return false if the queue is full (nothing will be called back)
     */
    <T> boolean submit(EventLoop loop, Callable<T> job, BiConsumer<T, Throwable> done) {
        try {
            executor.execute(() -> {
                T result = null;
                Throwable failure = null;
                try {
                    result = job.call();
                } catch (Throwable t) {
                    failure = t;
                }
                T r = result;
                Throwable f = failure;
                loop.execute(() -> done.accept(r, f));
            });
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
