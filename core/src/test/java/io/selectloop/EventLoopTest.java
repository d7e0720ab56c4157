package io.selectloop;

import static io.selectloop.TestSupport.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class EventLoopTest {
    private EventLoop loop;

    @AfterEach
    void closeLoop() {
        if (loop != null) {
            loop.close();
        }
    }

    @Test
    void tasksFromEightThreadsAllRunInSubmissionOrderPerThread() throws Exception {
        loop = EventLoop.start("order");
        int threads = 8;
        int perThread = 100_000;
        int[] lastSeen = new int[threads];
        java.util.Arrays.fill(lastSeen, -1);
        AtomicInteger outOfOrder = new AtomicInteger();
        AtomicInteger offLoop = new AtomicInteger();
        CountDownLatch allRan = new CountDownLatch(threads * perThread);
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> producers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int producer = t;
            Thread thread = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < perThread; i++) {
                    int seq = i;
                    loop.execute(() -> {
                        // lastSeen is touched only on the loop thread: no synchronisation needed
                        if (!loop.inEventLoop()) {
                            offLoop.incrementAndGet();
                        }
                        if (lastSeen[producer] != seq - 1) {
                            outOfOrder.incrementAndGet();
                        }
                        lastSeen[producer] = seq;
                        allRan.countDown();
                    });
                }
            }, "producer-" + t);
            thread.start();
            producers.add(thread);
        }
        go.countDown();
        for (Thread t : producers) {
            t.join();
        }
        assertTrue(allRan.await(60, TimeUnit.SECONDS), "tasks left: " + allRan.getCount());
        assertEquals(0, outOfOrder.get(), "tasks that ran out of their thread's submission order");
        assertEquals(0, offLoop.get(), "tasks that ran off the loop thread");
        CompletableFuture<int[]> last = new CompletableFuture<>();
        loop.execute(() -> last.complete(lastSeen.clone()));
        for (int seen : last.get(10, TimeUnit.SECONDS)) {
            assertEquals(perThread - 1, seen);
        }
    }

    @Test
    void timersNeverFireEarlyAndRunInDeadlineOrder() throws Exception {
        loop = EventLoop.start("timers");
        Random random = new Random(42);
        int count = 2_000;
        CountDownLatch fired = new CountDownLatch(count);
        AtomicInteger early = new AtomicInteger();
        AtomicReference<String> firstEarly = new AtomicReference<>();
        for (int i = 0; i < count; i++) {
            long delayMicros = random.nextInt(200_000);
            long earliest = System.nanoTime() + TimeUnit.MICROSECONDS.toNanos(delayMicros);
            Runnable check = () -> {
                long now = System.nanoTime();
                if (now < earliest) {
                    early.incrementAndGet();
                    firstEarly.compareAndSet(null, "fired " + (earliest - now) + " ns early");
                }
                fired.countDown();
            };
            if (i % 2 == 0) {
                loop.schedule(check, delayMicros, TimeUnit.MICROSECONDS); // from this thread
            } else {
                loop.execute(() -> loop.schedule(check, delayMicros, TimeUnit.MICROSECONDS)); // from the loop
            }
        }
        assertTrue(fired.await(30, TimeUnit.SECONDS));
        assertEquals(0, early.get(), firstEarly.get());
    }

    @Test
    void equalDeadlinesFireInSchedulingOrder() throws Exception {
        loop = EventLoop.start("fifo");
        List<Integer> order = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(1);
        loop.execute(() -> {
            for (int i = 0; i < 100; i++) {
                int n = i;
                loop.schedule(() -> order.add(n), 5, TimeUnit.MILLISECONDS);
            }
            loop.schedule(done::countDown, 5, TimeUnit.MILLISECONDS);
        });
        assertTrue(done.await(10, TimeUnit.SECONDS));
        CompletableFuture<List<Integer>> seen = new CompletableFuture<>();
        loop.execute(() -> seen.complete(new ArrayList<>(order)));
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            expected.add(i);
        }
        assertEquals(expected, seen.get(10, TimeUnit.SECONDS));
    }

    @Test
    void cancelledTimersNeverFire() throws Exception {
        loop = EventLoop.start("cancel");
        AtomicInteger cancelledRan = new AtomicInteger();
        List<TimerHandle> handles = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            handles.add(loop.schedule(cancelledRan::incrementAndGet, 20 + i % 50, TimeUnit.MILLISECONDS));
        }
        // half cancelled from this thread, half from the loop thread
        for (int i = 0; i < handles.size(); i += 2) {
            assertTrue(handles.get(i).cancel());
        }
        CountDownLatch loopCancelled = new CountDownLatch(1);
        loop.execute(() -> {
            for (int i = 1; i < handles.size(); i += 2) {
                handles.get(i).cancel();
            }
            loopCancelled.countDown();
        });
        assertTrue(loopCancelled.await(10, TimeUnit.SECONDS));
        // A sentinel scheduled later than every cancelled deadline proves their time has passed.
        CountDownLatch sentinel = new CountDownLatch(1);
        loop.schedule(sentinel::countDown, 150, TimeUnit.MILLISECONDS);
        assertTrue(sentinel.await(10, TimeUnit.SECONDS));
        assertEquals(0, cancelledRan.get());
        for (TimerHandle h : handles) {
            assertTrue(h.isCancelled());
            assertFalse(h.cancel(), "a second cancel reports false");
        }
        CompletableFuture<Integer> left = new CompletableFuture<>();
        loop.execute(() -> left.complete(loop.timerCount()));
        assertEquals(0, left.get(10, TimeUnit.SECONDS), "cancelled timers must leave the heap");
    }

    @Test
    void aTimerThatFiredCannotBeCancelled() throws Exception {
        loop = EventLoop.start("fired");
        CountDownLatch ran = new CountDownLatch(1);
        TimerHandle h = loop.schedule(ran::countDown, 0, TimeUnit.MILLISECONDS);
        assertTrue(ran.await(10, TimeUnit.SECONDS));
        eventually().until(h::isDone);
        assertFalse(h.cancel());
        assertFalse(h.isCancelled());
    }

    @Test
    void crossThreadTimerWakesTheLoopOnlyWhenEarlierThanItsSleep() throws Exception {
        loop = EventLoop.start("wakeups");
        // Park the loop on a timer one hour away.
        CountDownLatch parked = new CountDownLatch(1);
        loop.execute(() -> {
            loop.schedule(() -> { }, 1, TimeUnit.HOURS);
            parked.countDown();
        });
        assertTrue(parked.await(10, TimeUnit.SECONDS));
        awaitLoopAsleep();
        long wakeupsBefore = loop.wakeupCalls.get();
        long iterationsBefore = loop.iterations;

        TimerHandle later = loop.schedule(() -> { }, 2, TimeUnit.HOURS);
        assertEquals(wakeupsBefore, loop.wakeupCalls.get(), "a later timer must not wake the loop");
        assertEquals(iterationsBefore, loop.iterations, "the loop stayed asleep");

        CountDownLatch ran = new CountDownLatch(1);
        loop.schedule(ran::countDown, 1, TimeUnit.MILLISECONDS);
        assertTrue(ran.await(10, TimeUnit.SECONDS));
        assertEquals(wakeupsBefore + 1, loop.wakeupCalls.get(), "an earlier timer wakes the loop once");
        later.cancel();
    }

    @Test
    void manySubmissionsDuringOneSleepWakeTheSelectorAtMostOnce() throws Exception {
        loop = EventLoop.start("coalesce");
        awaitLoopAsleep();
        // Hold the loop inside a task so every submission below lands while it is busy:
        // none of them may call selector.wakeup(), since the loop is already awake.
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        loop.execute(() -> {
            inside.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertTrue(inside.await(10, TimeUnit.SECONDS));
        long wakeups = loop.wakeupCalls.get();
        CountDownLatch ran = new CountDownLatch(10_000);
        for (int i = 0; i < 10_000; i++) {
            loop.execute(ran::countDown);
        }
        assertEquals(wakeups, loop.wakeupCalls.get(), "no wake-up while the loop is awake");
        release.countDown();
        assertTrue(ran.await(10, TimeUnit.SECONDS));
    }

    /** The loop has published when it will wake next, i.e. it is in (or entering) select. */
    private void awaitLoopAsleep() {
        eventually().until(loop::isAsleep);
    }

    @Test
    void aThrowingTaskOrTimerIsLoggedAndTheLoopGoesOn() throws Exception {
        loop = EventLoop.start("throwing");
        loop.execute(() -> {
            throw new IllegalStateException("task boom (expected by the test)");
        });
        loop.schedule(() -> {
            throw new IllegalStateException("timer boom (expected by the test)");
        }, 1, TimeUnit.MILLISECONDS);
        CountDownLatch after = new CountDownLatch(2);
        loop.schedule(after::countDown, 5, TimeUnit.MILLISECONDS);
        loop.execute(after::countDown);
        assertTrue(after.await(10, TimeUnit.SECONDS));
    }

    @Test
    void loopOnlyMethodsFailOffTheLoop() throws Exception {
        loop = EventLoop.start("guard");
        assertFalse(loop.inEventLoop());
        java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open();
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> loop.register(pipe.source(), java.nio.channels.SelectionKey.OP_READ, (r, ops) -> { }));
            assertTrue(e.getMessage().contains("loop thread"), e.getMessage());
            CompletableFuture<Boolean> onLoop = new CompletableFuture<>();
            loop.execute(() -> onLoop.complete(loop.inEventLoop()));
            assertTrue(onLoop.get(10, TimeUnit.SECONDS));
        } finally {
            pipe.source().close();
            pipe.sink().close();
        }
    }

    @Test
    void shutdownCompletesTheFutureEndsTheThreadAndRejectsNewWork() throws Exception {
        loop = EventLoop.start("shutdown");
        AtomicReference<Thread> thread = new AtomicReference<>();
        CountDownLatch known = new CountDownLatch(1);
        loop.execute(() -> {
            thread.set(Thread.currentThread());
            known.countDown();
        });
        assertTrue(known.await(10, TimeUnit.SECONDS));
        AtomicBoolean timerRan = new AtomicBoolean();
        TimerHandle pending = loop.schedule(() -> timerRan.set(true), 1, TimeUnit.HOURS);
        loop.shutdownGracefully(Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS);
        assertTrue(loop.isTerminated());
        thread.get().join(10_000);
        assertFalse(thread.get().isAlive());
        assertTrue(pending.isCancelled(), "pending timers are cancelled at termination");
        assertFalse(timerRan.get());
        assertThrows(RejectedExecutionException.class, () -> loop.execute(() -> { }));
        assertThrows(RejectedExecutionException.class, () -> loop.schedule(() -> { }, 1, TimeUnit.SECONDS));
    }

    @Test
    void tasksQueuedBeforeShutdownStillRun() throws Exception {
        loop = EventLoop.start("drain-tasks");
        AtomicLong ran = new AtomicLong();
        for (int i = 0; i < 10_000; i++) {
            loop.execute(ran::incrementAndGet);
        }
        loop.close();
        assertEquals(10_000, ran.get());
    }

    @Test
    void closeOnAnOpenLoopNobodyRunsClosesAtOnce() {
        loop = EventLoop.open();
        AtomicBoolean ran = new AtomicBoolean();
        loop.execute(() -> ran.set(true));
        loop.close();
        assertTrue(loop.isTerminated());
        assertTrue(loop.terminationFuture().isDone());
        assertTrue(ran.get(), "tasks queued before close still run");
    }

    @Test
    void runAndRunOnceBelongToOpenLoopsOnly() {
        loop = EventLoop.start("own-thread");
        assertThrows(IllegalStateException.class, () -> loop.runOnce(0));
        assertThrows(IllegalStateException.class, () -> loop.run());
    }

    @Test
    void runReturnsWhenTheLoopIsShutDownFromAnotherThread() throws Exception {
        loop = EventLoop.open();
        CountDownLatch running = new CountDownLatch(1);
        loop.execute(running::countDown);
        Thread stopper = new Thread(() -> {
            try {
                running.await();
            } catch (InterruptedException e) {
                return;
            }
            loop.shutdownGracefully(Duration.ofSeconds(1));
        });
        stopper.start();
        loop.run(); // returns only once terminated
        assertTrue(loop.isTerminated());
        stopper.join();
    }

    /**
     * A task that restores an interrupt (the usual catch-InterruptedException idiom)
     * would make every select return at once: the loop clears the flag and sleeps again.
     */
    @Test
    void anInterruptLeftOnTheLoopThreadIsClearedSoTheLoopDoesNotSpin() throws Exception {
        loop = EventLoop.start("interrupted");
        CountDownLatch interrupted = new CountDownLatch(1);
        loop.execute(() -> {
            Thread.currentThread().interrupt();
            interrupted.countDown();
        });
        assertTrue(interrupted.await(10, TimeUnit.SECONDS));
        CompletableFuture<Boolean> flagInALaterIteration = new CompletableFuture<>();
        // A timer, not a task: a task might still run in the same task pass, before any select.
        loop.schedule(() -> flagInALaterIteration.complete(Thread.currentThread().isInterrupted()), 1, TimeUnit.MILLISECONDS);
        assertFalse(flagInALaterIteration.get(10, TimeUnit.SECONDS), "cleared by the next select");
        awaitLoopAsleep();
        long iterations = loop.iterations;
        CompletableFuture<Long> after = new CompletableFuture<>();
        loop.execute(() -> after.complete(loop.iterations));
        assertTrue(after.get(10, TimeUnit.SECONDS) - iterations <= 2, "the loop was asleep, not spinning");
    }

    /** On an application's thread, runOnce hands the interrupt back when it returns. */
    @Test
    void runOnceGivesTheApplicationsInterruptBack() {
        loop = EventLoop.open();
        Thread.currentThread().interrupt();
        loop.runOnce(0);
        assertTrue(Thread.interrupted(), "the application's interrupt survives runOnce");
    }

    /** Every handle schedule() returns around termination ends up done: run, or cancelled. */
    @Test
    void timersScheduledWhileTheLoopTerminatesAreNeverLeftPending() throws Exception {
        for (int round = 0; round < 100; round++) {
            EventLoop racing = EventLoop.start("racing-" + round);
            List<TimerHandle> handles = new java.util.concurrent.CopyOnWriteArrayList<>();
            CountDownLatch scheduling = new CountDownLatch(100);
            Thread producer = new Thread(() -> {
                try {
                    for (;;) {
                        handles.add(racing.schedule(() -> { }, 1, TimeUnit.HOURS));
                        scheduling.countDown();
                    }
                } catch (RejectedExecutionException expected) {
                    // the loop has terminated: the producer stops
                }
            });
            producer.start();
            assertTrue(scheduling.await(10, TimeUnit.SECONDS));
            racing.close();
            producer.join();
            for (TimerHandle h : handles) {
                assertTrue(h.isDone(), "round " + round + ": a handle returned without an exception is still pending");
            }
        }
    }

    /**
     * Fixed-rate timers keep to their times: never early, and a run that overran several
     * periods is followed by the next time still ahead, not by a burst of missed runs.
     * Asserted on the times themselves (each run in a period slot of its own), not on
     * how long anything took.
     */
    @Test
    void fixedRateTimersSkipMissedPeriodsInsteadOfBursting() throws Exception {
        loop = EventLoop.start("fixed-rate");
        long period = TimeUnit.MILLISECONDS.toNanos(10);
        List<Long> runs = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.CountDownLatch sixRuns = new java.util.concurrent.CountDownLatch(6);
        TimerHandle timer = loop.scheduleAtFixedRate(() -> {
            runs.add(EventLoop.nanoTime());
            if (runs.size() == 2) {
                // A callback that overruns five periods (busy, as a slow callback is).
                long until = System.nanoTime() + 5 * period;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
            }
            sixRuns.countDown();
        }, 10, 10, TimeUnit.MILLISECONDS);
        // Its times are firstDeadline + k * period; read before the first run can move it.
        long start = timer.deadline;
        assertTrue(sixRuns.await(60, TimeUnit.SECONDS));
        assertTrue(timer.cancel(), "cancel stops a fixed-rate timer that is still running");
        int ranBeforeCancel = runs.size();
        long previousSlot = 0;
        for (long at : runs) {
            long slot = (at - start) / period + 1; // the run for time start + k * period lands in slot >= k + 1
            assertTrue(at >= start, "never early");
            assertTrue(slot > previousSlot, "one run per period at most, no catch-up burst: " + runs);
            previousSlot = slot;
        }
        // The loop's next pass has seen the cancel: no run after it.
        TestSupport.onLoop(loop, () -> null);
        TestSupport.onLoop(loop, () -> null);
        assertTrue(runs.size() <= ranBeforeCancel + 1, "at most the run already under way when cancelled");
        assertThrows(IllegalArgumentException.class, () -> loop.scheduleAtFixedRate(() -> { }, 0, 0, TimeUnit.SECONDS));
    }
}
