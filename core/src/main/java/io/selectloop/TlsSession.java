package io.selectloop;

import static javax.net.ssl.SSLEngineResult.HandshakeStatus.FINISHED;
import static javax.net.ssl.SSLEngineResult.HandshakeStatus.NEED_TASK;
import static javax.net.ssl.SSLEngineResult.HandshakeStatus.NEED_WRAP;
import static javax.net.ssl.SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * Drives one connection's {@link SSLEngine} between the socket and the connection's
 * plaintext paths: ciphertext read from the socket is unwrapped and handed to
 * {@link StreamConnection#deliverPlaintext} (then framing, as without TLS); the
 * connection's plaintext output queue is wrapped into as few records as its size allows
 * and written to the socket. Loop thread only, except the delegated tasks, which run on
 * the options' executor and come back with {@link EventLoop#execute}.
 *
 * <p>Memory: whole records are unwrapped straight from the loop's read buffer; only a
 * record cut by the end of a read is copied (into a pooled buffer, charged to the
 * connection), and completed from the next read with just the bytes it lacks. Wrapped
 * records go to the socket from a per-loop scratch buffer; only what the socket does not
 * take is copied into pooled chunks. So an idle TLS connection holds no buffer.
 */
final class TlsSession {
    /** Plaintext handed to one wrap: one record's worth (16 KiB) in at most a few chunks. */
    private static final int WRAP_GATHER = 4;
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    /** Per-loop buffers, shared by every TLS connection of the loop in turn. */
    static final class Scratch {
        final ByteBuffer plain;
        final ByteBuffer netOut;
        final ByteBuffer fileIn = ByteBuffer.allocate(BufferPool.CHUNK_SIZE);
        final ByteBuffer[] wrapGather = new ByteBuffer[WRAP_GATHER];
        final int packetSize;
        final int appSize;

        Scratch(int packetSize, int appSize) {
            this.packetSize = packetSize;
            this.appSize = appSize;
            // A full read's worth of plaintext in one onData, most of the time.
            plain = ByteBuffer.allocate(EventLoop.READ_BUFFER_SIZE + appSize);
            // Several records per write system call.
            netOut = ByteBuffer.allocateDirect(4 * packetSize);
        }

        static Scratch of(EventLoop loop, SSLEngine engine) {
            int packet = engine.getSession().getPacketBufferSize();
            int app = engine.getSession().getApplicationBufferSize();
            Scratch s = loop.tlsScratch;
            if (s == null || s.packetSize < packet || s.appSize < app) {
                s = new Scratch(packet, app);
                loop.tlsScratch = s;
            }
            return s;
        }
    }

    private final StreamConnection connection;
    private final EventLoop loop;
    private final SocketChannel channel;
    private final SSLEngine engine;
    private final Executor taskExecutor;
    private final MemoryAccount memory;
    /** Ciphertext the socket did not take yet. */
    private final OutboundQueue cipherOut;
    private final boolean server;

    /** A record cut by the end of a read (or input held back while a task runs); null when none. */
    private ByteBuffer inbound;
    private boolean handshakeDone;
    /** Set by a wrap that finished the handshake; the connection is opened once the wrap loop is done with its buffers. */
    private boolean finishedPending;
    private boolean taskRunning;
    private boolean closeNotifyQueued;
    /** Volatile: the delegated-task thread reads it to skip work for a connection already gone. */
    private volatile boolean released;
    /** TLS 1.3 has no renegotiation; its post-handshake messages (key updates) are allowed. */
    private boolean tls13;
    private volatile TlsInfo info;

    TlsSession(StreamConnection connection, EventLoop loop, SocketChannel channel, SSLEngine engine,
               Executor taskExecutor, MemoryAccount memory) {
        this.connection = connection;
        this.loop = loop;
        this.channel = channel;
        this.engine = engine;
        this.taskExecutor = taskExecutor;
        this.memory = memory;
        this.cipherOut = new OutboundQueue(loop.pool, memory);
        this.server = !engine.getUseClientMode();
    }

    TlsInfo info() {
        return info;
    }

    boolean handshakeDone() {
        return handshakeDone;
    }

    /** Starts the handshake; a client's hello goes out with the connection's next flush. */
    void begin() throws SSLException {
        engine.beginHandshake();
        if (engine.getHandshakeStatus() == NEED_TASK) {
            runTasks();
        }
    }

    // ------------------------------------------------------------------ inbound

    /**
     * Ciphertext arrived ({@code data}, a view of the loop's read buffer): unwrap it and
     * deliver the plaintext.
     *
     * @return false if the connection must read no more in this pass (it closed, failed,
     *     ended its input, or waits for a delegated task)
     */
    boolean received(ByteBuffer data) {
        if (inbound != null && !completeInbound(data)) {
            return false;
        }
        if (!data.hasRemaining()) {
            return true;
        }
        boolean more = unwrapAll(data);
        if (data.hasRemaining() && !released && (taskRunning || connection.acceptsInput())) {
            keep(data);
        }
        return more && !released;
    }

    /**
     * Unwraps the held record, topped up from {@code data} with only the bytes it lacks.
     *
     * @return false if unwrapping must stop (the rest of {@code data} is then held too)
     */
    private boolean completeInbound(ByteBuffer data) {
        while (inbound != null) {
            int lacking = lackingBytes();
            if (inbound.position() + lacking > scratch().packetSize) {
                connection.tlsFailed(new SSLException("TLS record of " + (inbound.position() + lacking)
                        + " bytes is larger than the maximum of " + scratch().packetSize));
                return false;
            }
            if (lacking > 0) {
                int n = Math.min(lacking, data.remaining());
                ensureInboundRoom(n);
                inbound.put(data.slice(data.position(), n));
                data.position(data.position() + n);
                if (n < lacking) {
                    return true; // still cut short; everything read is held
                }
            }
            inbound.flip();
            boolean more = unwrapAll(inbound);
            if (released) {
                return false;
            }
            inbound.compact();
            if (inbound.position() == 0) {
                releaseInbound();
            }
            if (!more) {
                if (data.hasRemaining() && (taskRunning || connection.acceptsInput())) {
                    keep(data);
                }
                return false;
            }
            if (!data.hasRemaining()) {
                return true;
            }
        }
        return true;
    }

    /** Bytes the held input lacks to hold one whole record: its header first, then its body. */
    private int lackingBytes() {
        int held = inbound.position();
        if (held < 5) {
            return 5 - held;
        }
        int length = 5 + ((inbound.get(3) & 0xff) << 8 | (inbound.get(4) & 0xff));
        return length - held; // may be negative: a task left several records here
    }

    private void ensureInboundRoom(int n) {
        if (inbound.remaining() >= n) {
            return;
        }
        ByteBuffer bigger = loop.pool.takeAccumulation(inbound.position() + n, memory);
        inbound.flip();
        bigger.put(inbound);
        loop.pool.giveAccumulation(inbound, memory);
        inbound = bigger;
    }

    /** Holds the rest of {@code src} for later: a cut record, or input waiting for a task. */
    private void keep(ByteBuffer src) {
        if (inbound == null) {
            // Sized to what is held, not to a whole record: a peer that sends a few bytes
            // of a record and stops holds a few KiB, like a partial frame.
            inbound = loop.pool.takeAccumulation(src.remaining(), memory);
        } else {
            ensureInboundRoom(src.remaining());
        }
        inbound.put(src);
    }

    private void releaseInbound() {
        if (inbound != null) {
            loop.pool.giveAccumulation(inbound, memory);
            inbound = null;
        }
    }

    /**
     * The loop's scratch as sized for this engine, or null: asked of the engine until the
     * handshake is done, then kept. {@code SSLEngine.getSession()} takes the engine's lock,
     * and asking twice per wrap and unwrap was about 4 % of the loop's time in a 64-byte
     * TLS echo (issue 14); the sizes change only with a handshake, after which this is
     * cleared.
     */
    private Scratch sized;

    private Scratch scratch() {
        Scratch s = sized;
        if (s != null && s == loop.tlsScratch) {
            return s;
        }
        s = Scratch.of(loop, engine);
        if (handshakeDone) {
            sized = s;
        }
        return s;
    }

    /**
     * Unwraps every whole record of {@code src}, delivering the plaintext in as few
     * {@code onData} calls as the scratch buffer allows.
     *
     * @return false if unwrapping must stop for now (see {@link #received})
     */
    private boolean unwrapAll(ByteBuffer src) {
        Scratch scratch = scratch();
        ByteBuffer plain = scratch.plain;
        plain.clear();
        while (true) {
            if (!connection.acceptsInput() || taskRunning) {
                deliver(plain);
                return false;
            }
            if (plain.remaining() < scratch.appSize && !deliver(plain)) {
                return false;
            }
            SSLEngineResult result;
            try {
                result = engine.unwrap(src, plain);
            } catch (SSLException e) {
                if (deliver(plain)) {
                    connection.tlsFailed(e);
                }
                return false;
            }
            HandshakeStatus status = result.getHandshakeStatus();
            if (status != NOT_HANDSHAKING) {
                sized = null; // a handshake (or its end) may change the buffer sizes
            }
            if (handshakeDone && server && !tls13 && status != NOT_HANDSHAKING && status != FINISHED) {
                deliver(plain);
                connection.tlsFailed(new SSLHandshakeException(
                        "client-initiated TLS renegotiation refused (" + info.protocol() + ")"));
                return false;
            }
            switch (result.getStatus()) {
                case BUFFER_UNDERFLOW:
                    return deliver(plain); // the rest of src is a cut record
                case BUFFER_OVERFLOW:
                    if (plain.position() == 0) {
                        connection.tlsFailed(new SSLException("TLS record larger than the engine's application buffer"));
                        return false;
                    }
                    if (!deliver(plain)) {
                        return false;
                    }
                    continue;
                case CLOSED:
                    if (!deliver(plain)) {
                        return false;
                    }
                    if (src.hasRemaining()) {
                        connection.tlsFailed(new SSLException(src.remaining() + " bytes after the peer's close_notify"));
                        return false;
                    }
                    connection.tlsInputEnded();
                    if (engine.getHandshakeStatus() == NEED_WRAP) {
                        connection.tlsWantsFlush(); // TLS 1.2 answers close_notify with its own
                    }
                    return false;
                default:
                    break;
            }
            if (status == FINISHED) {
                if (!deliver(plain)) {
                    return false;
                }
                handshakeFinished();
                if (released) {
                    return false;
                }
            } else if (status == NEED_TASK) {
                deliver(plain);
                runTasks();
                return false;
            } else if (status == NEED_WRAP) {
                // Handshake messages to send (or a key update to answer) before reading on.
                if (!deliver(plain)) {
                    return false;
                }
                connection.tlsFlushNow();
                if (released || taskRunning) {
                    return false;
                }
            }
            if (!src.hasRemaining()) {
                return deliver(plain);
            }
            if (result.bytesConsumed() == 0 && result.bytesProduced() == 0
                    && (status != NEED_WRAP || engine.getHandshakeStatus() == NEED_WRAP)) {
                // No progress, and a flush did not change that: wait for more input rather
                // than spin (the handshake deadline ends a connection stuck here).
                return deliver(plain);
            }
        }
    }

    /** Hands the plaintext gathered so far to the connection; false if it closed meanwhile. */
    private boolean deliver(ByteBuffer plain) {
        if (plain.position() > 0) {
            ByteBuffer view = plain.flip().slice();
            plain.clear();
            if (!connection.acceptsInput()) {
                return false;
            }
            connection.deliverPlaintext(view);
        }
        return !released && connection.acceptsInput();
    }

    /**
     * The peer ended the TCP stream.
     *
     * @return the error it amounts to, or null for an end of input: after the handshake,
     *     at a record boundary, a missing close_notify is tolerated (many clients skip it)
     */
    SSLException endOfStream() {
        if (!handshakeDone) {
            return new SSLHandshakeException("the peer closed the connection during the TLS handshake");
        }
        if (inbound != null && inbound.position() > 0) {
            return new SSLException("truncated TLS record: the connection ended " + inbound.position()
                    + " bytes into a record");
        }
        return null;
    }

    // ------------------------------------------------------------------ outbound

    /** True when no ciphertext waits for the socket. */
    boolean cipherDrained() {
        return cipherOut.isEmpty();
    }

    /**
     * Writes waiting ciphertext, then wraps handshake messages and {@code plain}'s bytes
     * (once the handshake is done) and writes them, until the socket is full or nothing
     * is left.
     *
     * @return ciphertext bytes written
     */
    long flush(OutboundQueue plain) throws IOException {
        if (released) {
            return 0;
        }
        long written = 0;
        if (!cipherOut.isEmpty()) {
            written += cipherOut.writeTo(channel, loop.gatherScratch);
            if (!cipherOut.isEmpty()) {
                return written;
            }
        }
        Scratch scratch = scratch();
        ByteBuffer net = scratch.netOut;
        boolean blocked = false;
        while (!blocked && !taskRunning && !released && wantsWrap(plain)) {
            net.clear();
            wrapInto(net, plain, scratch);
            net.flip();
            if (!net.hasRemaining()) {
                break;
            }
            written += channel.write(net);
            if (net.hasRemaining()) {
                cipherOut.append(net); // the socket is full: keep the rest, in order
                blocked = true;
            }
        }
        if (finishedPending && !released) {
            finishedPending = false;
            handshakeFinished();
        }
        return written;
    }

    private boolean wantsWrap(OutboundQueue plain) {
        if (engine.getHandshakeStatus() == NEED_WRAP) {
            return true;
        }
        if (!handshakeDone || plain.isEmpty()) {
            return false;
        }
        if (engine.isOutboundDone()) {
            plain.release(); // our close_notify is out (TLS 1.2 answered the peer's): nothing more can be sent
            return false;
        }
        return true;
    }

    /** Wraps records into {@code net} while a whole one still fits. */
    private void wrapInto(ByteBuffer net, OutboundQueue plain, Scratch scratch) throws IOException {
        while (net.remaining() >= scratch.packetSize && !taskRunning) {
            HandshakeStatus before = engine.getHandshakeStatus();
            SSLEngineResult result;
            if (before == NEED_WRAP || !handshakeDone || plain.isEmpty() || engine.isOutboundDone()) {
                if (before != NEED_WRAP) {
                    return;
                }
                result = engine.wrap(EMPTY, net);
            } else {
                int chunks = plain.peekChunks(scratch.wrapGather);
                try {
                    if (chunks > 0) {
                        result = engine.wrap(scratch.wrapGather, 0, chunks, net);
                    } else {
                        ByteBuffer file = scratch.fileIn.clear();
                        plain.readFileHead(file);
                        file.flip();
                        result = engine.wrap(file, net);
                    }
                } finally {
                    java.util.Arrays.fill(scratch.wrapGather, null);
                }
                plain.consumed(result.bytesConsumed());
            }
            if (result.getHandshakeStatus() != NOT_HANDSHAKING) {
                sized = null;
            }
            if (result.getHandshakeStatus() == FINISHED) {
                finishedPending = true;
            } else if (result.getHandshakeStatus() == NEED_TASK) {
                runTasks();
                return;
            }
            if (result.getStatus() != SSLEngineResult.Status.OK
                    || (result.bytesProduced() == 0 && result.bytesConsumed() == 0)) {
                return;
            }
        }
    }

    /**
     * Begins the close: the engine's close_notify is wrapped by the next flush.
     *
     * @return true if that made something to send (the first call only)
     */
    boolean queueCloseNotify() {
        if (closeNotifyQueued || released) {
            return false;
        }
        closeNotifyQueued = true;
        engine.closeOutbound();
        return engine.getHandshakeStatus() == NEED_WRAP && !taskRunning;
    }

    /**
     * After an engine error: sends the alert the engine has for the peer (unknown CA, bad
     * certificate), if the socket takes it at once, so the peer learns why. Best effort.
     */
    void sendAlertQuietly() {
        if (released || taskRunning) {
            return;
        }
        try {
            engine.closeOutbound();
            ByteBuffer net = scratch().netOut.clear();
            for (int i = 0; i < 4 && engine.getHandshakeStatus() == NEED_WRAP; i++) {
                SSLEngineResult r = engine.wrap(EMPTY, net);
                if (r.bytesProduced() == 0) {
                    break;
                }
            }
            net.flip();
            if (net.hasRemaining()) {
                channel.write(net);
            }
        } catch (IOException | RuntimeException e) {
            // the connection is being closed for the first error anyway
        }
    }

    // ------------------------------------------------------------------ handshake

    private void handshakeFinished() {
        if (handshakeDone) {
            return;
        }
        handshakeDone = true;
        info = TlsInfo.of(engine.getSession(), engine.getApplicationProtocol());
        tls13 = "TLSv1.3".equals(info.protocol());
        connection.tlsHandshakeFinished();
    }

    /**
     * Runs the engine's delegated tasks off the loop (they are the expensive part of a
     * handshake: key exchange, certificate checks); the connection neither reads nor
     * wraps until they are done and {@link #tasksDone} runs on the loop.
     */
    private void runTasks() {
        List<Runnable> tasks = new ArrayList<>(2);
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            tasks.add(task);
        }
        if (tasks.isEmpty()) {
            return;
        }
        taskRunning = true;
        connection.tlsTaskRunning(true);
        try {
            taskExecutor.execute(() -> {
                // Under a handshake flood the queue fills with handshakes whose deadline
                // has already closed them; their key exchange and signature would only
                // delay the live ones behind them.
                for (Runnable t : released ? List.<Runnable>of() : tasks) {
                    try {
                        t.run();
                    } catch (RuntimeException e) {
                        // The engine reports what went wrong at the next wrap or unwrap.
                    }
                }
                try {
                    loop.execute(this::tasksDone);
                } catch (RejectedExecutionException e) {
                    // The loop has terminated and closed the connection.
                }
            });
        } catch (RejectedExecutionException e) {
            taskRunning = false;
            connection.tlsTaskRunning(false);
            connection.tlsFailed(new SSLHandshakeException("TLS handshake refused: the delegated task executor is full"));
        }
    }

    private void tasksDone() {
        if (released) {
            return;
        }
        taskRunning = false;
        connection.tlsTaskRunning(false);
        if (engine.getHandshakeStatus() == NEED_TASK) {
            runTasks(); // the tasks made more tasks
            if (taskRunning) {
                return;
            }
        }
        connection.tlsFlushNow(); // the handshake messages the task produced
        if (!released && !taskRunning && inbound != null && connection.acceptsInput()) {
            // Input that arrived before the task: no new read will bring it back.
            ByteBuffer none = EMPTY.duplicate();
            completeInbound(none);
        }
        connection.tlsFlushNow();
    }

    /** The connection closed: give every buffer back. */
    void release() {
        if (released) {
            return;
        }
        released = true;
        releaseInbound();
        cipherOut.release();
        engine.closeOutbound();
    }
}
