package io.selectloop;

import java.util.ArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * Keeps one loop within its {@link MemoryBudget} (docs/ARCHITECTURE.md, "The memory
 * budget"): lets connections paused for memory read again when the budget allows,
 * closes those paused too long while the pressure lasts, and closes the largest holders
 * when the budget is exceeded. Connections pause themselves (their read path asks the
 * budget before every read); this is the part that needs to see all of a loop's
 * connections. Loop thread only, except {@link #requestShed()}.
 */
final class LoadShedder {
    private static final Logger log = LoggerFactory.getLogger(LoadShedder.class);
    private static final LogLimiter shedLog = new LogLimiter(log, Level.WARN);
    /** Shedding scans every connection of the loop, so at most this often. */
    private static final long SHED_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** How often connections paused for memory are asked whether they may read again. */
    private static final long RECHECK_MILLIS = 20;

    private final EventLoop loop;
    private final MemoryBudget budget;
    private final AtomicBoolean shedRequested = new AtomicBoolean();
    private long lastShedNanos = System.nanoTime() - SHED_INTERVAL_NANOS;
    private final ArrayList<StreamConnection> pausedForMemory = new ArrayList<>();
    private TimerHandle recheck;

    LoadShedder(EventLoop loop, MemoryBudget budget) {
        this.loop = loop;
        this.budget = budget;
    }

    /**
     * Another loop of the group found the budget exceeded and asks this one to shed its
     * own holders (this loop checks the budget itself every iteration). Any thread; from
     * another thread it wakes the loop.
     */
    void requestShed() {
        if (shedRequested.compareAndSet(false, true) && !loop.inEventLoop()) {
            try {
                loop.execute(() -> { });
            } catch (RejectedExecutionException ignored) {
                // terminated: it holds nothing any more
            }
        }
    }

    /**
     * Over the budget: close this loop's largest holders that hold more than their fair
     * share, biggest first, until the budget is back under its shed target. If the
     * holders live on other loops of the group, ask those to do the same.
     */
    void shedIfOverBudget() {
        if (!budget.exceeded()) {
            if (shedRequested.get()) {
                shedRequested.set(false); // resolved meanwhile
            }
            return;
        }
        boolean askedByAnotherLoop = shedRequested.getAndSet(false);
        long now = System.nanoTime();
        if (now - lastShedNanos < SHED_INTERVAL_NANOS) {
            return; // every iteration looks again; reads are gated meanwhile
        }
        lastShedNanos = now;
        long fairShare = budget.fairShare();
        ArrayList<StreamConnection> holders = loop.streamConnections();
        holders.removeIf(c -> c.heldBytes() <= fairShare);
        shedLargest(holders, () -> budget.used() <= budget.shedTarget(), "the budget was exceeded");
        if (budget.exceeded() && !askedByAnotherLoop) {
            budget.askOtherLoopsToShed(loop);
        }
    }

    /** A connection stopped reading for memory: ask it again shortly. */
    void pausedForMemory(StreamConnection c) {
        pausedForMemory.add(c);
        if (recheck == null && !loop.isTerminated()) {
            recheck = loop.schedule(this::recheckPaused, RECHECK_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Lets paused connections read again once the budget allows; while the pressure
     * lasts, sheds those paused for longer than the pressure timeout, largest first. A
     * paused connection reads nothing, so it would not even notice its peer leaving:
     * without this, vanished peers could hold the budget for good.
     */
    private void recheckPaused() {
        recheck = null;
        pausedForMemory.removeIf(c -> !c.resumeIfMemoryAllows());
        if (budget.underPressure() && !pausedForMemory.isEmpty()) {
            long now = System.nanoTime();
            ArrayList<StreamConnection> overdue = new ArrayList<>();
            long fairShare = budget.fairShare();
            for (StreamConnection c : pausedForMemory) {
                // A connection pauses a little before its share is full (a read smaller
                // than 1 KiB is not worth it): only those over it are ever shed.
                if (c.overFairShareNanos(now) >= budget.pressureTimeoutNanos() && c.heldBytes() > fairShare) {
                    overdue.add(c);
                }
            }
            // Down to a quarter, not just under the pressure point: the connections let read
            // again would otherwise bring the pressure back at once, and shed one at a time.
            shedLargest(overdue, () -> budget.used() <= budget.limit() / 4, "held more than that, paused for memory, for "
                    + budget.pressureTimeoutNanos() / 1_000_000 + " ms while the budget was under pressure");
            pausedForMemory.removeIf(StreamConnection::isClosed);
        }
        if (!pausedForMemory.isEmpty() && !loop.isTerminated()) {
            recheck = loop.schedule(this::recheckPaused, RECHECK_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    /** Resets {@code holders}, largest first, until {@code enough} says so; logs the burst once. */
    private void shedLargest(ArrayList<StreamConnection> holders, BooleanSupplier enough, String why) {
        holders.sort((a, b) -> Long.compare(b.heldBytes(), a.heldBytes()));
        long before = budget.used();
        long fairShare = budget.fairShare();
        int closed = 0;
        for (StreamConnection c : holders) {
            if (enough.getAsBoolean()) {
                break;
            }
            c.shed(new MemoryBudgetExceededException("closed to keep within the memory budget of " + budget.limit()
                    + " bytes: this connection held " + c.heldBytes() + " bytes, over its fair share of " + fairShare
                    + ", and " + why));
            closed++;
        }
        if (closed > 0) {
            shedLog.log("event loop {}: memory budget short ({} of {} bytes held); reset the {} largest holders over "
                    + "their fair share of {} bytes ({}); now {} bytes held", loop.name(), before, budget.limit(), closed,
                    fairShare, why, budget.used());
        }
    }

    /** The loop terminated: every connection is closed. */
    void clear() {
        pausedForMemory.clear();
    }
}
