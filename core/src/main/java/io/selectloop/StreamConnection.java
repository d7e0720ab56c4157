package io.selectloop;

import static java.nio.channels.SelectionKey.OP_READ;
import static java.nio.channels.SelectionKey.OP_WRITE;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * A TCP or Unix-domain stream connection on one loop: the state machine (open, closing,
 * closed), the read path, and the handler's callbacks. Its output lives in an
 * {@link OutboundQueue}, its deadlines in {@link ConnectionDeadlines}. Everything that
 * changes state runs on the loop thread; the public "any thread" methods hop there.
 *
 * <p>Writes append to the queue and defer a flush to the end of the dispatch or
 * iteration ({@link EventLoop#deferFlush}), so a thousand writes in one callback cost
 * one gathering write. Only if the socket does not take everything does the connection
 * ask for {@code OP_WRITE}, and it drops that interest as soon as the queue drains, so a
 * full socket never makes the loop spin.
 */
final class StreamConnection implements Connection, IoHandler, LoopResource, DeferredFlush, ConnectionDeadlines.Owner {
    private static final Logger log = LoggerFactory.getLogger(StreamConnection.class);
    // A flood of bad peers or a handler bug hit by every connection must not flood the
    // log: the first line of each kind goes out, the rest are counted (LogLimiter).
    private static final LogLimiter handlerErrorLog = new LogLimiter(log, Level.WARN);
    private static final LogLimiter peerErrorLog = new LogLimiter(log, Level.INFO);
    private static final LogLimiter limitLog = new LogLimiter(log, Level.WARN);
    private static final LogLimiter idleLog = new LogLimiter(log, Level.INFO);
    private static final LogLimiter tlsErrorLog = new LogLimiter(log, Level.INFO);

    /** Direct buffers at least this big skip the copy when nothing is queued ahead of them. */
    static final int DIRECT_WRITE_THRESHOLD = BufferPool.CHUNK_SIZE;
    /** Under memory pressure, a read smaller than this is not worth a system call: pause instead. */
    private static final int MIN_READ = 1024;

    private static final AtomicLongFieldUpdater<StreamConnection> IN_TRANSIT =
            AtomicLongFieldUpdater.newUpdater(StreamConnection.class, "inTransit");
    private static final AtomicIntegerFieldUpdater<StreamConnection> WRITABLE =
            AtomicIntegerFieldUpdater.newUpdater(StreamConnection.class, "writable");

    private static final int OPEN = 0, CLOSING = 1, CLOSED = 2;
    /** Why reading is off, as bits: any one keeps it off. */
    private static final int PAUSED_BY_USER = 1, PAUSED_BY_BACK_PRESSURE = 2, PAUSED_BY_MEMORY = 4;
    /** TLS (issue 10): an SSLEngine delegated task is running; nothing is read until it is done. */
    private static final int PAUSED_FOR_TLS_TASK = 8;
    private static final int OUTPUT_OPEN = 0, OUTPUT_SHUTDOWN_REQUESTED = 1, OUTPUT_SHUT = 2;

    private final EventLoop loop;
    private final SocketChannel channel;
    private final StreamOptions options;
    private final Handler handler;
    private final ConnectionListener listener;
    private final boolean tcp;
    private volatile SocketAddress remoteAddress; // volatile, not final: a PROXY header replaces it before onOpen
    private volatile SocketAddress localAddress;
    private final MemoryAccount memory;
    private final OutboundQueue output;
    private final ConnectionDeadlines deadlines;
    private Registration registration;
    private int registeredOps = -1;

    private volatile int state = OPEN;
    private int outputState = OUTPUT_OPEN;
    private int readPauses;
    /** The peer ended its output, or sent something the framing rejects: read no more. */
    private boolean inputEnded;
    /**
     * When this connection, under memory pressure, was first stopped for holding more than
     * its fair share ({@link #NOT_OVER}: not since it last made progress), and what it
     * held then. Kept across a pause, a resume and a pause again until it holds less than
     * that (it completed a frame, or its output drained), so a peer sitting on a big
     * partial frame cannot restart the pressure timeout each time the budget briefly
     * recovers and lets it read a little more.
     */
    private long overFairShareSince = NOT_OVER;
    private long heldWhenFirstPaused;
    private static final long NOT_OVER = Long.MIN_VALUE;
    /** On the loop's deferred-flush list. */
    private boolean flushDeferred;
    /** The socket did not take everything: OP_WRITE is on until the queue drains. */
    private boolean outputBlocked;

    /** Bytes copied by other threads' writes and not yet queued by the loop. */
    private volatile long inTransit;
    /**
     * 1 while writable. Any thread may clear it (the write that crossed the high
     * watermark); only the loop sets it again, when it reports {@code true}.
     */
    private volatile int writable = 1;
    /** onWritabilityChanged(false) was delivered and (true) not yet. Loop thread only. */
    private boolean unwritableSignalled;

    /** The cause onClose reports when a graceful close, begun because of an error, completes. */
    private Throwable closeCause;
    private volatile Object attachment;
    /** [metrics] Where this connection counts: its server's block on this loop, or the loop's clients'. */
    StreamCounters counters;
    /** [metrics] The close's category when the cause alone does not say it (a handler threw, say). */
    private CloseCause closeKind;

    // ---- TLS (issue 10): null for a plain connection; see TlsSession.
    private final TlsSession tls;
    /** onOpen has run: at once for a plain connection, after the handshake for TLS. */
    private boolean opened;
    private OpenListener openListener;

    /** Told when the handler is opened, or that the connection closed before (a failed TLS handshake). */
    interface OpenListener {
        void opened(StreamConnection c);

        void closedBeforeOpen(StreamConnection c, Throwable cause);
    }

    /** Hooks for the server that accepted this connection (counting, limits). */
    interface ConnectionListener {
        void connectionClosed(StreamConnection c);
    }

    StreamConnection(EventLoop loop, SocketChannel channel, StreamOptions options, Handler handler,
                     ConnectionListener listener) {
        this.loop = loop;
        this.channel = channel;
        this.options = options;
        this.handler = Objects.requireNonNull(handler, "the handler supplier returned null");
        this.listener = listener;
        this.remoteAddress = addressOrNull(true);
        this.localAddress = addressOrNull(false);
        this.tcp = remoteAddress instanceof InetSocketAddress || localAddress instanceof InetSocketAddress;
        this.memory = new MemoryAccount(loop.memoryBudget());
        this.output = new OutboundQueue(loop.pool, memory);
        this.deadlines = new ConnectionDeadlines(loop, options, this);
        TlsOptions tlsOptions = options.tls();
        this.tls = tlsOptions == null ? null : new TlsSession(this, loop, channel,
                tlsOptions.newEngine(peerHost(), peerPort()), tlsOptions.taskExecutor(), memory);
        this.counters = loop.counters.clientStreams; // [metrics] a server puts its own block here
    }

    private String peerHost() {
        return remoteAddress instanceof InetSocketAddress ? ((InetSocketAddress) remoteAddress).getHostString() : null;
    }

    private int peerPort() {
        return remoteAddress instanceof InetSocketAddress ? ((InetSocketAddress) remoteAddress).getPort() : -1;
    }

    /** Set before {@link #register()}; the client's future hangs on it. Loop thread only. */
    void whenOpened(OpenListener listener) {
        openListener = listener;
    }

    private SocketAddress addressOrNull(boolean remote) {
        try {
            return remote ? channel.getRemoteAddress() : channel.getLocalAddress();
        } catch (IOException e) {
            return null;
        }
    }

    /** Registers with the loop and calls {@code onOpen}. Loop thread only. */
    void register() {
        try {
            registration = loop.register(channel, 0, this);
        } catch (IOException | RuntimeException e) {
            log.debug("could not register {}; closing it", this, e);
            state = CLOSED;
            closeChannelQuietly();
            if (listener != null) {
                listener.connectionClosed(this);
            }
            if (openListener != null) {
                openListener.closedBeforeOpen(this, e);
            }
            return;
        }
        memory.budget.connectionOpened();
        counters.opened(); // [metrics]
        updateInterest();
        if (tls != null && proxyBeforeTls != null) {
            try {
                proxyBeforeTls.onOpen(this); // the header's deadline; TLS starts when the header is in
            } catch (Exception e) {
                handlerFailed("onOpen", e); // the stage only schedules a timer: not expected
            }
        } else if (tls != null) {
            startTls();
        } else {
            open();
        }
    }

    private void open() {
        opened = true;
        deadlines.start();
        try {
            handler.onOpen(this);
        } catch (Throwable t) {
            handlerFailed("onOpen", t);
        }
        if (openListener != null) {
            openListener.opened(this);
        }
    }

    // ------------------------------------------------------------------ readiness

    @Override
    public void ready(Registration r, int readyOps) {
        try {
            // Writable first: draining output frees memory and may clear back-pressure,
            // which decides whether this pass reads at all.
            if ((readyOps & OP_WRITE) != 0) {
                flushOnLoop();
            }
            if ((readyOps & OP_READ) != 0 && state == OPEN) {
                read();
            }
            // What the handler wrote while reading goes out now, not at the end of the
            // iteration: the output chunks it filled go straight back to the pool for the
            // next connection, so a wake-up with thousands of ready connections needs a
            // handful of chunks instead of one per connection. Still one write per
            // dispatch, however many write() calls the handler made.
            runDeferredFlush();
        } catch (RuntimeException | Error e) {
            internalFailure(e);
        }
    }

    private boolean readingEnabled() {
        return state == OPEN && !inputEnded && readPauses == 0;
    }

    private void read() {
        ByteBuffer buffer = loop.readBuffer;
        for (int i = 0; i < options.maxReadsPerWakeup() && readingEnabled(); i++) {
            int room = readAllowance();
            if (room < MIN_READ) {
                pauseForMemory();
                return;
            }
            buffer.clear().limit(room);
            int n;
            try {
                n = channel.read(buffer);
            } catch (IOException e) {
                ioFailed(e);
                return;
            }
            if (n > 0) {
                counters.read(n); // [metrics]
                if (deadlines.idleTracking) {
                    deadlines.read(System.nanoTime());
                }
                // A view of exactly this read: the rest of the shared buffer may hold
                // bytes another peer sent, which this handler must never reach.
                ByteBuffer data = loop.readViews.of(n);
                if (tls != null) {
                    // TLS (issue 10): ciphertext; the session hands the plaintext to deliverPlaintext.
                    if (!(proxyBeforeTls != null ? proxyStageReceived(data) : tls.received(data))) {
                        return;
                    }
                } else {
                    try {
                        handler.onData(this, data);
                    } catch (Throwable t) {
                        handlerFailed("onData", t);
                        return;
                    }
                }
                forgetOverFairShareOnProgress();
                if (n < room) {
                    return; // a short read: the socket is drained, skip the read that would return 0
                }
            } else if (n < 0) {
                if (proxyBeforeTls != null && !tlsStarted) {
                    proxyStageEnded();
                    return;
                }
                if (tls != null && tlsEndOfStream()) {
                    return;
                }
                endOfInput();
                return;
            } else {
                return;
            }
        }
    }

    /**
     * How many bytes this read may take. Everything while the budget is comfortable;
     * under pressure only what keeps this connection within its fair share, so a read
     * can never be what takes the process over its budget.
     */
    private int readAllowance() {
        MemoryBudget budget = memory.budget;
        if (!budget.underPressure()) {
            return EventLoop.READ_BUFFER_SIZE;
        }
        // Over the limit, the loop sheds after this select pass: it checks every iteration.
        return (int) Math.max(0, Math.min(EventLoop.READ_BUFFER_SIZE, budget.fairShare() - heldBytes()));
    }

    private void pauseForMemory() {
        readPauses |= PAUSED_BY_MEMORY;
        if (overFairShareSince == NOT_OVER) {
            overFairShareSince = System.nanoTime();
            heldWhenFirstPaused = heldBytes();
        }
        updateInterest();
        loop.shedder().pausedForMemory(this);
    }

    /** How long this connection has held more than its fair share under pressure. Loop thread only. */
    long overFairShareNanos(long now) {
        return overFairShareSince == NOT_OVER ? 0 : now - overFairShareSince;
    }

    private void forgetOverFairShareOnProgress() {
        if (overFairShareSince != NOT_OVER && heldBytes() < heldWhenFirstPaused) {
            overFairShareSince = NOT_OVER;
        }
    }

    /**
     * Asked by the loop while this connection is paused for memory. Loop thread only.
     *
     * @return true if it stays paused
     */
    boolean resumeIfMemoryAllows() {
        if (state == CLOSED || (readPauses & PAUSED_BY_MEMORY) == 0) {
            return false;
        }
        if (readAllowance() < MIN_READ) {
            return true;
        }
        readPauses &= ~PAUSED_BY_MEMORY;
        forgetOverFairShareOnProgress();
        updateInterest();
        return false;
    }

    /** Bytes of the memory budget this connection holds. Loop thread only. */
    long heldBytes() {
        return memory.held() + inTransit;
    }

    MemoryAccount memory() {
        return memory;
    }

    private void endOfInput() {
        inputEnded = true;
        updateInterest();
        if (outputState == OUTPUT_SHUT) {
            doClose(null); // both directions are done
            return;
        }
        try {
            handler.onEof(this);
        } catch (Throwable t) {
            handlerFailed("onEof", t);
        }
    }

    private void updateInterest() {
        if (state == CLOSED || registration == null) {
            return;
        }
        int ops = (readingEnabled() ? OP_READ : 0) | (outputBlocked ? OP_WRITE : 0);
        if (ops != registeredOps) {
            registeredOps = ops;
            registration.interestOps(ops);
        }
    }

    // ------------------------------------------------------------------ writing

    @Override
    public void write(ByteBuffer src) {
        if (loop.inEventLoop()) {
            queueOnLoop(src, null);
            return;
        }
        int length = src.remaining();
        if (length == 0) {
            return;
        }
        if (admitForeignWrite(length)) {
            ByteBuffer copy;
            try {
                byte[] bytes = new byte[length];
                src.get(bytes);
                copy = ByteBuffer.wrap(bytes);
            } catch (Throwable t) {
                arrived(length); // say, out of memory for the copy: nothing is in transit
                throw t;
            }
            handOver(copy);
        } else {
            src.position(src.limit());
        }
    }

    @Override
    public void writeAll(ByteBuffer... srcs) {
        if (loop.inEventLoop()) {
            queueOnLoop(null, srcs);
            return;
        }
        long total = remaining(null, srcs);
        if (total == 0) {
            return;
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("writeAll of " + total + " bytes: write them in parts");
        }
        int length = (int) total;
        if (admitForeignWrite(length)) {
            // One copy, one hop: nothing another thread writes can land in between.
            ByteBuffer copy;
            try {
                copy = ByteBuffer.allocate(length);
                for (ByteBuffer b : srcs) {
                    copy.put(b);
                }
            } catch (Throwable t) {
                arrived(length);
                throw t;
            }
            handOver(copy.flip());
        } else {
            discard(null, srcs);
        }
    }

    /**
     * Checks a write from another thread before anything is copied: dropped if the
     * connection is gone, and failing the connection if it would take buffered output
     * past the cap. On success the bytes count as in transit until the loop queues them:
     * for the cap, the memory budget and writability alike.
     */
    private boolean admitForeignWrite(int length) {
        if (state == CLOSED) {
            counters.droppedForeignWrite(length); // [metrics]
            return false;
        }
        long transit = IN_TRANSIT.addAndGet(this, length);
        // Buffered bytes only, as on the loop: file regions hold no memory, so a large
        // pending sendFile must not make a small write from another thread fail.
        if (output.bufferedBytes() + transit > options.maxPendingWriteBytes()) {
            // A foreign producer outrunning the socket: fail here rather than queue
            // an unbounded number of copies on the way to the loop.
            IN_TRANSIT.addAndGet(this, -length);
            long attempted = output.bufferedBytes() + transit;
            hop(() -> fail(new WriteLimitExceededException(options.maxPendingWriteBytes(), attempted)));
            return false;
        }
        memory.budget.charge(length);
        if (output.pendingBytes() + transit > options.highWatermark() && WRITABLE.compareAndSet(this, 1, 0)) {
            // isWritable() says false from now on, so the loop owes this producer the
            // (false) callback and later a (true) one: queued ahead of the bytes.
            try {
                hop(this::signalUnwritable);
            } catch (RuntimeException refused) {
                // The loop's task queue is full: this write fails, and nothing it set stays.
                writable = 1;
                arrived(length);
                throw refused;
            }
        }
        return true;
    }

    private void handOver(ByteBuffer copy) {
        int length = copy.remaining();
        try {
            loop.execute(() -> {
                arrived(length);
                queueOnLoop(copy, null);
                // The bytes may have been dropped (the output was shut meanwhile): they no
                // longer count, and the (true) owed since they crossed the watermark is due.
                writableAgainIfDrained();
            });
        } catch (RejectedExecutionException e) {
            arrived(length);
            if (!loop.isTerminated()) {
                throw e;
            }
        }
    }

    /** A hand-off reached the loop (or never will): the bytes are no longer in transit. */
    private void arrived(int length) {
        IN_TRANSIT.addAndGet(this, -length);
        memory.budget.release(length);
    }

    /**
     * Queues {@code single}, or every buffer of {@code many}, as one unit: the
     * direct-write shortcut, the cap check and the watermark check see the total, so no
     * callback (onWritabilityChanged) can run between the parts. Two parameters rather
     * than a one-element array so the common single write allocates nothing.
     */
    private void queueOnLoop(ByteBuffer single, ByteBuffer[] many) {
        long length = remaining(single, many);
        if (length == 0) {
            return;
        }
        if (state != OPEN || outputState != OUTPUT_OPEN) {
            counters.droppedWrite(length); // [metrics]
            discard(single, many);
            return;
        }
        // Direct buffers only: for a heap buffer the JDK would copy it into a temporary
        // direct buffer of the same size and keep that cached for the thread's life,
        // outside every limit. Copying it into pooled chunks costs the same one copy.
        if (tls == null && length >= DIRECT_WRITE_THRESHOLD && output.isEmpty() && allDirect(single, many)) {
            try {
                long written = single != null ? channel.write(single) : channel.write(many);
                if (written > 0) {
                    counters.wrote(written); // [metrics]
                }
                if (written > 0 && deadlines.idleTracking) {
                    deadlines.wrote(System.nanoTime());
                }
                length -= written;
            } catch (IOException e) {
                discard(single, many);
                ioFailed(e);
                return;
            }
            if (length == 0) {
                return;
            }
        }
        if (output.bufferedBytes() + length > options.maxPendingWriteBytes()) {
            long attempted = output.bufferedBytes() + length;
            discard(single, many);
            fail(new WriteLimitExceededException(options.maxPendingWriteBytes(), attempted));
            return;
        }
        if (single != null) {
            output.append(single);
        } else {
            for (ByteBuffer b : many) {
                output.append(b);
            }
        }
        afterEnqueue();
    }

    private static boolean allDirect(ByteBuffer single, ByteBuffer[] many) {
        if (single != null) {
            return single.isDirect();
        }
        for (ByteBuffer b : many) {
            if (!b.isDirect()) {
                return false;
            }
        }
        return true;
    }

    private static long remaining(ByteBuffer single, ByteBuffer[] many) {
        if (single != null) {
            return single.remaining();
        }
        long length = 0;
        for (ByteBuffer b : many) {
            length += b.remaining();
        }
        return length;
    }

    /** Dropped writes still consume their buffers, as a write that went out would. */
    private static void discard(ByteBuffer single, ByteBuffer[] many) {
        if (single != null) {
            single.position(single.limit());
        } else {
            for (ByteBuffer b : many) {
                b.position(b.limit());
            }
        }
    }

    @Override
    public void sendFile(FileChannel file, long position, long count) {
        Objects.requireNonNull(file, "file");
        if (position < 0 || count < 0) {
            throw new IllegalArgumentException("position " + position + " and count " + count + " must not be negative");
        }
        if (count == 0) {
            return;
        }
        hop(() -> {
            if (state != OPEN || outputState != OUTPUT_OPEN) {
                return;
            }
            output.appendFile(file, position, count);
            afterEnqueue();
        });
    }

    private void afterEnqueue() {
        if (output.pendingBytes() + inTransit > options.highWatermark() && WRITABLE.compareAndSet(this, 1, 0)) {
            signalUnwritable();
        }
        deferFlush();
    }

    private void deferFlush() {
        if (!flushDeferred && !outputBlocked && state != CLOSED) {
            flushDeferred = true;
            loop.deferFlush(this);
        }
    }

    /** Reports the crossing above the high watermark that a write (on any thread) made. */
    private void signalUnwritable() {
        if (state == CLOSED || unwritableSignalled) {
            return;
        }
        unwritableSignalled = true;
        if (options.pauseReadingWhenUnwritable()) {
            readPauses |= PAUSED_BY_BACK_PRESSURE;
            updateInterest();
        }
        fireWritabilityChanged(false);
        // From another thread this may come after its bytes have already gone out.
        writableAgainIfDrained();
    }

    private void writableAgainIfDrained() {
        if (!unwritableSignalled || state == CLOSED) {
            return;
        }
        long pending = output.pendingBytes() + inTransit;
        // "Empty" counts as below the low watermark, so watermarks(0, high) works too.
        if (pending < options.lowWatermark() || pending == 0) {
            unwritableSignalled = false;
            writable = 1;
            if ((readPauses & PAUSED_BY_BACK_PRESSURE) != 0) {
                readPauses &= ~PAUSED_BY_BACK_PRESSURE;
                updateInterest();
            }
            fireWritabilityChanged(true);
        }
    }

    @Override
    public void runDeferredFlush() {
        if (!flushDeferred) {
            return; // flushed already, at the end of its own dispatch
        }
        flushDeferred = false;
        if (!outputBlocked) {
            try {
                flushOnLoop();
            } catch (RuntimeException | Error e) {
                internalFailure(e);
            }
        }
    }

    @Override
    public void flush() {
        hop(this::flushOnLoop);
    }

    /** Writes as much as the socket takes now. Loop thread only. */
    private void flushOnLoop() {
        if (state == CLOSED) {
            return;
        }
        long written;
        try {
            written = tls == null ? output.writeTo(channel, loop.gatherScratch) : tls.flush(output);
        } catch (IOException e) {
            ioFailed(e);
            return;
        }
        if (written > 0) {
            counters.wrote(written); // [metrics]
        }
        if (written > 0 && deadlines.wantsWriteTimes(outputBlocked)) {
            deadlines.wrote(System.nanoTime());
        }
        boolean drained = nothingQueued();
        if (drained == outputBlocked) {
            outputBlocked = !drained;
            if (outputBlocked) {
                deadlines.outputBlocked(System.nanoTime());
            }
            updateInterest();
        }
        writableAgainIfDrained();
        // Asked again, not taken from above: onWritabilityChanged(true) may just have
        // written more (and then closed), and those bytes must go out first.
        if (state != CLOSED && nothingQueued()) {
            outputDrained();
        }
    }

    /** The queue just emptied: finish whatever was waiting on that. */
    private void outputDrained() {
        if (tls != null && (state == CLOSING || outputState == OUTPUT_SHUTDOWN_REQUESTED) && tls.queueCloseNotify()) {
            flushOnLoop(); // TLS (issue 10): close_notify goes out before the FIN or the close
            return;
        }
        if (state == CLOSING) {
            doClose(closeCause);
        } else if (outputState == OUTPUT_SHUTDOWN_REQUESTED) {
            try {
                channel.shutdownOutput();
            } catch (IOException e) {
                ioFailed(e);
                return;
            }
            outputState = OUTPUT_SHUT;
            if (inputEnded) {
                doClose(null);
            }
        }
    }

    private void fireWritabilityChanged(boolean nowWritable) {
        try {
            handler.onWritabilityChanged(this, nowWritable);
        } catch (Throwable t) {
            handlerFailed("onWritabilityChanged", t);
        }
    }

    @Override
    public boolean isWritable() {
        return writable == 1;
    }

    @Override
    public long pendingWriteBytes() {
        return output.pendingBytes() + inTransit;
    }

    // ------------------------------------------------------------------ reading control

    @Override
    public void pauseReading() {
        hop(() -> {
            readPauses |= PAUSED_BY_USER;
            updateInterest();
        });
    }

    @Override
    public void resumeReading() {
        hop(() -> {
            readPauses &= ~PAUSED_BY_USER;
            updateInterest();
        });
    }

    // ------------------------------------------------------------------ deadlines

    @Override
    public boolean readIdlenessApplies() {
        // Once the peer has shut its output, or this side is closing (reading is off for
        // good), no read can ever come: not idleness.
        return state == OPEN && !inputEnded;
    }

    @Override
    public boolean isOutputBlocked() {
        return outputBlocked;
    }

    @Override
    public void idle(IdleKind kind) {
        if (state == CLOSING) {
            // close() is waiting for output the peer does not take: onIdle's usual answer,
            // close(), is already under way, so finish it the hard way.
            long unsent = output.pendingBytes();
            idleLog.log("{}: idle while flushing {} bytes on close; closing now", this, unsent);
            doClose(new IdleTimeoutException("closed after an idle timeout with " + unsent + " bytes of output unsent"));
            return;
        }
        idleLog.log("{}: {} idle timeout", this, kind);
        closeKind = CloseCause.IDLE; // [metrics] if onIdle closes, idleness is why
        try {
            handler.onIdle(this, kind);
        } catch (Throwable t) {
            handlerFailed("onIdle", t);
        }
        if (state == OPEN) {
            closeKind = null; // [metrics] kept open: a later close has its own reason
        }
    }

    @Override
    public void outputStalled(long stalledNanos) {
        abortWithWarning(new WriteTimeoutException("no output progress for " + seconds(stalledNanos) + " with "
                + output.pendingBytes() + " bytes pending: the peer is not reading (writeStallTimeout)"));
    }

    @Override
    public void closeTimedOut(long timeoutNanos) {
        abortWithWarning(new WriteTimeoutException("close() could not flush its last " + output.pendingBytes()
                + " bytes within " + seconds(timeoutNanos) + " (closeTimeout)"));
    }

    private static String seconds(long nanos) {
        return String.format("%.1f s", nanos / 1e9);
    }

    // ------------------------------------------------------------------ closing

    @Override
    public void shutdownOutput() {
        hop(() -> {
            if (state != OPEN || outputState != OUTPUT_OPEN) {
                return;
            }
            outputState = OUTPUT_SHUTDOWN_REQUESTED;
            if (nothingQueued()) {
                outputDrained();
            }
        });
    }

    @Override
    public void close() {
        hop(this::closeOnLoop);
    }

    private void closeOnLoop() {
        if (state != OPEN) {
            return;
        }
        state = CLOSING;
        updateInterest();
        if (tls == null && output.isEmpty()) { // TLS (issue 10): close_notify first, through the flush
            doClose(closeCause);
            return;
        }
        deadlines.closing(System.nanoTime());
        deferFlush();
    }

    @Override
    public void abort() {
        hop(() -> abortOnLoop(null));
    }

    /** Closes with a reset: the peer learns at once, and the kernel drops what it still holds. */
    private void abortOnLoop(Throwable cause) {
        if (state == CLOSED) {
            return;
        }
        if (tcp) {
            try {
                channel.setOption(StandardSocketOptions.SO_LINGER, 0);
            } catch (IOException | RuntimeException e) {
                log.debug("could not set SO_LINGER 0 on {}", this, e);
            }
        }
        doClose(cause);
    }

    /** Shed to keep the loop within its memory budget (the loop logs the burst). */
    void shed(MemoryBudgetExceededException cause) {
        abortOnLoop(cause);
    }

    /** A socket error: routine on the internet (resets, broken pipes), so debug level. */
    private void ioFailed(IOException e) {
        if (e instanceof SSLException) {
            tlsFailed((SSLException) e); // TLS (issue 10): a wrap failed
            return;
        }
        if (state != CLOSED) {
            log.debug("{}: {}", this, e.toString());
            doClose(e);
        }
    }

    private void handlerFailed(String callback, Throwable t) {
        EventLoop.rethrowIfFatal(t);
        if (state == CLOSED) {
            return;
        }
        if (t instanceof FramingException) {
            // The peer broke the framing: its fault, not a bug here, so one line without
            // a stack trace. Answers to the good frames before the bad one are already
            // queued: send them, read nothing more, then close with this cause.
            peerErrorLog.log("{}: {}; closing this connection", this, t.getMessage());
            closeCause = t;
            inputEnded = true;
            closeOnLoop();
            return;
        }
        handlerErrorLog.log("{}: handler {} threw; closing this connection", this, callback, t);
        closeKind = CloseCause.HANDLER; // [metrics]
        doClose(t);
    }

    /**
     * Neither the peer nor the handler: the JDK or selectloop itself failed. Only this
     * connection pays, and it must still release its buffers and reach onClose, which
     * the loop's generic last-resort handler could not do.
     */
    private void internalFailure(Throwable t) {
        EventLoop.rethrowIfFatal(t);
        if (state != CLOSED) {
            log.error("{}: unexpected failure; closing this connection", this, t);
            closeKind = CloseCause.INTERNAL; // [metrics]
            doClose(t);
        }
    }

    /** A limit was hit: the application should hear about it once. */
    private void fail(IOException e) {
        if (state != CLOSED) {
            limitLog.log("{}: {}; closing this connection", this, e.getMessage());
            doClose(e);
        }
    }

    private void abortWithWarning(IOException e) {
        if (state != CLOSED) {
            limitLog.log("{}: {}; resetting this connection", this, e.getMessage());
            abortOnLoop(e);
        }
    }

    private void doClose(Throwable cause) {
        if (state == CLOSED) {
            return;
        }
        state = CLOSED;
        deadlines.stop();
        if (registration != null) {
            registration.cancel();
            memory.budget.connectionClosed();
            counters.closed(closeKind != null ? closeKind : CloseCause.of(cause, inputEnded)); // [metrics]
        }
        closeChannelQuietly();
        output.release();
        if (tls != null) {
            tls.release();
        }
        if (listener != null) {
            listener.connectionClosed(this);
        }
        if (!opened && openListener != null) {
            openListener.closedBeforeOpen(this, cause);
        }
        if (proxyBeforeTls != null) {
            proxyBeforeTls.onClose(this, cause); // gives back a held partial header, stops its deadline
        }
        try {
            handler.onClose(this, cause);
        } catch (Throwable t) {
            EventLoop.rethrowIfFatal(t);
            log.warn("{}: handler onClose threw", this, t);
        }
    }

    // ------------------------------------------------------------------ TLS (issue 10)
    // Hooks for TlsSession, which sits between the socket and the paths above.

    /** Output and TLS output both empty. */
    private boolean nothingQueued() {
        return output.isEmpty() && (tls == null || tls.cipherDrained());
    }

    private void startTls() {
        deadlines.handshaking(System.nanoTime(), options.tls().handshakeTimeoutNanos());
        try {
            tls.begin();
        } catch (SSLException e) {
            tlsFailed(e);
            return;
        }
        flushOnLoop(); // a client's hello
    }

    /** The handshake is done: now the handler hears of the connection. */
    void tlsHandshakeFinished() {
        if (state == CLOSED) {
            return;
        }
        deadlines.handshakeDone();
        open();
    }

    /** Whether plaintext may still be delivered: nothing is after close(), or after the input ended. */
    boolean acceptsInput() {
        return state == OPEN && !inputEnded;
    }

    void deliverPlaintext(ByteBuffer data) {
        try {
            handler.onData(this, data);
        } catch (Throwable t) {
            handlerFailed("onData", t);
        }
    }

    /** The peer's close_notify: its output ended, as a FIN ends a plain connection's. */
    void tlsInputEnded() {
        endOfInput();
    }

    void tlsTaskRunning(boolean running) {
        if (running) {
            readPauses |= PAUSED_FOR_TLS_TASK;
        } else {
            readPauses &= ~PAUSED_FOR_TLS_TASK;
        }
        updateInterest();
    }

    void tlsFlushNow() {
        flushOnLoop();
    }

    void tlsWantsFlush() {
        deferFlush();
    }

    /** @return true if the end of the stream was a TLS error, and the connection is closed */
    private boolean tlsEndOfStream() {
        SSLException e = tls.endOfStream();
        if (e == null) {
            return false;
        }
        tlsFailed(e);
        return true;
    }

    /** The peer broke TLS, or its certificate was refused: its fault, so one line at INFO, rate-limited. */
    void tlsFailed(SSLException e) {
        if (state == CLOSED) {
            return;
        }
        tlsErrorLog.log("{}: TLS: {}; closing this connection", this, e.getMessage());
        tls.sendAlertQuietly();
        doClose(e);
    }

    @Override
    public void handshakeTimedOut(long timeoutNanos) {
        tlsFailed(new SSLHandshakeException("TLS handshake not finished within " + seconds(timeoutNanos)
                + " (handshakeTimeout)"));
    }

    @Override
    public TlsInfo tls() {
        return tls == null ? null : tls.info();
    }

    private void closeChannelQuietly() {
        try {
            channel.close();
        } catch (IOException e) {
            log.debug("closing {} failed", this, e);
        }
    }

    /** Runs on the loop now, or hops there; a loop that is gone has already closed us. */
    private void hop(Runnable action) {
        if (loop.inEventLoop()) {
            action.run();
            return;
        }
        try {
            loop.execute(action);
        } catch (RejectedExecutionException e) {
            if (!loop.isTerminated()) {
                throw e;
            }
        }
    }

    // ------------------------------------------------------------------ LoopResource

    @Override
    public void beginGracefulClose() {
        if (state == OPEN && closeKind == null) {
            closeKind = CloseCause.SHUTDOWN; // [metrics]
        }
        closeOnLoop();
    }

    @Override
    public void forceClose(Throwable cause) {
        long unsent = output.pendingBytes();
        if (cause == null && unsent > 0) {
            cause = new IOException("closed by event loop shutdown with " + unsent + " bytes of output unsent");
        }
        if (closeKind == null) {
            closeKind = CloseCause.SHUTDOWN; // [metrics]
        }
        doClose(cause);
    }

    @Override
    public boolean isClosed() {
        return state == CLOSED;
    }

    // ------------------------------------------------------------------ PROXY protocol hooks (ProxyHeaderStage)

    private volatile ProxyHeader proxyHeader;

    /** The header arrived, before the application's onOpen: its addresses become this connection's. Loop thread only. */
    void proxyHeaderReceived(ProxyHeader header) {
        proxyHeader = header;
        if (header.hasAddresses()) {
            remoteAddress = header.sourceAddress();
            localAddress = header.destinationAddress();
        }
    }

    /** A bad, missing or slow header: the peer's fault, logged once (rate-limited), this connection closed. Loop thread only. */
    void proxyHeaderFailed(ProxyProtocolException cause) {
        if (state != OPEN) {
            return;
        }
        peerErrorLog.log("{}: {}; closing this connection", this, cause.getMessage());
        closeCause = cause;
        inputEnded = true;
        closeOnLoop();
    }

    /** The application's onOpen, run late by the PROXY stage, threw. Loop thread only. */
    void preOpenHandlerFailed(Throwable t) {
        handlerFailed("onOpen", t);
    }

    @Override
    public ProxyHeader proxyHeader() {
        return proxyHeader;
    }

    // A PROXY header comes before everything else on the wire, TLS records included (HAProxy
    // passing TLS through with send-proxy). Without TLS the header stage wraps the handler
    // (StreamServer); with TLS it has to sit below the engine instead, reading raw bytes,
    // and what it opens is the TLS session, whose handshake then opens the handler.

    /** The header stage that opens the TLS session; null unless both are on. Loop thread only. */
    private Handler proxyBeforeTls;
    private boolean tlsStarted;
    private boolean proxyStageGoOn;

    /** Called by the server before {@link #register()} for a TLS server expecting PROXY headers. */
    void readProxyHeaderBeforeTls() {
        proxyBeforeTls = ProxyHeaderStage.wrap(new Handler() {
            @Override
            public void onOpen(Connection c) {
                tlsStarted = true;
                startTls();
            }

            @Override
            public void onData(Connection c, ByteBuffer afterHeader) {
                proxyStageGoOn = tls.received(afterHeader);
            }
        }, options);
    }

    /** Raw bytes through the header stage: what {@link TlsSession#received} answers, once past the header. */
    private boolean proxyStageReceived(ByteBuffer data) {
        proxyStageGoOn = state == OPEN;
        try {
            proxyBeforeTls.onData(this, data);
        } catch (Exception e) {
            // Nothing in the stage or the TLS shim throws checked exceptions; keep the contract anyway.
            handlerFailed("onData", e);
            return false;
        }
        return proxyStageGoOn && state == OPEN;
    }

    /** The peer ended the stream inside the header: the stage closes with its cause. */
    private void proxyStageEnded() {
        inputEnded = true;
        updateInterest();
        try {
            proxyBeforeTls.onEof(this);
        } catch (Exception e) {
            handlerFailed("onEof", e);
        }
    }

    // ------------------------------------------------------------------ accessors

    @Override
    public EventLoop loop() {
        return loop;
    }

    @Override
    public boolean isOpen() {
        return state != CLOSED;
    }

    @Override
    public boolean isClosing() {
        return state != OPEN;
    }

    @Override
    public SocketAddress remoteAddress() {
        return remoteAddress;
    }

    @Override
    public SocketAddress localAddress() {
        return localAddress;
    }

    @Override
    public Object attachment() {
        return attachment;
    }

    @Override
    public void attach(Object attachment) {
        this.attachment = attachment;
    }

    SocketChannel channelForTests() {
        return channel;
    }

    /** True while back-pressure (not the user) keeps reading off (tests). Loop thread only. */
    boolean isReadingPausedByBackPressure() {
        return (readPauses & PAUSED_BY_BACK_PRESSURE) != 0;
    }

    /** True while the memory budget keeps reading off (tests). Loop thread only. */
    boolean isReadingPausedForMemory() {
        return (readPauses & PAUSED_BY_MEMORY) != 0;
    }

    /** The interest ops last given to the selector (tests). Loop thread only. */
    int registeredOpsForTests() {
        return registeredOps;
    }

    @Override
    public String toString() {
        return "Connection[" + remoteAddress + " -> " + localAddress + "]";
    }
}
