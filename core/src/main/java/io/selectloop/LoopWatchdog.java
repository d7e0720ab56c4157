package io.selectloop;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * The blocked-loop detector: one daemon thread for every loop of the process. A few times
 * per threshold it looks at each loop's activity clock ({@link LoopCounters}): a loop that
 * is working (not asleep in {@code select}) and has been in the same callback longer than
 * its threshold is blocked, as Vert.x's blocked-thread checker reports. Each incident is
 * counted and logged once, at WARN, with the loop thread's stack as the watchdog found it
 * and how long the callback had been running; a loop that blocks again and again is
 * logged at most once per 10 s (the rest are counted, and the count rides along on the
 * next line).
 *
 * <p>It costs the loop nothing beyond the clock the metrics keep anyway: the watchdog
 * only reads. A loop leaves the watch list when it terminates.
 */
final class LoopWatchdog implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(LoopWatchdog.class);
    /** Look this many times per threshold, so an incident is seen within a quarter of it. */
    private static final int CHECKS_PER_THRESHOLD = 4;
    private static final long MIN_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long MAX_PERIOD_NANOS = TimeUnit.SECONDS.toNanos(1);

    private static final LoopWatchdog INSTANCE = new LoopWatchdog();

    private final CopyOnWriteArrayList<Watched> loops = new CopyOnWriteArrayList<>();
    private Thread thread;
    /** Rounds of checks made, so tests can wait for the watchdog to have looked again. */
    private static volatile long rounds;

    private static final class Watched {
        final EventLoop loop;
        final long thresholdNanos;
        final LogLimiter logLimiter = new LogLimiter(log, Level.WARN);

        Watched(EventLoop loop, long thresholdNanos) {
            this.loop = loop;
            this.thresholdNanos = thresholdNanos;
        }
    }

    /** Watches {@code loop} until it terminates. Any thread. */
    static void watch(EventLoop loop, long thresholdNanos) {
        INSTANCE.add(new Watched(loop, thresholdNanos));
    }

    private synchronized void add(Watched w) {
        loops.add(w);
        if (thread == null || !thread.isAlive()) {
            thread = new Thread(this, "selectloop-watchdog");
            thread.setDaemon(true);
            thread.start();
        } else {
            LockSupport.unpark(thread); // its period may have to shrink for this loop's threshold
        }
    }

    @Override
    public void run() {
        while (true) {
            long period = MAX_PERIOD_NANOS;
            for (Watched w : loops) {
                if (w.loop.isTerminated() && w.loop.terminationFuture().isDone()) {
                    loops.remove(w);
                    continue;
                }
                period = Math.min(period, Math.max(MIN_PERIOD_NANOS, w.thresholdNanos / CHECKS_PER_THRESHOLD));
                try {
                    check(w);
                } catch (RuntimeException e) {
                    log.debug("watchdog: checking {} failed", w.loop, e);
                }
            }
            rounds++; // this thread is the only writer
            LockSupport.parkNanos(period);
        }
    }

    static long rounds() {
        return rounds;
    }

    private static void check(Watched w) {
        EventLoop loop = w.loop;
        LoopCounters counters = loop.counters;
        if (!loop.isRunning() || !counters.working()) {
            return;
        }
        long mark = counters.lastMark();
        long ranNanos = System.nanoTime() - mark;
        if (ranNanos <= w.thresholdNanos || mark == counters.reportedMark) {
            return;
        }
        Thread thread = loop.thread();
        StackTraceElement[] stack = thread.getStackTrace();
        if (counters.lastMark() != mark || !counters.working()) {
            return; // the callback ended while we took the stack: that stack would be someone else's
        }
        counters.reportedMark = mark;
        BlockedLoopException where = new BlockedLoopException(thread.getName(), stack);
        w.logLimiter.log("event loop {} is blocked: one callback has been running for {} ms (blockedThreshold {} ms), "
                        + "stalling every other connection of this loop; offload blocking work with "
                        + "EventLoop.offload. The loop thread's stack at this moment:",
                loop.name(), TimeUnit.NANOSECONDS.toMillis(ranNanos), TimeUnit.NANOSECONDS.toMillis(w.thresholdNanos),
                where);
        counters.blockedIncidents++; // after the log line, so that a counted incident has been logged; one writer
    }

    /** Carries the blocked loop thread's stack into the log line; never thrown. */
    static final class BlockedLoopException extends Exception {
        private static final long serialVersionUID = 1L;

        BlockedLoopException(String threadName, StackTraceElement[] stack) {
            super("stack of " + threadName + " while blocked", null, false, true);
            setStackTrace(stack);
        }
    }
}
