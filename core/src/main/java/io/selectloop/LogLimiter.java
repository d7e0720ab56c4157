package io.selectloop;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.event.Level;

/**
 * One kind of log line that a flood could repeat thousands of times a second (peers
 * sending bad frames, idle timeouts, refused connections): the first one is logged,
 * the next ones within the interval are only counted, and the count rides along on
 * the next line that gets through. Thread-safe, since servers in a loop group log
 * from several loops.
 */
final class LogLimiter {
    static final long DEFAULT_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Logger log;
    private final Level level;
    private final long intervalNanos;
    private final AtomicLong nextAllowed = new AtomicLong(Long.MIN_VALUE);
    private final AtomicLong suppressed = new AtomicLong();

    LogLimiter(Logger log, Level level) {
        this(log, level, DEFAULT_INTERVAL_NANOS);
    }

    LogLimiter(Logger log, Level level, long intervalNanos) {
        this.log = log;
        this.level = level;
        this.intervalNanos = intervalNanos;
    }

    /**
     * Logs {@code message} (slf4j format; a trailing Throwable argument is logged as
     * such) unless a line of this kind went out less than the interval ago.
     *
     * @return true if the line was logged
     */
    boolean log(String message, Object... args) {
        if (!log.isEnabledForLevel(level)) {
            return false;
        }
        long now = System.nanoTime();
        long allowed = nextAllowed.get();
        if ((allowed != Long.MIN_VALUE && now - allowed < 0) || !nextAllowed.compareAndSet(allowed, now + intervalNanos)) {
            suppressed.incrementAndGet();
            return false;
        }
        long skipped = suppressed.getAndSet(0);
        String line = skipped == 0 ? message
                : message + " (" + skipped + " more like this in the last " + TimeUnit.NANOSECONDS.toSeconds(intervalNanos)
                        + " s were not logged)";
        log.atLevel(level).log(line, args);
        return true;
    }
}
