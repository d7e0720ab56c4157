package io.selectloop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * N event loops, each on a thread of its own, so that one process uses every core
 * while each connection still lives on exactly one loop: the reactor's answer to
 * thread-per-request servers. {@link StreamServer#bind(EventLoopGroup, java.net.SocketAddress,
 * java.util.function.Supplier)} accepts on one loop of the group and hands each
 * accepted connection to the loops in turn; {@link #next()} does the same for
 * anything else (clients, datagram endpoints) that should be spread out.
 *
 * <pre>{@code
 * EventLoopGroup group = EventLoopGroup.start(Runtime.getRuntime().availableProcessors(), "echo");
 * StreamServer.bind(group, new InetSocketAddress("127.0.0.1", 7007), () -> (c, data) -> c.write(data));
 * ...
 * group.shutdownGracefully(Duration.ofSeconds(5)).join();
 * }</pre>
 *
 * <p>Every method may be called from any thread, including the group's own loops.
 */
public final class EventLoopGroup implements AutoCloseable, Iterable<EventLoop> {
    private final List<EventLoop> loops;
    private final AtomicInteger nextIndex = new AtomicInteger();
    private final CompletableFuture<Void> terminationFuture;

    private EventLoopGroup(List<EventLoop> loops) {
        this.loops = Collections.unmodifiableList(loops);
        this.terminationFuture = CompletableFuture.allOf(
                loops.stream().map(EventLoop::terminationFuture).toArray(CompletableFuture[]::new));
    }

    /**
     * Starts {@code n} loops with default {@link LoopOptions}, each on a new (non-daemon)
     * thread named {@code namePrefix-0} to {@code namePrefix-(n-1)}. Any thread.
     *
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public static EventLoopGroup start(int n, String namePrefix) {
        return start(n, namePrefix, LoopOptions.defaults());
    }

    /**
     * As {@link #start(int, String)}, with these options. The loops share one
     * {@link MemoryBudget} of {@link LoopOptions#memoryBudget()} bytes: a limit for the
     * process, not per loop. Any thread.
     */
    public static EventLoopGroup start(int n, String namePrefix, LoopOptions options) {
        Objects.requireNonNull(options, "options");
        if (n < 1) {
            throw new IllegalArgumentException("a group needs at least one loop, not " + n);
        }
        Objects.requireNonNull(namePrefix, "namePrefix");
        MemoryBudget budget = options.newBudget();
        List<EventLoop> started = new ArrayList<>(n);
        try {
            for (int i = 0; i < n; i++) {
                started.add(EventLoop.start(namePrefix + "-" + i, budget).watchedAs(options)); // [watchdog]
            }
        } catch (RuntimeException | Error e) {
            // A half-started group would leave non-daemon threads behind with nobody to stop them.
            for (EventLoop loop : started) {
                loop.close();
            }
            throw e;
        }
        return new EventLoopGroup(started);
    }

    /**
     * The next loop in round-robin order. Any thread; lock-free, so concurrent callers
     * still get the loops in turn (each caller one of them).
     */
    public EventLoop next() {
        return loops.get(Math.floorMod(nextIndex.getAndIncrement(), loops.size()));
    }

    /** The loops, in the order {@link #next()} hands them out. Unmodifiable. Any thread. */
    public List<EventLoop> loops() {
        return loops;
    }

    /** The memory budget every loop of the group shares. Any thread. */
    public MemoryBudget memoryBudget() {
        return loops.get(0).memoryBudget();
    }

    /** Number of loops. Any thread. */
    public int size() {
        return loops.size();
    }

    @Override
    public Iterator<EventLoop> iterator() {
        return loops.iterator();
    }

    /**
     * Shuts every loop down gracefully, all at once and with the same deadline: each
     * stops accepting, lets its connections drain their pending output, and closes
     * whatever is left at the deadline (see {@link EventLoop#shutdownGracefully(Duration)}).
     * Any thread; calling it again with a shorter timeout brings the deadline forward.
     *
     * @return completes when every loop has terminated
     */
    public CompletableFuture<Void> shutdownGracefully(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        for (EventLoop loop : loops) {
            loop.shutdownGracefully(timeout);
        }
        return terminationFuture;
    }

    /**
     * Completes when every loop has terminated; exceptionally if any loop failed (see
     * {@link EventLoop#terminationFuture()}: each loop's own future completes as soon as
     * that loop has failed). Any thread.
     */
    public CompletableFuture<Void> terminationFuture() {
        return terminationFuture;
    }

    /** True once any loop of the group was asked to shut down. Any thread. */
    public boolean isShuttingDown() {
        for (EventLoop loop : loops) {
            if (loop.isShuttingDown()) {
                return true;
            }
        }
        return false;
    }

    /** True once every loop has terminated. Any thread. */
    public boolean isTerminated() {
        // Asked of the loops, not of terminationFuture: that one completes in the last
        // loop's thread a moment after the loop's own future, so right after close()
        // returned it could still say false.
        for (EventLoop loop : loops) {
            if (!loop.terminationFuture().isDone()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Closes every loop now (pending output dropped, every channel closed). From a
     * thread that runs no event loop it waits until all loops have terminated; from a
     * loop thread (this group's or any other) it returns at once and the loops finish on
     * their own, as {@link EventLoop#close()} does: waiting there could deadlock two
     * loops closing each other. {@link #terminationFuture()} says when all are done.
     */
    @Override
    public void close() {
        // Ask all first, so the loops close in parallel rather than one after the other.
        for (EventLoop loop : loops) {
            loop.shutdownGracefully(Duration.ZERO);
        }
        for (EventLoop loop : loops) {
            loop.close();
        }
    }

    @Override
    public String toString() {
        return "EventLoopGroup" + loops;
    }
}
