package io.selectloop;

import java.util.concurrent.TimeUnit;

/**
 * Every deadline of one connection, on a single loop timer: the idle timeouts (read,
 * write, all), stalled output (queued output that makes no progress), and a closing
 * connection's drain deadline. Reads and writes only store a time; the timer is armed
 * for the earliest deadline, and when it fires it re-reads the times and either reports
 * an expiry or re-arms for the new earliest deadline (as Netty's IdleStateHandler does).
 * So a busy connection costs one field store per read or write, not a heap operation.
 * Loop thread only.
 */
final class ConnectionDeadlines {
    /** What the deadlines report to; implemented by the connection. */
    interface Owner {
        /** Reads can still come (neither the peer nor this side has ended input). */
        boolean readIdlenessApplies();

        /** Output is queued that the socket did not take. */
        boolean isOutputBlocked();

        void idle(IdleKind kind);

        void outputStalled(long stalledNanos);

        void closeTimedOut(long timeoutNanos);

        /** TLS (issue 10): the handshake did not finish in time. */
        void handshakeTimedOut(long timeoutNanos);
    }

    private static final long NEVER = Long.MAX_VALUE;

    private final EventLoop loop;
    private final StreamOptions options;
    private final Owner owner;
    /** Whether reads and writes must record their time: an idle timeout is configured. */
    final boolean idleTracking;

    private long lastReadNanos;
    /** The last time output bytes reached the socket. */
    private long lastWriteNanos;
    private long readIdleFiredNanos = Long.MIN_VALUE;
    private long writeIdleFiredNanos = Long.MIN_VALUE;
    private long allIdleFiredNanos = Long.MIN_VALUE;
    /** When the socket last refused output with the queue until then empty. */
    private long blockedSinceNanos;
    private long closeDeadlineNanos = NEVER;
    // TLS (issue 10): from accept or connect until the handshake is done.
    private long handshakeDeadlineNanos = NEVER;
    private long handshakeTimeoutNanos;

    /** TLS (issue 10): idle timeouts count from onOpen, after the handshake; until start() they do not apply. */
    private boolean idleStarted;

    private TimerHandle timer;
    private long timerDeadline = NEVER;
    private boolean stopped;

    ConnectionDeadlines(EventLoop loop, StreamOptions options, Owner owner) {
        this.loop = loop;
        this.options = options;
        this.owner = owner;
        this.idleTracking = options.hasIdleTimeout();
    }

    void start() {
        idleStarted = true;
        if (idleTracking) {
            long now = System.nanoTime();
            lastReadNanos = lastWriteNanos = now;
            arm(now);
        }
    }

    void read(long now) {
        lastReadNanos = now;
    }

    /** Output reached the socket. Only needed while idle-tracking or blocked. */
    void wrote(long now) {
        lastWriteNanos = now;
    }

    /** Whether a write must report its time (callers skip {@code nanoTime()} otherwise). */
    boolean wantsWriteTimes(boolean blocked) {
        return idleTracking || blocked;
    }

    /** The socket just refused output after taking everything before: start the stall clock. */
    void outputBlocked(long now) {
        blockedSinceNanos = now;
        if (options.writeStallNanos() > 0) {
            arm(now);
        }
    }

    /** A close is waiting for output to drain: it has until the close timeout. */
    void closing(long now) {
        if (options.closeTimeoutNanos() > 0) {
            closeDeadlineNanos = now + options.closeTimeoutNanos();
            arm(now);
        }
    }

    /** TLS (issue 10): the handshake has until {@code timeoutNanos} from now (0: no deadline). */
    void handshaking(long now, long timeoutNanos) {
        if (timeoutNanos > 0) {
            handshakeTimeoutNanos = timeoutNanos;
            handshakeDeadlineNanos = now + timeoutNanos;
            arm(now);
        }
    }

    /** TLS (issue 10): the handshake is done; its deadline no longer applies. */
    void handshakeDone() {
        handshakeDeadlineNanos = NEVER;
    }

    private void arm(long now) {
        long next = nextDeadline();
        if (next == NEVER || (timer != null && timerDeadline - next <= 0)) {
            return; // nothing to wait for, or the timer already fires soon enough
        }
        if (timer != null) {
            timer.cancel();
        }
        timerDeadline = next;
        timer = loop.schedule(this::expired, Math.max(0, next - now), TimeUnit.NANOSECONDS);
    }

    private void expired() {
        timer = null;
        timerDeadline = NEVER;
        long now = System.nanoTime();
        if (due(now, handshakeDeadlineNanos)) {
            handshakeDeadlineNanos = NEVER;
            owner.handshakeTimedOut(handshakeTimeoutNanos);
            return;
        }
        if (due(now, closeDeadlineNanos)) {
            owner.closeTimedOut(options.closeTimeoutNanos());
            return;
        }
        long stall = stallDeadline();
        if (due(now, stall)) {
            owner.outputStalled(now - Math.max(lastWriteNanos, blockedSinceNanos));
            return;
        }
        if (due(now, readIdleDeadline())) {
            readIdleFiredNanos = now;
            owner.idle(IdleKind.READ);
        }
        if (timerStillWanted() && due(now, writeIdleDeadline())) {
            writeIdleFiredNanos = now;
            owner.idle(IdleKind.WRITE);
        }
        if (timerStillWanted() && due(now, allIdleDeadline())) {
            allIdleFiredNanos = now;
            owner.idle(IdleKind.ALL);
        }
        if (timerStillWanted()) {
            arm(now);
        }
    }

    /** {@code System.nanoTime()} may be negative, so NEVER is tested for, not subtracted. */
    private static boolean due(long now, long deadline) {
        return deadline != NEVER && now - deadline >= 0;
    }

    /**
     * False once a callback closed the connection ({@link #stop()}), or armed the timer
     * again itself (for a deadline no later than the ones still to check).
     */
    private boolean timerStillWanted() {
        return timer == null && !stopped;
    }

    /** The connection closed: cancel the timer and never arm it again. */
    void stop() {
        stopped = true;
        if (timer != null) {
            timer.cancel();
            timer = null;
        }
        timerDeadline = NEVER;
    }

    private long nextDeadline() {
        if (stopped) {
            return NEVER;
        }
        long next = Math.min(Math.min(closeDeadlineNanos, handshakeDeadlineNanos), stallDeadline());
        if (idleTracking && idleStarted) {
            next = Math.min(next, Math.min(readIdleDeadline(), Math.min(writeIdleDeadline(), allIdleDeadline())));
        }
        return next;
    }

    private long stallDeadline() {
        long stall = options.writeStallNanos();
        return stall <= 0 || !owner.isOutputBlocked() ? NEVER : Math.max(lastWriteNanos, blockedSinceNanos) + stall;
    }

    private static long idleDeadline(long timeout, long lastActivity, long lastFired) {
        return timeout <= 0 ? NEVER : Math.max(lastActivity, lastFired) + timeout;
    }

    private long readIdleDeadline() {
        return !idleTracking || !idleStarted || !owner.readIdlenessApplies() ? NEVER
                : idleDeadline(options.readIdleNanos(), lastReadNanos, readIdleFiredNanos);
    }

    private long writeIdleDeadline() {
        return !idleTracking || !idleStarted ? NEVER : idleDeadline(options.writeIdleNanos(), lastWriteNanos, writeIdleFiredNanos);
    }

    private long allIdleDeadline() {
        return !idleTracking || !idleStarted ? NEVER
                : idleDeadline(options.allIdleNanos(), Math.max(lastReadNanos, lastWriteNanos), allIdleFiredNanos);
    }
}
