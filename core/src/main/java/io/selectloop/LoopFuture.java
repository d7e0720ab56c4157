package io.selectloop;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The future {@link EventLoop#offload} returns: completed on its loop's thread, and with
 * the loop as the default executor of its {@code *Async} stages, so a handler continues on
 * the loop with plain fields.
 */
final class LoopFuture<T> extends CompletableFuture<T> {
    private final EventLoop loop;

    LoopFuture(EventLoop loop) {
        this.loop = loop;
    }

    static <T> CompletableFuture<T> offload(EventLoop loop, Callable<T> work, Executor executor) {
        java.util.Objects.requireNonNull(work, "work");
        java.util.Objects.requireNonNull(executor, "executor");
        LoopFuture<T> result = new LoopFuture<>(loop);
        Job<T> job = new Job<>(result, work);
        try {
            executor.execute(job);
        } catch (RejectedExecutionException e) {
            result.completeOnLoop(null, e);
        } catch (RuntimeException e) {
            result.completeOnLoop(null, new RejectedExecutionException("the executor refused the offloaded work: " + e, e));
        }
        return result;
    }

    /** The offloaded work as the executor sees it; a closing {@link WorkerPool} refuses the ones never started. */
    static final class Job<T> implements Runnable {
        private final LoopFuture<T> result;
        private final Callable<T> work;

        Job(LoopFuture<T> result, Callable<T> work) {
            this.result = result;
            this.work = work;
        }

        @Override
        public void run() {
            if (result.isDone()) {
                return; // cancelled before it began: do not start it
            }
            T value = null;
            Throwable failure = null;
            try {
                value = work.call();
            } catch (Throwable t) {
                failure = t;
            }
            result.completeOnLoop(value, failure);
        }

        void refuse(RejectedExecutionException why) {
            result.completeOnLoop(null, why);
        }
    }

    private void completeOnLoop(T value, Throwable failure) {
        Runnable complete = () -> {
            if (failure == null) {
                complete(value);
            } else {
                completeExceptionally(failure);
            }
        };
        if (loop.inEventLoop()) {
            complete.run();
            return;
        }
        try {
            loop.execute(complete);
        } catch (RejectedExecutionException gone) {
            RejectedExecutionException e = new RejectedExecutionException("event loop " + loop.name()
                    + " terminated (or its task queue is full) before the offloaded work's result could be delivered", gone);
            if (failure != null) {
                e.addSuppressed(failure);
            }
            completeExceptionally(e);
        }
    }

    @Override
    public Executor defaultExecutor() {
        return loop;
    }

    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new LoopFuture<>(loop);
    }
}
