package io.selectloop;

import static java.nio.channels.SelectionKey.OP_READ;
import static java.nio.channels.SelectionKey.OP_WRITE;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * A TCP or Unix-domain stream connection on one loop. Everything that changes state
 * runs on the loop thread; the public "any thread" methods hop there first.
 *
 * <p>Output is a queue of pooled direct chunks (and file regions for
 * {@link #sendFile}). Writes append to it and put the connection on the loop's flush
 * list; the loop flushes each listed connection once, with one gathering write, at the
 * end of the iteration. Only if the socket cannot take everything does the connection
 * ask for {@code OP_WRITE}, and it drops that interest as soon as the queue drains, so
 * a full socket never makes the loop spin.
 */
final class StreamConnection implements Connection, IoHandler, LoopResource, PendingFlush {
    private static final Logger log = LoggerFactory.getLogger(StreamConnection.class);
    // A flood of bad peers or a handler bug hit by every connection must not flood the
    // log: the first line of each kind goes out, the rest are counted (LogLimiter).
    private static final LogLimiter handlerErrorLog = new LogLimiter(log, Level.WARN);
    private static final LogLimiter peerErrorLog = new LogLimiter(log, Level.INFO);
    private static final LogLimiter limitLog = new LogLimiter(log, Level.WARN);
    private static final LogLimiter idleLog = new LogLimiter(log, Level.INFO);

    /** Writes at least this big skip the copy when nothing is queued ahead of them. */
    static final int DIRECT_WRITE_THRESHOLD = BufferPool.CHUNK_SIZE;
    /** Write attempts per flush before yielding to other connections. */
    private static final int WRITE_SPIN_LIMIT = 16;

    private static final AtomicLongFieldUpdater<StreamConnection> IN_TRANSIT =
            AtomicLongFieldUpdater.newUpdater(StreamConnection.class, "inTransit");

    private static final int OPEN = 0, CLOSING = 1, CLOSED = 2;

    /** A slice of a file waiting in the output queue. */
    private static final class FileRegion {
        final FileChannel file;
        long position;
        long remaining;

        FileRegion(FileChannel file, long position, long count) {
            this.file = file;
            this.position = position;
            this.remaining = count;
        }
    }

    private final EventLoop loop;
    private final SocketChannel channel;
    private final StreamOptions options;
    private final Handler handler;
    private final ConnectionListener listener;
    private final boolean tcp;
    private final SocketAddress remoteAddress;
    private final SocketAddress localAddress;
    private Registration registration;
    private int registeredOps = -1;

    // Output, loop thread only unless volatile.
    private ArrayDeque<Object> outbound; // BufferPool.Chunk or FileRegion; created on first use
    private volatile long bufferedBytes; // in pooled chunks; read by other threads' write() for the cap
    private volatile long pendingBytes; // buffered + file bytes
    private volatile long inTransit;    // copied by other threads, not yet queued
    private volatile boolean writable = true;
    private boolean flushScheduled;
    private boolean waitingForWritable;
    private boolean outputShutdownRequested;
    private boolean outputShut;

    // Input, loop thread only.
    private boolean readingPausedByUser;
    private boolean readingPausedByBackPressure;
    private boolean inputClosed;

    private int state = OPEN;
    private volatile boolean open = true;
    private volatile Object attachment;

    // Idle detection, loop thread only: the times of the last read and write, and of the
    // last onIdle per kind (so a handler that keeps an idle connection open hears again
    // only after another full period). One timer per connection, armed for the earliest
    // deadline and re-armed when it fires early: reads and writes only store a time.
    private long lastReadNanos;
    private long lastWriteNanos;
    private long readIdleFiredNanos = Long.MIN_VALUE;
    private long writeIdleFiredNanos = Long.MIN_VALUE;
    private long allIdleFiredNanos = Long.MIN_VALUE;
    private final boolean idleTracking;
    private TimerHandle idleTimer;
    /** The cause onClose reports when a graceful close, begun because of an error, completes. */
    private Throwable closeCause;

    long bytesRead;
    long bytesWritten;
    /** Write system calls made (tests prove that small writes coalesce). */
    long socketWrites;

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
        this.idleTracking = options.hasIdleTimeout();
    }

    private SocketAddress addressOrNull(boolean remote) {
        try {
            return remote ? channel.getRemoteAddress() : channel.getLocalAddress();
        } catch (IOException e) {
            return null;
        }
    }

    /** Applies socket options. Any thread, before {@link #register()}. */
    static void configure(SocketChannel channel, StreamOptions options) throws IOException {
        channel.configureBlocking(false);
        applyBufferSizes(channel, options);
        applyConnectedOptions(channel, options);
    }

    /** SO_RCVBUF/SO_SNDBUF; a client sets them before connecting, so the window scale can use them. */
    static void applyBufferSizes(SocketChannel channel, StreamOptions options) throws IOException {
        if (options.receiveBufferSize() > 0) {
            channel.setOption(StandardSocketOptions.SO_RCVBUF, options.receiveBufferSize());
        }
        if (options.sendBufferSize() > 0) {
            channel.setOption(StandardSocketOptions.SO_SNDBUF, options.sendBufferSize());
        }
    }

    /** The TCP options of a connected channel; nothing for a Unix domain socket. */
    static void applyConnectedOptions(SocketChannel channel, StreamOptions options) throws IOException {
        if (channel.getLocalAddress() instanceof InetSocketAddress) {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, options.tcpNoDelay());
            if (options.keepAlive()) {
                channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            }
        }
    }

    /** Registers with the loop and calls {@code onOpen}. Loop thread only. */
    void register() {
        try {
            registration = loop.register(channel, 0, this);
        } catch (IOException | RuntimeException e) {
            log.debug("could not register {}; closing it", this, e);
            state = CLOSED;
            open = false;
            closeChannelQuietly();
            if (listener != null) {
                listener.connectionClosed(this);
            }
            return;
        }
        updateInterest();
        if (idleTracking) {
            lastReadNanos = lastWriteNanos = System.nanoTime();
            armIdleTimer(lastReadNanos);
        }
        try {
            handler.onOpen(this);
        } catch (Throwable t) {
            handlerFailed("onOpen", t);
        }
    }

    // ------------------------------------------------------------------ idleness

    private static long idleDeadline(long timeout, long lastActivity, long lastFired) {
        return timeout <= 0 ? Long.MAX_VALUE : Math.max(lastActivity, lastFired) + timeout;
    }

    private long readIdleDeadline() {
        // Once the peer has shut its output, or this side is closing (reading is off for
        // good), no read can ever come: not idleness.
        return inputClosed || state != OPEN ? Long.MAX_VALUE : idleDeadline(options.readIdleNanos(), lastReadNanos, readIdleFiredNanos);
    }

    private long writeIdleDeadline() {
        return idleDeadline(options.writeIdleNanos(), lastWriteNanos, writeIdleFiredNanos);
    }

    private long allIdleDeadline() {
        return idleDeadline(options.allIdleNanos(), Math.max(lastReadNanos, lastWriteNanos), allIdleFiredNanos);
    }

    private void armIdleTimer(long now) {
        long next = nextIdleDeadline();
        if (next == Long.MAX_VALUE) {
            return;
        }
        idleTimer = loop.schedule(this::checkIdle, Math.max(0, next - now), java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    private void checkIdle() {
        idleTimer = null;
        if (state == CLOSED) {
            return;
        }
        long now = System.nanoTime();
        if (state == CLOSING && now - nextIdleDeadline() >= 0) {
            // close() is waiting for output the peer does not take: onIdle's usual answer,
            // close(), is already under way, so finish it the hard way.
            long unsent = pendingBytes;
            idleLog.log("{}: idle while flushing {} bytes on close; closing now", this, unsent);
            doClose(new IdleTimeoutException("closed after an idle timeout with " + unsent + " bytes of output unsent"));
            return;
        }
        if (now - readIdleDeadline() >= 0) {
            readIdleFiredNanos = now;
            fireIdle(IdleKind.READ);
        }
        if (state != CLOSED && now - writeIdleDeadline() >= 0) {
            writeIdleFiredNanos = now;
            fireIdle(IdleKind.WRITE);
        }
        if (state != CLOSED && now - allIdleDeadline() >= 0) {
            allIdleFiredNanos = now;
            fireIdle(IdleKind.ALL);
        }
        if (state != CLOSED) {
            armIdleTimer(now);
        }
    }

    private long nextIdleDeadline() {
        return Math.min(readIdleDeadline(), Math.min(writeIdleDeadline(), allIdleDeadline()));
    }

    private void fireIdle(IdleKind kind) {
        idleLog.log("{}: {} idle timeout", this, kind);
        try {
            handler.onIdle(this, kind);
        } catch (Throwable t) {
            handlerFailed("onIdle", t);
        }
    }

    // ------------------------------------------------------------------ readiness

    @Override
    public void ready(Registration r, int readyOps) {
        try {
            // Writable first: draining output frees memory and may clear back-pressure,
            // which decides whether this pass reads at all.
            if ((readyOps & OP_WRITE) != 0) {
                flushNow();
            }
            if ((readyOps & OP_READ) != 0 && state == OPEN) {
                read();
            }
            // What the handler wrote while reading goes out now, not at the end of the
            // iteration: the output chunks it filled go straight back to the pool for the
            // next connection, so a wake-up with thousands of ready connections needs a
            // handful of chunks instead of one per connection. Still one write per
            // dispatch, however many write() calls the handler made.
            flushPending();
        } catch (RuntimeException | Error e) {
            internalFailure(e);
        }
    }

    private boolean readingEnabled() {
        return state == OPEN && !inputClosed && !readingPausedByUser && !readingPausedByBackPressure;
    }

    private void read() {
        ByteBuffer buffer = loop.readBuffer;
        for (int i = 0; i < options.maxReadsPerWakeup() && readingEnabled(); i++) {
            buffer.clear();
            int n;
            try {
                n = channel.read(buffer);
            } catch (IOException e) {
                ioFailed(e);
                return;
            }
            if (n > 0) {
                bytesRead += n;
                if (idleTracking) {
                    lastReadNanos = System.nanoTime();
                }
                buffer.flip();
                try {
                    handler.onData(this, buffer);
                } catch (Throwable t) {
                    handlerFailed("onData", t);
                    return;
                }
                if (n < buffer.capacity()) {
                    return; // a short read: the socket is drained, skip the read that would return 0
                }
            } else if (n < 0) {
                endOfInput();
                return;
            } else {
                return;
            }
        }
    }

    private void endOfInput() {
        inputClosed = true;
        updateInterest();
        if (outputShut) {
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
        int ops = (readingEnabled() ? OP_READ : 0) | (waitingForWritable ? OP_WRITE : 0);
        if (ops != registeredOps) {
            registeredOps = ops;
            registration.interestOps(ops);
        }
    }

    // ------------------------------------------------------------------ writing

    @Override
    public void write(ByteBuffer src) {
        if (loop.inEventLoop()) {
            writeOnLoop(src);
            return;
        }
        int length = src.remaining();
        if (length == 0) {
            return;
        }
        if (admitForeignWrite(length)) {
            byte[] copy = new byte[length];
            src.get(copy);
            handOver(ByteBuffer.wrap(copy));
        } else {
            src.position(src.limit());
        }
    }

    @Override
    public void writeAll(ByteBuffer... srcs) {
        if (loop.inEventLoop()) {
            writeAllOnLoop(srcs);
            return;
        }
        long total = 0;
        for (ByteBuffer b : srcs) {
            total += b.remaining();
        }
        if (total == 0) {
            return;
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("writeAll of " + total + " bytes: write them in parts");
        }
        int length = (int) total;
        if (admitForeignWrite(length)) {
            // One copy, one hop: nothing another thread writes can land in between.
            ByteBuffer copy = ByteBuffer.allocate(length);
            for (ByteBuffer b : srcs) {
                copy.put(b);
            }
            handOver(copy.flip());
        } else {
            for (ByteBuffer b : srcs) {
                b.position(b.limit());
            }
        }
    }

    /**
     * Checks a write from another thread before anything is copied: dropped if the
     * connection is gone, and failing the connection if it would take buffered output
     * past the cap. On success the bytes count as in transit until the loop queues them.
     */
    private boolean admitForeignWrite(int length) {
        if (!open) {
            return false;
        }
        long transit = IN_TRANSIT.addAndGet(this, length);
        // Buffered bytes only, as on the loop: file regions hold no memory, so a large
        // pending sendFile must not make a small write from another thread fail.
        if (bufferedBytes + transit > options.maxPendingWriteBytes()) {
            // A foreign producer outrunning the socket: fail here rather than queue
            // an unbounded number of copies on the way to the loop.
            IN_TRANSIT.addAndGet(this, -length);
            long attempted = bufferedBytes + transit;
            hop(() -> fail(new WriteLimitExceededException(options.maxPendingWriteBytes(), attempted)));
            return false;
        }
        return true;
    }

    private void handOver(ByteBuffer copy) {
        int length = copy.remaining();
        try {
            loop.execute(() -> {
                IN_TRANSIT.addAndGet(this, -length);
                writeOnLoop(copy);
            });
        } catch (RejectedExecutionException e) {
            IN_TRANSIT.addAndGet(this, -length);
            if (!loop.isTerminated()) {
                throw e;
            }
        }
    }

    private void writeOnLoop(ByteBuffer src) {
        queueOnLoop(src, null);
    }

    private void writeAllOnLoop(ByteBuffer[] srcs) {
        queueOnLoop(null, srcs);
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
        if (state != OPEN || outputShutdownRequested) {
            discard(single, many);
            return;
        }
        if (length >= DIRECT_WRITE_THRESHOLD && bufferedBytes == 0 && pendingBytes == 0 && !waitingForWritable) {
            try {
                socketWrites++;
                long written = single != null ? channel.write(single) : channel.write(many);
                bytesWritten += written;
                if (written > 0 && idleTracking) {
                    lastWriteNanos = System.nanoTime();
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
        if (bufferedBytes + length > options.maxPendingWriteBytes()) {
            long attempted = bufferedBytes + length;
            discard(single, many);
            fail(new WriteLimitExceededException(options.maxPendingWriteBytes(), attempted));
            return;
        }
        if (single != null) {
            append(single);
        } else {
            for (ByteBuffer b : many) {
                append(b);
            }
        }
        bufferedBytes += length;
        pendingBytes += length;
        afterEnqueue();
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

    private void append(ByteBuffer src) {
        if (outbound == null) {
            outbound = new ArrayDeque<>(4);
        }
        Object tail = outbound.peekLast();
        BufferPool.Chunk chunk = tail instanceof BufferPool.Chunk ? (BufferPool.Chunk) tail : null;
        while (src.hasRemaining()) {
            if (chunk == null || !chunk.hasRoom()) {
                chunk = loop.pool.take();
                outbound.addLast(chunk);
            }
            chunk.append(src);
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
            if (state != OPEN || outputShutdownRequested) {
                return;
            }
            if (outbound == null) {
                outbound = new ArrayDeque<>(4);
            }
            outbound.addLast(new FileRegion(file, position, count));
            pendingBytes += count;
            afterEnqueue();
        });
    }

    private void afterEnqueue() {
        if (writable && pendingBytes > options.highWatermark()) {
            writable = false;
            if (options.pauseReadingWhenUnwritable()) {
                readingPausedByBackPressure = true;
                updateInterest();
            }
            fireWritabilityChanged(false);
        }
        if (!flushScheduled && !waitingForWritable && state != CLOSED) {
            flushScheduled = true;
            loop.scheduleFlush(this);
        }
    }

    @Override
    public void flushPending() {
        if (!flushScheduled) {
            return; // flushed already, at the end of its own dispatch
        }
        flushScheduled = false;
        if (!waitingForWritable) {
            try {
                flushNow();
            } catch (RuntimeException | Error e) {
                internalFailure(e);
            }
        }
    }

    @Override
    public void flush() {
        hop(this::flushNow);
    }

    /** Writes as much as the socket takes now. Loop thread only. */
    private void flushNow() {
        if (state == CLOSED) {
            return;
        }
        try {
            writeQueued();
        } catch (IOException e) {
            ioFailed(e);
            return;
        }
        boolean drained = outbound == null || outbound.isEmpty();
        if (drained != !waitingForWritable) {
            waitingForWritable = !drained;
            updateInterest();
        }
        // "Empty" counts as below the low watermark, so watermarks(0, high) works too.
        if (!writable && (pendingBytes < options.lowWatermark() || pendingBytes == 0)) {
            writable = true;
            if (readingPausedByBackPressure) {
                readingPausedByBackPressure = false;
                updateInterest();
            }
            fireWritabilityChanged(true);
        }
        // Asked again, not taken from above: onWritabilityChanged(true) may just have
        // written more (and then closed), and those bytes must go out first.
        if (state != CLOSED && (outbound == null || outbound.isEmpty())) {
            outputDrained();
        }
    }

    private void writeQueued() throws IOException {
        if (outbound == null) {
            return;
        }
        ByteBuffer[] gather = loop.gatherScratch;
        for (int spin = 0; spin < WRITE_SPIN_LIMIT && !outbound.isEmpty(); spin++) {
            Object head = outbound.peekFirst();
            if (head instanceof FileRegion) {
                FileRegion region = (FileRegion) head;
                socketWrites++;
                long n = region.file.transferTo(region.position, region.remaining, channel);
                if (n == 0 && region.position >= region.file.size()) {
                    throw new EOFException("sendFile: the file ended at " + region.position + " with "
                            + region.remaining + " bytes still to send");
                }
                region.position += n;
                region.remaining -= n;
                pendingBytes -= n;
                bytesWritten += n;
                if (n > 0 && idleTracking) {
                    lastWriteNanos = System.nanoTime();
                }
                if (region.remaining > 0) {
                    if (n == 0) {
                        return; // socket full
                    }
                    continue;
                }
                outbound.pollFirst();
                continue;
            }
            int count = 0;
            long attempted = 0;
            for (Object o : outbound) {
                if (!(o instanceof BufferPool.Chunk) || count == gather.length) {
                    break;
                }
                ByteBuffer b = ((BufferPool.Chunk) o).drain;
                gather[count++] = b;
                attempted += b.remaining();
            }
            long n;
            socketWrites++;
            try {
                n = channel.write(gather, 0, count);
            } finally {
                java.util.Arrays.fill(gather, 0, count, null);
            }
            bytesWritten += n;
            if (n > 0 && idleTracking) {
                lastWriteNanos = System.nanoTime();
            }
            bufferedBytes -= n;
            pendingBytes -= n;
            while (!outbound.isEmpty() && outbound.peekFirst() instanceof BufferPool.Chunk) {
                BufferPool.Chunk c = (BufferPool.Chunk) outbound.peekFirst();
                if (c.readable() > 0) {
                    break;
                }
                outbound.pollFirst();
                loop.pool.give(c);
            }
            if (n < attempted) {
                return; // socket full
            }
        }
    }

    /** The queue just emptied: finish whatever was waiting on that. */
    private void outputDrained() {
        if (state == CLOSING) {
            doClose(closeCause);
        } else if (outputShutdownRequested && !outputShut) {
            try {
                channel.shutdownOutput();
            } catch (IOException e) {
                ioFailed(e);
                return;
            }
            outputShut = true;
            if (inputClosed) {
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
        // Bytes written from other threads count before they reach the loop, so a
        // producer thread that honours isWritable() stays near the high watermark
        // instead of running into maxPendingWriteBytes while the loop is busy.
        return writable && (inTransit == 0 || pendingBytes + inTransit <= options.highWatermark());
    }

    @Override
    public long pendingWriteBytes() {
        return pendingBytes + inTransit;
    }

    // ------------------------------------------------------------------ reading control

    @Override
    public void pauseReading() {
        hop(() -> {
            readingPausedByUser = true;
            updateInterest();
        });
    }

    @Override
    public void resumeReading() {
        hop(() -> {
            readingPausedByUser = false;
            updateInterest();
        });
    }

    // ------------------------------------------------------------------ closing

    @Override
    public void shutdownOutput() {
        hop(() -> {
            if (state != OPEN || outputShutdownRequested) {
                return;
            }
            outputShutdownRequested = true;
            if (outbound == null || outbound.isEmpty()) {
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
        if (outbound == null || outbound.isEmpty()) {
            doClose(closeCause);
        } else if (!flushScheduled && !waitingForWritable) {
            flushScheduled = true;
            loop.scheduleFlush(this);
        }
    }

    @Override
    public void abort() {
        hop(() -> {
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
            doClose(null);
        });
    }

    /** A socket error: routine on the internet (resets, broken pipes), so debug level. */
    private void ioFailed(IOException e) {
        if (state != CLOSED) {
            log.debug("{}: {}", this, e.toString());
            doClose(e);
        }
    }

    private void handlerFailed(String callback, Throwable t) {
        if (state == CLOSED) {
            return;
        }
        if (t instanceof FramingException) {
            // The peer broke the framing: its fault, not a bug here, so one line without
            // a stack trace. Answers to the good frames before the bad one are already
            // queued: send them, read nothing more, then close with this cause.
            peerErrorLog.log("{}: {}; closing this connection", this, t.getMessage());
            closeCause = t;
            inputClosed = true;
            closeOnLoop();
            return;
        }
        handlerErrorLog.log("{}: handler {} threw; closing this connection", this, callback, t);
        doClose(t);
    }

    /**
     * Neither the peer nor the handler: the JDK or selectloop itself failed. Only this
     * connection pays, and it must still release its buffers and reach onClose, which
     * the loop's generic last-resort handler could not do.
     */
    private void internalFailure(Throwable t) {
        if (state != CLOSED) {
            log.error("{}: unexpected failure; closing this connection", this, t);
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

    private void doClose(Throwable cause) {
        if (state == CLOSED) {
            return;
        }
        state = CLOSED;
        open = false;
        if (idleTimer != null) {
            idleTimer.cancel();
            idleTimer = null;
        }
        if (registration != null) {
            registration.cancel();
        }
        closeChannelQuietly();
        releaseOutput();
        if (listener != null) {
            listener.connectionClosed(this);
        }
        try {
            handler.onClose(this, cause);
        } catch (Throwable t) {
            log.warn("{}: handler onClose threw", this, t);
        }
    }

    private void releaseOutput() {
        if (outbound != null) {
            Object o;
            while ((o = outbound.pollFirst()) != null) {
                if (o instanceof BufferPool.Chunk) {
                    loop.pool.give((BufferPool.Chunk) o);
                }
            }
        }
        bufferedBytes = 0;
        pendingBytes = 0;
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
        closeOnLoop();
    }

    @Override
    public void forceClose() {
        long unsent = pendingBytes;
        doClose(unsent == 0 ? null
                : new IOException("closed by event loop shutdown with " + unsent + " bytes of output unsent"));
    }

    @Override
    public boolean isClosed() {
        return state == CLOSED;
    }

    // ------------------------------------------------------------------ accessors

    @Override
    public EventLoop loop() {
        return loop;
    }

    @Override
    public boolean isOpen() {
        return open;
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
        return readingPausedByBackPressure;
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
