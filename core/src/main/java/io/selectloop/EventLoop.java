package io.selectloop;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One thread, one {@link Selector}, a task queue and a timer heap.
 *
 * <p>A loop either runs on a thread of its own ({@link #start(String)}) or inside a
 * thread the application owns ({@link #open()}, then {@link #run()} or
 * {@link #runOnce(long)}). Either way, exactly one thread at a time is "the loop
 * thread", and every selector, key and channel operation happens on it. Other threads
 * talk to the loop only through {@link #execute(Runnable)} and
 * {@link #schedule(Runnable, long, TimeUnit)}.
 *
 * <p>One iteration, in order:
 * <ol>
 *   <li>compute the select timeout from the nearest timer (0 if tasks are queued);</li>
 *   <li>{@code select(Consumer, timeout)}, dispatching each ready key as the selector
 *       reports it (no selected-key set to clear);</li>
 *   <li>run expired timers, then queued tasks, the tasks bounded by a time budget so
 *       that a flood of tasks cannot starve I/O;</li>
 *   <li>flush every connection that was written to during this iteration: one
 *       gathering write per connection, however many {@code write} calls it took.</li>
 * </ol>
 *
 * <pre>{@code
 * EventLoop loop = EventLoop.start("echo");
 * StreamServer.bind(loop, new InetSocketAddress("127.0.0.1", 7007), () -> (c, data) -> c.write(data));
 * ...
 * loop.shutdownGracefully(Duration.ofSeconds(5)).join();
 * }</pre>
 */
public final class EventLoop implements Executor, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventLoop.class);

    /** The loop whose iteration the current thread is running, if any: see {@link #close()}. */
    private static final ThreadLocal<EventLoop> RUNNING = new ThreadLocal<>();
    private static final LogLimiter interruptLog = new LogLimiter(log, org.slf4j.event.Level.WARN);
    private static final LogLimiter selectFailureLog = new LogLimiter(log, org.slf4j.event.Level.WARN);

    /** The loop's clock starts here so deadlines are small positive numbers and -1 can mean "awake". */
    private static final long ORIGIN = System.nanoTime();
    private static final long AWAKE = -1L;
    private static final long NO_DEADLINE = Long.MAX_VALUE;

    /** Size of the loop's one read buffer: every connection reads into it in turn. */
    static final int READ_BUFFER_SIZE = 64 * 1024;
    /** How long queued tasks, and separately due timers, may run per iteration before the loop goes back to I/O. */
    static final long TASK_BUDGET_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    /** Tasks waiting at once before {@link #execute} refuses more: a bound, not a target. */
    static final int MAX_PENDING_TASKS = 1 << 22;
    /** Upper bound on buffers gathered into one write call. */
    static final int MAX_GATHER = 64;
    /** Consecutive failed selects, each followed by a rebuild and a growing pause, before the loop gives up. */
    static final int MAX_SELECT_FAILURES = 30;

    private static final int OPEN = 0, SHUTTING_DOWN = 1, TERMINATED = 2;

    private final String name;
    private final boolean ownThread;
    private volatile Thread thread;
    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicInteger state = new AtomicInteger(OPEN);
    private final AtomicLong shutdownDeadline = new AtomicLong(NO_DEADLINE);
    private final CompletableFuture<Void> terminationFuture = new CompletableFuture<>();
    /**
     * Heap held in reserve and let go when the loop fails, so that after an
     * OutOfMemoryError there is room to log, close every connection and complete the
     * termination future (the usual "parachute" of servers that must report an OOM).
     */
    private volatile byte[] oomParachute = new byte[2 << 20];
    private volatile Throwable lastFailure;
    /**
     * Set once the shutdown request has come through the task queue, so that the writes
     * and closes a thread handed over before asking for the shutdown are done before it.
     */
    private volatile boolean shutdownReached;
    private int consecutiveSelectFailures;

    private Selector selector;
    /** Set when the thread's interrupt flag was found (and cleared) during an iteration. Loop thread only. */
    private boolean interruptedDuringIteration;
    private final Consumer<SelectionKey> dispatcher = this::dispatch;

    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicInteger pendingTasks = new AtomicInteger();
    private final TimerQueue timers = new TimerQueue();
    private final Queue<TimerHandle> incomingTimers = new ConcurrentLinkedQueue<>();
    private final Queue<TimerHandle> cancelledTimers = new ConcurrentLinkedQueue<>();
    private final AtomicLong timerSequence = new AtomicLong();
    /**
     * When the loop will wake by itself ({@link #NO_DEADLINE}: never), or {@link #AWAKE}.
     * A producer wakes the selector only by swapping this to AWAKE, so however many
     * threads submit during one sleep, the selector is woken once.
     */
    private final AtomicLong nextWakeupNanos = new AtomicLong(AWAKE);

    private final ArrayDeque<DeferredFlush> deferredFlushes = new ArrayDeque<>();
    /** Loop thread only: see {@link #afterNextSelect}. Swapped, not copied, each iteration. */
    private ArrayList<Runnable> waitingForNextSelect = new ArrayList<>();
    private ArrayList<Runnable> waitingForThisSelect = new ArrayList<>();
    final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_BUFFER_SIZE);
    final ReadViews readViews = new ReadViews(readBuffer);
    final ByteBuffer[] gatherScratch = new ByteBuffer[MAX_GATHER];
    final BufferPool pool = new BufferPool();
    /** TLS (issue 10): buffers the loop's TLS connections share in turn; made by the first one. */
    TlsSession.Scratch tlsScratch;
    private final MemoryBudget budget;
    private final LoadShedder shedder;

    // Counters, for tests and diagnostics. Written by the loop thread unless noted.
    final AtomicLong wakeupCalls = new AtomicLong();
    volatile long iterations;
    volatile int selectorRebuilds;
    /** [metrics] This loop's own counters and activity clock (see {@link #metrics()}). */
    final LoopCounters counters = new LoopCounters();

    static {
        initializeJdkIoClasses();
    }

    /**
     * The JDK initialises parts of its I/O layer lazily, and some of them open a file
     * descriptor while doing so (on Linux, JDK 17's {@code FileDispatcherImpl} opens a
     * socket pair on the first gathering write). If that first use happens while the
     * process is out of descriptors, the class fails to initialise and every later
     * gathering write and socket close in the process throws
     * {@code NoClassDefFoundError}: one EMFILE episode would break the server for good.
     * So exercise those paths once, while descriptors are surely available.
     */
    private static void initializeJdkIoClasses() {
        try {
            java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open();
            try {
                pipe.sink().write(new ByteBuffer[] {ByteBuffer.allocate(1), ByteBuffer.allocateDirect(1)});
                pipe.source().read(new ByteBuffer[] {ByteBuffer.allocate(1), ByteBuffer.allocateDirect(1)});
            } finally {
                pipe.sink().close();
                pipe.source().close();
            }
        } catch (IOException | RuntimeException e) {
            log.debug("could not pre-initialise the JDK's I/O classes", e);
        }
    }

    private EventLoop(String name, boolean ownThread, MemoryBudget budget) throws IOException {
        this.name = name;
        this.ownThread = ownThread;
        this.budget = budget;
        this.shedder = new LoadShedder(this, budget);
        this.selector = Selector.open();
        budget.attach(this);
    }

    /**
     * Creates a loop with default {@link LoopOptions} and starts it on a new (non-daemon)
     * thread called {@code name}. Any thread may call this.
     */
    public static EventLoop start(String name) {
        return start(name, LoopOptions.defaults());
    }

    /** As {@link #start(String)}, with these options. Any thread. */
    public static EventLoop start(String name, LoopOptions options) {
        return start(name, options.newBudget()).watchedAs(options); // [watchdog]
    }

    /** A started loop drawing on {@code budget}, which the loops of a group share. */
    static EventLoop start(String name, MemoryBudget budget) {
        EventLoop loop = create(name, true, budget);
        Thread t = new Thread(loop::runOnOwnThread, name);
        loop.thread = t;
        t.start();
        return loop;
    }

    /**
     * Creates a loop with default {@link LoopOptions} for the application to drive with
     * {@link #run()} or {@link #runOnce(long)} on a thread it owns. Until then, the
     * thread that called {@code open()} counts as the loop thread, so it may set up
     * registrations directly.
     */
    public static EventLoop open() {
        return open(LoopOptions.defaults());
    }

    /** As {@link #open()}, with these options. */
    public static EventLoop open(LoopOptions options) {
        EventLoop loop = create("selectloop-" + Thread.currentThread().getName(), false, options.newBudget());
        loop.thread = Thread.currentThread();
        return loop.watchedAs(options); // [watchdog]
    }

    private static EventLoop create(String name, boolean ownThread, MemoryBudget budget) {
        try {
            return new EventLoop(Objects.requireNonNull(name, "name"), ownThread, budget);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot open a selector", e);
        }
    }

    /** The memory budget this loop draws on (shared by the loops of a group). Any thread. */
    public MemoryBudget memoryBudget() {
        return budget;
    }

    /** The loop's name (its thread's name for started loops). */
    public String name() {
        return name;
    }

    /** True when called on this loop's thread. Any thread. */
    public boolean inEventLoop() {
        return Thread.currentThread() == thread;
    }

    /** True once {@link #shutdownGracefully} or {@link #close()} was called. Any thread. */
    public boolean isShuttingDown() {
        return state.get() != OPEN;
    }

    /**
     * True once the loop has begun terminating: from then on it takes no new work
     * ({@code execute} and {@code schedule} throw). Closing what is left happens right
     * after; {@link #terminationFuture()} completes when it is all done. Any thread.
     */
    public boolean isTerminated() {
        return state.get() == TERMINATED;
    }

    /**
     * Completes when the loop has terminated: normally after a shutdown or close, and
     * exceptionally, with the cause, if the loop itself failed (say an
     * {@link OutOfMemoryError} on its thread). A failed loop has closed every connection
     * and registration it had, and logged the failure at ERROR; this future is the hook
     * an application uses to exit or restart (the echo demo exits with status 70). Any
     * thread.
     */
    public CompletableFuture<Void> terminationFuture() {
        return terminationFuture;
    }

    /**
     * Errors that leave the JVM in a state where no callback can be trusted to run
     * properly again: an {@link OutOfMemoryError} or an {@link InternalError} ends the
     * loop. A {@link StackOverflowError} is one handler's deep recursion, unwound by the
     * time it is caught, so it closes only that handler's connection.
     */
    static void rethrowIfFatal(Throwable t) {
        if (t instanceof VirtualMachineError && !(t instanceof StackOverflowError)) {
            throw (VirtualMachineError) t;
        }
    }

    void checkInEventLoop() {
        if (!inEventLoop()) {
            throw new IllegalStateException("called from " + Thread.currentThread().getName()
                    + "; only the loop thread (" + name + ") may call this: hop on with execute()");
        }
    }

    // ------------------------------------------------------------------ running

    /**
     * Runs the loop on the calling thread until it terminates. Only for loops from
     * {@link #open()}; the calling thread becomes the loop thread.
     *
     * @throws IllegalStateException for a started loop, or if another thread is running it
     */
    public void run() {
        claim();
        try {
            while (state.get() != TERMINATED) {
                iterate(-1);
            }
        } finally {
            running.set(false);
            ensureTerminationReported();
        }
    }

    /**
     * Runs one iteration on the calling thread, waiting at most {@code timeoutMillis} for
     * I/O (0: do not wait; negative: wait until something happens). Only for loops from
     * {@link #open()}; the calling thread becomes the loop thread.
     *
     * @return false once the loop has terminated
     */
    public boolean runOnce(long timeoutMillis) {
        claim();
        try {
            if (state.get() != TERMINATED) {
                iterate(timeoutMillis < 0 ? -1 : TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
            }
            return state.get() != TERMINATED;
        } finally {
            running.set(false);
            if (state.get() == TERMINATED) {
                ensureTerminationReported();
            }
            if (interruptedDuringIteration) {
                // The thread is the application's: give its interrupt back.
                interruptedDuringIteration = false;
                Thread.currentThread().interrupt();
            }
        }
    }

    private void claim() {
        if (ownThread) {
            throw new IllegalStateException("loop " + name + " runs on its own thread; run()/runOnce() are for EventLoop.open() loops");
        }
        if (!running.compareAndSet(false, true)) {
            throw new IllegalStateException("loop " + name + " is already being run by " + thread);
        }
        thread = Thread.currentThread();
    }

    private void runOnOwnThread() {
        running.set(true);
        try {
            while (state.get() != TERMINATED) {
                iterate(-1);
            }
        } finally {
            running.set(false);
            ensureTerminationReported();
        }
    }

    /**
     * The last line of defence: whatever escaped (an OutOfMemoryError thrown again while
     * failing), the loop must not end without saying so, or its owner waits for ever.
     */
    private void ensureTerminationReported() {
        if (terminationFuture.isDone()) {
            return;
        }
        oomParachute = null;
        state.set(TERMINATED);
        for (int attempt = 0; attempt < 3 && !terminationFuture.isDone(); attempt++) {
            try {
                terminationFuture.completeExceptionally(lastFailure != null ? lastFailure
                        : new IllegalStateException("event loop " + name + " ended without terminating"));
            } catch (Throwable outOfMemory) {
                System.gc(); // dying anyway: make room for the one object that says so
            }
        }
    }

    /** One pass of the loop. {@code maxWaitNanos < 0} waits as long as the timers allow. */
    private void iterate(long maxWaitNanos) {
        EventLoop outer = RUNNING.get();
        RUNNING.set(this);
        try {
            iterations++;
            counters.iterationStarted(ownThread); // [metrics]
            moveIncomingTimers();
            ArrayList<Runnable> dueAfterSelect = waitingForNextSelect;
            waitingForNextSelect = waitingForThisSelect;
            waitingForThisSelect = dueAfterSelect;
            select(maxWaitNanos);
            shedder.shedIfOverBudget();
            runAfterSelect(dueAfterSelect);
            runExpiredTimers();
            runTasks();
            runDeferredFlushes();
            shedder.shedIfOverBudget();
            if (state.get() != OPEN) {
                advanceShutdown();
            }
            counters.iterationEnded(ownThread, timers.size()); // [metrics] publishes this iteration's counts
        } catch (Throwable t) {
            // User callbacks are guarded one by one, so only a failure of the loop itself
            // gets here, or a fatal error (OutOfMemoryError) from anywhere: carrying on
            // could leave a loop that accepts nothing and answers nobody, so end it, visibly.
            oomParachute = null; // room for the log line, the closes and the future
            lastFailure = t;
            try {
                fail(t);
            } catch (Throwable again) {
                // Failing failed too (out of memory again): the loop's thread still ends as
                // terminated, and ensureTerminationReported() says why.
                state.set(TERMINATED);
            }
        } finally {
            RUNNING.set(outer);
        }
    }

    private void select(long maxWaitNanos) {
        long now = nanoTime();
        long timeout = tasks.isEmpty() && waitingForThisSelect.isEmpty() ? timeoutUntilNextDeadline(now) : 0;
        if (maxWaitNanos >= 0) {
            timeout = Math.min(timeout, maxWaitNanos);
        }
        try {
            if (timeout <= 0) {
                selector.selectNow(dispatcher);
                return;
            }
            nextWakeupNanos.set(timeout == NO_DEADLINE ? NO_DEADLINE : now + timeout);
            try {
                // Re-check after publishing the wake-up time: a producer that ran between
                // our first check and the publication saw AWAKE and did not wake us.
                if (!tasks.isEmpty() || !incomingTimers.isEmpty()) {
                    selector.selectNow(dispatcher);
                } else {
                    counters.selecting(System.nanoTime()); // [metrics] asleep from here: idle, not busy
                    selector.select(dispatcher, timeout == NO_DEADLINE ? 0 : toMillisRoundedUp(timeout));
                }
            } finally {
                nextWakeupNanos.set(AWAKE);
                counters.wokeIfSleeping(); // [metrics]
            }
            consecutiveSelectFailures = 0;
        } catch (IOException e) {
            selectFailed(e);
        }
        if (Thread.interrupted()) {
            // An interrupt flag left set (a task that caught InterruptedException and
            // restored it, say) makes every select return at once: the loop would spin at
            // full CPU for good. Clear it, as Netty does; runOnce hands it back to the
            // application's thread when the iteration ends.
            interruptedDuringIteration = true;
            interruptLog.log("event loop {}: its thread was interrupted; the loop clears the flag and goes on "
                    + "(shut a loop down with shutdownGracefully or close)", name);
        }
    }

    private long timeoutUntilNextDeadline(long now) {
        long deadline = NO_DEADLINE;
        TimerHandle next = timers.peek();
        if (next != null) {
            deadline = next.deadline;
        }
        if (state.get() != OPEN) {
            deadline = Math.min(deadline, shutdownDeadline.get());
        }
        return deadline == NO_DEADLINE ? NO_DEADLINE : Math.max(0, deadline - now);
    }

    /** Rounded up, so that a timer is never found early and re-slept for 0 ms in a spin. */
    private static long toMillisRoundedUp(long nanos) {
        return Math.max(1, (nanos + 999_999) / 1_000_000);
    }

    private void dispatch(SelectionKey key) {
        Registration registration = (Registration) key.attachment();
        int readyOps;
        try {
            readyOps = key.readyOps();
        } catch (java.nio.channels.CancelledKeyException e) {
            return; // closed by an earlier handler in this same pass
        }
        counters.wokeIfSleeping(); // [metrics] keys are dispatched from inside select
        try {
            registration.handlerUnchecked().ready(registration, readyOps);
        } catch (Throwable t) {
            rethrowIfFatal(t);
            log.warn("I/O handler for {} threw; closing that channel", registration.channel(), t);
            closeAfterFailure(registration, t);
        }
        counters.callbackEnded(System.nanoTime()); // [metrics]
    }

    /**
     * Closes a registration whose handler failed. A loop resource (server, connection,
     * endpoint) closes itself, so that it reports the close (onClose, a freed connection
     * slot, a removed socket file) instead of being left half-dead with a closed channel.
     */
    private static void closeAfterFailure(Registration registration, Throwable cause) {
        IoHandler h = registration.handlerUnchecked();
        if (h instanceof LoopResource) {
            try {
                ((LoopResource) h).forceClose(cause);
            } catch (Throwable t) {
                rethrowIfFatal(t);
                log.warn("closing {} after a failure failed too", registration.channel(), t);
            }
        }
        registration.closeQuietly();
    }

    /**
     * {@code select} failed: the selector itself is suspect. Move every registration to a
     * fresh selector, keeping interest and attachment, rather than dying. A selector that
     * fails every time would make that a tight loop of rebuilds and log lines: pause a
     * little longer after each failure in a row (10 ms, doubling up to 1 s), and after
     * {@link #MAX_SELECT_FAILURES} of them give up and fail the loop, visibly.
     */
    private void selectFailed(IOException cause) {
        consecutiveSelectFailures++;
        if (consecutiveSelectFailures > MAX_SELECT_FAILURES) {
            throw new java.io.UncheckedIOException("select failed " + MAX_SELECT_FAILURES + " times in a row", cause);
        }
        long pauseMillis = Math.min(1000, 10L << Math.min(7, consecutiveSelectFailures - 1));
        selectFailureLog.log("event loop {}: select failed ({}); rebuilding the selector and pausing {} ms",
                name, cause.toString(), pauseMillis);
        rebuildSelector();
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(pauseMillis));
    }

    /** Package-private so tests can prove registrations survive a rebuild. Loop thread only. */
    void rebuildSelector() {
        checkInEventLoop();
        Selector old = selector;
        Selector fresh;
        try {
            fresh = Selector.open();
        } catch (IOException e) {
            log.error("event loop {}: cannot open a new selector; keeping the old one", name, e);
            return;
        }
        for (SelectionKey key : old.keys().toArray(new SelectionKey[0])) {
            Registration registration = (Registration) key.attachment();
            if (!key.isValid()) {
                continue;
            }
            int ops = key.interestOps();
            key.cancel();
            try {
                registration.key(registration.channel().register(fresh, ops, registration));
            } catch (ClosedChannelException e) {
                // closed meanwhile; nothing to move
            } catch (RuntimeException e) {
                log.warn("event loop {}: could not move {} to the new selector; closing it", name, registration.channel(), e);
                closeAfterFailure(registration, e);
            }
        }
        selector = fresh;
        selectorRebuilds++;
        try {
            old.close();
        } catch (IOException e) {
            log.debug("closing the old selector failed", e);
        }
    }

    /**
     * Runs {@code task} on the loop thread right after the loop's next {@code select},
     * never in the current iteration: the selector releases a cancelled key's channel
     * (its file descriptor, and so its port) only at the start of the select after the
     * cancel, so this is when a closed channel is really gone. If the loop terminates
     * first, the task runs then, after the selector (and every channel) is closed.
     * Loop thread only.
     */
    void afterNextSelect(Runnable task) {
        checkInEventLoop();
        waitingForNextSelect.add(Objects.requireNonNull(task, "task"));
    }

    private void runAfterSelect(ArrayList<Runnable> due) {
        if (due.isEmpty()) {
            return;
        }
        // By index: at termination a task may still add to the list being run.
        for (int i = 0; i < due.size(); i++) {
            runSafely(due.get(i), "after-select task");
        }
        due.clear();
    }

    // ------------------------------------------------------------------ registration

    /**
     * Registers a channel, like {@code selector.register(fileobj, events, data)}. The
     * channel is switched to non-blocking mode if it is not already. Loop thread only.
     *
     * @param ops     {@code SelectionKey.OP_*} bits to wait for (may be 0)
     * @param handler called on this loop each time the channel is ready
     */
    public Registration register(SelectableChannel channel, int ops, IoHandler handler) throws IOException {
        return register(channel, ops, handler, null);
    }

    /** As {@link #register(SelectableChannel, int, IoHandler)}, with an attachment. Loop thread only. */
    public Registration register(SelectableChannel channel, int ops, IoHandler handler, Object attachment)
            throws IOException {
        checkInEventLoop();
        if (state.get() == TERMINATED) {
            throw new IllegalStateException("event loop " + name + " has terminated");
        }
        if (channel.isBlocking()) {
            channel.configureBlocking(false);
        }
        Registration registration = new Registration(this, channel, handler, attachment);
        registration.key(channel.register(selector, ops, registration));
        return registration;
    }

    // ------------------------------------------------------------------ tasks

    /**
     * Runs {@code task} on the loop thread, after the tasks already queued. Tasks from
     * one thread run in the order they were submitted. Any thread; from another thread
     * it wakes a sleeping loop at most once per sleep however many tasks arrive.
     *
     * @throws RejectedExecutionException once the loop has terminated, or when more than
     *     four million tasks are waiting (a producer far outrunning the loop)
     */
    @Override
    public void execute(Runnable task) {
        Objects.requireNonNull(task, "task");
        if (state.get() == TERMINATED) {
            throw new RejectedExecutionException("event loop " + name + " has terminated");
        }
        if (pendingTasks.incrementAndGet() > MAX_PENDING_TASKS) {
            pendingTasks.decrementAndGet();
            throw new RejectedExecutionException("event loop " + name + " has " + MAX_PENDING_TASKS
                    + " tasks waiting; the submitter is outrunning the loop");
        }
        tasks.offer(task);
        if (state.get() == TERMINATED && tasks.remove(task)) {
            pendingTasks.decrementAndGet();
            throw new RejectedExecutionException("event loop " + name + " has terminated");
        }
        if (!inEventLoop()) {
            wakeUp();
        }
    }

    /** Runs {@code task} now if on the loop thread, else queues it. */
    void runOrExecute(Runnable task) {
        if (inEventLoop()) {
            task.run();
        } else {
            execute(task);
        }
    }

    private void wakeUp() {
        if (nextWakeupNanos.getAndSet(AWAKE) != AWAKE) {
            wakeupCalls.incrementAndGet();
            selector.wakeup();
        }
    }

    private void runTasks() {
        long start = System.nanoTime();
        int ran = 0;
        Runnable task;
        while ((task = tasks.poll()) != null) {
            pendingTasks.decrementAndGet();
            runSafely(task, "task");
            counters.taskRan(); // [metrics]
            if ((++ran & 31) == 0 && System.nanoTime() - start > TASK_BUDGET_NANOS) {
                return; // the rest run next iteration, after I/O had its turn
            }
        }
    }

    private void runSafely(Runnable r, String what) {
        try {
            r.run();
        } catch (Throwable t) {
            rethrowIfFatal(t);
            log.warn("event loop {}: {} {} threw; the loop goes on", name, what, r, t);
        }
        counters.callbackEnded(System.nanoTime()); // [metrics]
    }

    // ------------------------------------------------------------------ timers

    /** The loop's clock, in nanoseconds. */
    static long nanoTime() {
        return System.nanoTime() - ORIGIN;
    }

    /**
     * Runs {@code task} on the loop thread once {@code delay} has passed; never earlier.
     * Timers with the same deadline run in the order they were scheduled. Any thread;
     * from another thread it wakes the loop only if the new deadline is earlier than
     * the one the loop is sleeping towards.
     *
     * @return a handle whose {@link TimerHandle#cancel()} stops it from ever running
     * @throws RejectedExecutionException once the loop has terminated
     */
    public TimerHandle schedule(Runnable task, long delay, TimeUnit unit) {
        return schedule(task, delay, 0, unit);
    }

    /**
     * Runs {@code task} on the loop thread after {@code initialDelay}, then every
     * {@code period}, at fixed times (initialDelay + k × period, so it does not drift
     * however long each run takes), until the returned handle is cancelled. A run never
     * starts early. If the loop was busy past one or more of those times (a long
     * callback, a paused VM), the missed runs are skipped, not run back to back: the next
     * run is at the next time still ahead. A task that throws is logged and keeps its
     * schedule. Any thread.
     *
     * @return a handle whose {@link TimerHandle#cancel()} stops every later run
     * @throws IllegalArgumentException if {@code period} is not positive
     * @throws RejectedExecutionException once the loop has terminated
     */
    public TimerHandle scheduleAtFixedRate(Runnable task, long initialDelay, long period, TimeUnit unit) {
        long periodNanos = unit.toNanos(period);
        if (periodNanos <= 0) {
            throw new IllegalArgumentException("period must be positive, was " + period + " " + unit);
        }
        return schedule(task, initialDelay, periodNanos, unit);
    }

    private TimerHandle schedule(Runnable task, long delay, long periodNanos, TimeUnit unit) {
        Objects.requireNonNull(task, "task");
        if (state.get() == TERMINATED) {
            throw new RejectedExecutionException("event loop " + name + " has terminated");
        }
        long delayNanos = Math.max(0, unit.toNanos(delay));
        long now = nanoTime();
        long deadline = delayNanos > NO_DEADLINE - 1 - now ? NO_DEADLINE - 1 : now + delayNanos;
        TimerHandle timer = new TimerHandle(this, task, deadline, timerSequence.getAndIncrement(), periodNanos);
        if (inEventLoop()) {
            timers.add(timer);
        } else {
            incomingTimers.offer(timer);
            if (state.get() == TERMINATED && incomingTimers.remove(timer)) {
                // Terminated between the check above and the offer: nobody will run it.
                timer.cancel();
                throw new RejectedExecutionException("event loop " + name + " has terminated");
            }
            wakeUpIfEarlier(deadline);
        }
        return timer;
    }

    private void wakeUpIfEarlier(long deadline) {
        for (;;) {
            long planned = nextWakeupNanos.get();
            if (planned == AWAKE || deadline >= planned) {
                return;
            }
            if (nextWakeupNanos.compareAndSet(planned, AWAKE)) {
                wakeupCalls.incrementAndGet();
                selector.wakeup();
                return;
            }
        }
    }

    /** Called by {@link TimerHandle#cancel()} from any thread. */
    void timerCancelled(TimerHandle timer) {
        if (inEventLoop()) {
            timers.remove(timer);
        } else {
            // No wake-up: the loop drops it from the heap on its next pass; until then
            // the cancelled flag alone keeps it from running.
            cancelledTimers.offer(timer);
        }
    }

    private void moveIncomingTimers() {
        TimerHandle t;
        while ((t = incomingTimers.poll()) != null) {
            if (!t.isCancelled()) {
                timers.add(t);
            }
        }
        while ((t = cancelledTimers.poll()) != null) {
            timers.remove(t);
        }
    }

    private void runExpiredTimers() {
        moveIncomingTimers();
        TimerHandle next = timers.peek();
        if (next == null) {
            return;
        }
        long now = nanoTime();
        // Only timers already due when this pass began, and scheduled before it: one that
        // reschedules itself with no delay waits for the next iteration instead of
        // spinning here. And at most a time budget's worth, so that thousands of idle
        // timeouts expiring together are spread over several iterations with I/O in
        // between, rather than stalling every active connection until all have run.
        long sequenceLimit = timerSequence.get();
        long started = System.nanoTime();
        int ran = 0;
        while ((next = timers.peek()) != null && next.deadline <= now && next.sequence < sequenceLimit) {
            timers.poll();
            if (next.periodNanos == 0) {
                if (next.markFired()) {
                    runSafely(next.task, "timer");
                    counters.timerFired(); // [metrics]
                }
            } else if (!next.isCancelled()) {
                runSafely(next.task, "timer");
                counters.timerFired(); // [metrics]
                rescheduleFixedRate(next);
            }
            if ((++ran & 31) == 0 && System.nanoTime() - started > TASK_BUDGET_NANOS) {
                return; // the rest are overdue, so the next select does not sleep
            }
        }
    }

    /** The next of a fixed-rate timer's times still ahead; missed ones are skipped, not run in a burst. */
    private void rescheduleFixedRate(TimerHandle timer) {
        if (timer.isCancelled() || state.get() == TERMINATED) {
            return;
        }
        long now = nanoTime();
        long next = timer.deadline + timer.periodNanos;
        if (next - now <= 0) {
            long missed = (now - timer.deadline) / timer.periodNanos;
            next = timer.deadline + (missed + 1) * timer.periodNanos;
        }
        timer.reschedule(next, timerSequence.getAndIncrement());
        timers.add(timer);
    }

    /** True while the loop sleeps in select, so a submission from another thread must wake it (tests). */
    boolean isAsleep() {
        return nextWakeupNanos.get() != AWAKE;
    }

    /** Channels registered and not cancelled (tests prove nothing stays registered). Loop thread only. */
    int registeredChannelCount() {
        checkInEventLoop();
        int valid = 0;
        for (SelectionKey key : selector.keys()) {
            if (key.isValid()) {
                valid++;
            }
        }
        return valid;
    }

    /** Number of timers waiting in the heap (tests). Loop thread only. */
    int timerCount() {
        return timers.size();
    }

    // ------------------------------------------------------------------ flushing

    /** Runs {@code connection}'s flush in this iteration's last phase. Loop thread only. */
    void deferFlush(DeferredFlush connection) {
        deferredFlushes.add(connection);
    }

    private void runDeferredFlushes() {
        DeferredFlush c;
        while ((c = deferredFlushes.poll()) != null) {
            c.runDeferredFlush();
        }
    }

    // ------------------------------------------------------------------ memory budget

    /** Keeps this loop within its memory budget. */
    LoadShedder shedder() {
        return shedder;
    }

    /** This loop's open stream connections, for the shedder. Loop thread only. */
    ArrayList<StreamConnection> streamConnections() {
        ArrayList<StreamConnection> connections = new ArrayList<>();
        for (SelectionKey key : selector.keys()) {
            if (key.isValid() && ((Registration) key.attachment()).handlerUnchecked() instanceof StreamConnection) {
                StreamConnection c = (StreamConnection) ((Registration) key.attachment()).handlerUnchecked();
                if (!c.isClosed()) {
                    connections.add(c);
                }
            }
        }
        return connections;
    }

    // ------------------------------------------------------------------ shutdown

    /**
     * Stops the loop in order: servers stop accepting, connections flush their pending
     * output and close, and at the deadline whatever is left is closed at once. Then the
     * loop closes its selector and its thread ends. Any thread; calling it again with a
     * shorter timeout brings the deadline forward.
     *
     * <p>For an {@link #open()} loop the shutdown proceeds while the application keeps
     * calling {@link #run()} or {@link #runOnce(long)}.
     *
     * @return completes when the loop has terminated
     */
    public CompletableFuture<Void> shutdownGracefully(Duration timeout) {
        long timeoutNanos;
        try {
            timeoutNanos = timeout.toNanos();
        } catch (ArithmeticException tooLong) {
            timeoutNanos = timeout.isNegative() ? 0 : NO_DEADLINE / 4; // centuries: as good as forever
        }
        long deadline = nanoTime() + Math.max(0, Math.min(timeoutNanos, NO_DEADLINE / 4));
        shutdownDeadline.accumulateAndGet(deadline, Math::min);
        state.compareAndSet(OPEN, SHUTTING_DOWN);
        if (inEventLoop()) {
            shutdownReached = true;
        } else if (state.get() == SHUTTING_DOWN) {
            // Through the task queue, which also wakes the loop: connections start closing
            // only after the writes and closes this thread handed over before this call.
            try {
                execute(() -> shutdownReached = true);
            } catch (RejectedExecutionException e) {
                shutdownReached = true; // terminated meanwhile, or the queue is full: no order to keep
            }
        }
        return terminationFuture;
    }

    /**
     * Closes the loop now: every connection is closed (pending output dropped), every
     * channel still registered is closed, and the selector is released. Any thread. From
     * a thread that is not running any event loop it waits for the loop to terminate; on
     * a loop thread (this loop's or another's) it returns at once, and the loop
     * terminates at the end of its current iteration ({@link #terminationFuture()} says
     * when). A loop from {@link #open()} is closed at once on the thread that drives it
     * (or on any thread once that thread has ended); from another thread, the close is
     * requested and the driving thread's next {@code run}/{@code runOnce} iteration
     * carries it out, since that thread may be using the loop between two iterations.
     */
    @Override
    public void close() {
        if (state.get() == TERMINATED) {
            // Terminating may still be under way on the loop's thread (state turns TERMINATED
            // first, the future completes last): a caller that expects "closed" waits for it.
            awaitTerminationUnlessOnALoop();
            return;
        }
        Thread driver = thread;
        boolean mayTakeOver = !ownThread && (driver == Thread.currentThread() || driver == null || !driver.isAlive());
        if (mayTakeOver && running.compareAndSet(false, true)) {
            thread = Thread.currentThread();
            try {
                shutdownDeadline.set(0);
                state.compareAndSet(OPEN, SHUTTING_DOWN);
                if (state.get() != TERMINATED) {
                    // Not beginResourceShutdown() first: that would close connections before
                    // terminate() runs the writes other threads handed over.
                    moveIncomingTimers();
                    terminate(null);
                }
            } finally {
                thread = driver;
                running.set(false);
            }
            return;
        }
        shutdownGracefully(Duration.ZERO);
        if (!ownThread) {
            // The application's thread drives this loop and may be between two runOnce
            // calls, using the loop's state: closing it from here would run callbacks on
            // two threads at once. Its next iteration terminates the loop instead.
            return;
        }
        awaitTerminationUnlessOnALoop();
    }

    /**
     * Not from a loop thread, this one's or another's: two loops closing each other (say,
     * both closing their group) would each wait for the other forever. Nor for a loop the
     * application drives, whose driving thread finishes the close.
     */
    private void awaitTerminationUnlessOnALoop() {
        if (ownThread && RUNNING.get() == null) {
            terminationFuture.handle((done, failure) -> null).join(); // a failed loop is closed too
        }
    }

    private boolean resourcesAsked;

    private void advanceShutdown() {
        boolean pastDeadline = nanoTime() >= shutdownDeadline.get();
        if (!shutdownReached) {
            if (pastDeadline) {
                // No time for a graceful close, and tasks handed over before the request are
                // still queued: terminate() runs them, and flushes, before it closes anything.
                terminate(null);
            }
            return;
        }
        boolean remaining = beginResourceShutdown();
        if (!remaining || pastDeadline) {
            terminate(null);
        }
    }

    /**
     * Asks every loop resource to close gracefully (idempotent, so resources registered
     * after the shutdown began are asked too). Returns whether any is still open.
     */
    private boolean beginResourceShutdown() {
        boolean remaining = false;
        boolean first = !resourcesAsked;
        resourcesAsked = true;
        for (SelectionKey key : selector.keys().toArray(new SelectionKey[0])) {
            if (!key.isValid()) {
                continue;
            }
            IoHandler h = ((Registration) key.attachment()).handlerUnchecked();
            if (h instanceof LoopResource) {
                LoopResource resource = (LoopResource) h;
                if (first || !resource.isClosed()) {
                    resource.beginGracefulClose();
                }
                remaining |= !resource.isClosed();
            }
        }
        if (remaining) {
            // Connections that finished flushing during beginGracefulClose were queued for a flush.
            runDeferredFlushes();
        }
        return remaining;
    }

    /** The loop itself failed: end it, closing everything, and say so on every channel we have. */
    private void fail(Throwable failure) {
        try {
            log.error("event loop {} failed and is terminating; its connections are closed", name, failure);
        } catch (Throwable ignored) {
            // out of memory even for the log line: the termination future still says why
        }
        if (state.get() != TERMINATED) {
            terminate(failure);
        }
    }

    /**
     * Closes everything and completes the termination future: exceptionally with
     * {@code failure}, if the loop failed. Every step is attempted even if one fails, so a
     * loop that fails while terminating still ends as terminated.
     */
    private void terminate(Throwable failure) {
        state.set(TERMINATED);
        try {
            // Tasks submitted before termination run first: they may be the writes and
            // closes that other threads handed over, and get one flush before the close.
            // After this, execute() refuses.
            Runnable task;
            while ((task = tasks.poll()) != null) {
                pendingTasks.decrementAndGet();
                runIgnoringFailure(task);
            }
            runIgnoringFailure(this::runDeferredFlushes);
            for (SelectionKey key : selector.keys().toArray(new SelectionKey[0])) {
                if (!key.isValid()) {
                    continue; // unregistered by its owner, whose channel it stays
                }
                Registration registration = (Registration) key.attachment();
                IoHandler h = registration.handlerUnchecked();
                if (h instanceof LoopResource) {
                    LoopResource resource = (LoopResource) h;
                    if (!resource.isClosed()) {
                        runIgnoringFailure(() -> resource.forceClose(null));
                    }
                } else {
                    // A raw registration: the loop is the last owner that knows about it.
                    registration.closeQuietly();
                }
            }
            for (TimerHandle t : timers.drain()) {
                t.cancel();
            }
            TimerHandle incoming;
            while ((incoming = incomingTimers.poll()) != null) {
                incoming.cancel();
            }
            cancelledTimers.clear();
            deferredFlushes.clear();
            shedder.clear();
        } catch (Throwable t) {
            failure = addFailure(failure, t);
        }
        // Whatever failed above, the selector, the pool and the budget are released, and
        // the channels' close futures (waiting for the selector to let go) complete.
        try {
            selector.close();
        } catch (Throwable t) {
            log.debug("closing the selector failed", t);
        }
        runIgnoringFailure(() -> runAfterSelect(waitingForThisSelect));
        runIgnoringFailure(() -> runAfterSelect(waitingForNextSelect));
        runIgnoringFailure(pool::clear);
        runIgnoringFailure(() -> budget.detach(this));
        if (failure == null) {
            terminationFuture.complete(null);
        } else {
            terminationFuture.completeExceptionally(failure);
        }
    }

    private static Throwable addFailure(Throwable first, Throwable next) {
        if (first == null) {
            return next;
        }
        if (first != next) {
            try {
                first.addSuppressed(next);
            } catch (Throwable outOfMemory) {
                // the first failure is the one that counts
            }
        }
        return first;
    }

    /** While terminating: a failing task or close must not stop the rest from closing. */
    private void runIgnoringFailure(Runnable r) {
        try {
            runSafely(r, "task");
        } catch (Throwable fatal) {
            try {
                log.debug("event loop {}: fatal error while terminating", name, fatal);
            } catch (Throwable outOfMemory) {
                // nothing more to do: go on closing
            }
        }
    }

    // ------------------------------------------------------------------ operability: metrics, watchdog, offload

    /**
     * A snapshot of this loop's counters: connections, bytes, tasks, timers, how busy it is,
     * its longest callback, its pool and budget. Any thread; the values are at most one
     * iteration old (see {@link LoopMetrics}). Cheap enough to call once a second: it
     * allocates the snapshot and reads a few dozen fields.
     */
    public LoopMetrics metrics() {
        counters.awaitPublished();
        long now = System.nanoTime();
        return new LoopMetrics(name, iterations, counters.busyNanos(now), counters.idleNanos(now),
                LoopCounters.threadCpuNanos(thread), counters.busyRatio(now), counters.longestCallbackNanos(), counters.callbacks(),
                counters.blockedIncidents, Math.max(0, pendingTasks.get()), counters.tasksRun(),
                counters.timersPending(), counters.timersFired(), StreamMetrics.sum(counters.streams),
                counters.datagramsReceived(), counters.datagramsSent(), counters.datagramsDropped.get(),
                pool.inUse(), pool.directChunks(), budget.used(), budget.limit());
    }

    /** Puts this loop under the blocked-loop watchdog, unless the options turn it off. */
    EventLoop watchedAs(LoopOptions options) {
        if (!options.blockedThreshold().isZero()) {
            LoopWatchdog.watch(this, options.blockedThreshold().toNanos());
        }
        return this;
    }

    /** The loop's thread (the application's, for a loop from {@link #open()}), for the watchdog's stack traces. */
    Thread thread() {
        return thread;
    }

    /** True while a thread is running this loop's iterations (always, for a started loop until it ends). */
    boolean isRunning() {
        return running.get();
    }

    /**
     * Runs blocking {@code work} on {@code executor} and hands its result back to this
     * loop, as asyncio's {@code run_in_executor}: the returned future completes on the loop
     * thread, so stages chained to it on the loop thread (a handler's {@code thenAccept},
     * {@code whenComplete}) run on the loop thread too, and may use the handler's plain
     * fields and write to its connection. The {@code *Async} stages without an executor run
     * on the loop as well. A connection that closed meanwhile may still be written to: the
     * write is dropped and counted ({@link StreamMetrics#droppedWrites()}).
     *
     * <p>What can go wrong is reported through the future, never thrown here: the work's
     * own exception (as the future's cause); a {@link RejectedExecutionException} when the
     * executor refuses the work (a full {@link WorkerPool}, a shut-down executor); a
     * {@link java.util.concurrent.CancellationException} if the future was cancelled (the
     * work is not started if it had not begun; work already running is not interrupted,
     * and its result is discarded). If this loop terminates before the result is back, the
     * future fails with a {@link RejectedExecutionException} saying so, completed on the
     * worker's thread since the loop is gone.
     *
     * <p>Any thread. Bound what you hand out: a {@link WorkerPool} refuses work past its
     * queue, and a handler can pause reading while its requests wait (see the README).
     *
     * @param work     runs on one of {@code executor}'s threads
     * @param executor where to run it; a {@link WorkerPool} gives a bounded queue
     */
    public <T> CompletableFuture<T> offload(java.util.concurrent.Callable<T> work, Executor executor) {
        return LoopFuture.offload(this, work, executor);
    }

    @Override
    public String toString() {
        return "EventLoop[" + name + "]";
    }
}
