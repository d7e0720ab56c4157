package io.selectloop;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The default home of SSLEngine delegated tasks: one daemon thread per processor and a
 * bounded queue. Bounded because every queued task is a handshake some peer started: a
 * flood of handshakes must be refused (those connections close), not queued without end.
 * Threads time out when idle, so a process that stops handshaking holds none.
 */
final class TlsTaskExecutor {
    /** Tasks waiting at most: a few seconds of handshakes even at thousands per second. */
    static final int QUEUE_CAPACITY = 16_384;

    private static final class Holder {
        static final ThreadPoolExecutor SHARED = create();
    }

    private TlsTaskExecutor() {
    }

    static Executor shared() {
        return Holder.SHARED;
    }

    private static ThreadPoolExecutor create() {
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        AtomicInteger count = new AtomicInteger();
        ThreadPoolExecutor executor = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(QUEUE_CAPACITY), r -> {
                    Thread t = new Thread(r, "selectloop-tls-task-" + count.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.AbortPolicy());
        executor.allowCoreThreadTimeOut(true);
        return executor;
    }
}
