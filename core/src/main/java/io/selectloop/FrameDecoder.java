package io.selectloop;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The part every framing's decoder shares: one connection's {@link Handler} that forwards
 * every callback to a {@link FrameHandler}, owns the pooled accumulation buffer for a
 * partial frame, and stops delivering for good once the connection closes or its input
 * turns out to be invalid. Loop thread only, like every handler.
 */
abstract class FrameDecoder implements Handler {
    private static final LogLimiter framingErrorHandlerLog =
            new LogLimiter(org.slf4j.LoggerFactory.getLogger(FrameDecoder.class), org.slf4j.event.Level.WARN);
    private final FrameHandler frames;
    private Connection connection;
    private BufferPool pool;
    private MemoryAccount memory;
    /** Bytes of the partial frame, in write mode (position = bytes held); null while none. */
    private ByteBuffer accumulation;
    /** Set once closed, failed, or a frame handler threw: nothing is delivered after it. */
    private boolean finished;

    FrameDecoder(FrameHandler frames) {
        this.frames = Objects.requireNonNull(frames, "frames");
    }

    /** Decodes {@code data} (all of it), delivering each frame with {@link #deliver}. */
    abstract void decode(Connection c, ByteBuffer data) throws Exception;

    /** True if input stopped here would cut a frame: part of one is held. */
    abstract boolean holdsPartialFrame();

    /** Describes the partial frame for the error at end of input. */
    abstract String describePartialFrame();

    /** Forgets the partial frame's state (the accumulation itself is released by the caller). */
    abstract void resetPartialFrame();

    @Override
    public final void onOpen(Connection c) throws Exception {
        if (connection != null && connection != c) {
            throw new IllegalStateException("a framing handler serves one connection: call framing.handler(...) "
                    + "inside the server's handler supplier, once per connection");
        }
        connection = c;
        frames.onOpen(c);
    }

    @Override
    public final void onData(Connection c, ByteBuffer data) throws Exception {
        if (finished) {
            data.position(data.limit());
            return;
        }
        if (pool == null) {
            pool = c.loop().pool;
            memory = MemoryAccount.of(c);
        }
        try {
            decode(c, data);
            if (finished) {
                data.position(data.limit()); // closed from inside onFrame: the rest is dropped
            }
        } catch (Throwable t) {
            // A decode error, or the frame handler threw: either way the connection is
            // about to close, and the decoder's state may be mid-frame.
            finish();
            data.position(data.limit());
            if (t instanceof FramingException) {
                reportFramingError(c, (FramingException) t);
            }
            throw t;
        }
    }

    @Override
    public final void onEof(Connection c) throws Exception {
        if (!finished && holdsPartialFrame()) {
            String partial = describePartialFrame();
            finish();
            CorruptFrameException e = new CorruptFrameException("the input ended inside a frame (" + partial + ")");
            reportFramingError(c, e);
            throw e;
        }
        frames.onEof(c);
    }

    @Override
    public final void onWritabilityChanged(Connection c, boolean writable) throws Exception {
        frames.onWritabilityChanged(c, writable);
    }

    @Override
    public final void onIdle(Connection c, IdleKind kind) throws Exception {
        frames.onIdle(c, kind);
    }

    @Override
    public final void onClose(Connection c, Throwable cause) {
        finish();
        frames.onClose(c, cause);
    }

    /** The connection closes with {@code e} as the cause whatever the handler does here. */
    private void reportFramingError(Connection c, FramingException e) {
        try {
            frames.onFramingError(c, e);
        } catch (Throwable t) {
            EventLoop.rethrowIfFatal(t);
            e.addSuppressed(t);
            framingErrorHandlerLog.log("{}: onFramingError threw; closing as for the framing error", c, t);
        }
    }

    private void finish() {
        finished = true;
        resetPartialFrame();
        release();
    }

    /**
     * Hands one frame to the handler. Returns false if the connection is closing or
     * closed now (the handler closed it, say): the caller must stop at once, since the
     * accumulation has been given back.
     */
    final boolean deliver(Connection c, ByteBuffer frame) throws Exception {
        frames.onFrame(c, frame);
        if (!finished && c.isClosing()) {
            // close() or abort() inside onFrame: as asyncio never calls data_received
            // after close(), the frames still in this read are dropped, not delivered.
            finish();
        }
        return !finished;
    }

    /** Delivers the first {@code length} held bytes as a frame, then gives the accumulation back. */
    final boolean deliverHeld(Connection c, int length) throws Exception {
        boolean open = deliver(c, accumulation.slice(0, length));
        release();
        return open;
    }

    /** Bytes of the partial frame held (0 while none). */
    final int held() {
        return accumulation == null ? 0 : accumulation.position();
    }

    /** The held byte at {@code index} (below {@link #held()}). */
    final byte heldByte(int index) {
        return accumulation.get(index);
    }

    /**
     * Copies {@code length} bytes from {@code data}'s position into the accumulation.
     * Memory follows what the peer has actually sent, not what a header announced, so a
     * peer that declares big frames and trickles costs little; the buffer grows by
     * doubling (each byte is copied O(1) times) but never past {@code maxCapacity}.
     *
     * @param maxCapacity the most this frame can ever need held
     */
    final void hold(ByteBuffer data, int length, int maxCapacity) {
        if (length == 0) {
            return;
        }
        int needed = held() + length;
        if (accumulation == null) {
            accumulation = pool.takeAccumulation(needed, memory);
        } else if (accumulation.capacity() < needed) {
            int grown = (int) Math.min(maxCapacity, Math.max(needed, 2L * accumulation.capacity()));
            ByteBuffer bigger = pool.takeAccumulation(grown, memory);
            bigger.put(accumulation.flip());
            pool.giveAccumulation(accumulation, memory);
            accumulation = bigger;
        }
        int limit = data.limit();
        data.limit(data.position() + length);
        accumulation.put(data);
        data.limit(limit);
    }

    private void release() {
        ByteBuffer b = accumulation;
        if (b != null) {
            accumulation = null; // first, so that a re-entrant close cannot give it back twice
            pool.giveAccumulation(b, memory);
        }
    }

    /** Bytes held for a partial frame (tests). Loop thread only. */
    final int bufferedBytes() {
        return held();
    }

    /** Capacity of the held accumulation buffer, 0 while none (tests). Loop thread only. */
    final int bufferCapacity() {
        return accumulation == null ? 0 : accumulation.capacity();
    }
}
