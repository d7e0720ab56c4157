package io.selectloop;

import java.nio.ByteBuffer;

/**
 * What a connection does with whole frames: a {@link Handler} that receives frames
 * instead of bytes. Turn it into a {@code Handler} with {@link Framing#handler}, once
 * per connection:
 * <pre>{@code
 * Framing framing = Framing.lengthPrefixed(4, 1 << 20);
 * StreamServer.bind(loop, address, () -> framing.handler((c, frame) -> framing.write(c, frame)));
 * }</pre>
 *
 * <p>Every method is called on the connection's loop thread, one at a time, exactly as
 * {@link Handler}'s are, with the same defaults. If one throws, that connection alone
 * is closed and the exception is passed to {@link #onClose}.
 */
@FunctionalInterface
public interface FrameHandler {

    /** The connection is established and registered. */
    default void onOpen(Connection c) throws Exception {
    }

    /**
     * One whole frame arrived: its payload only, without header or delimiter, from
     * position 0 to its limit. {@code frame} is a view of the loop's read buffer or of a
     * pooled buffer, valid only during this call: copy what must outlive it
     * ({@link Connection#write} and {@link Framing#write} copy).
     */
    void onFrame(Connection c, ByteBuffer frame) throws Exception;

    /**
     * The peer shut its output at a frame boundary; no more frames will arrive. (An end
     * of input inside a frame closes the connection with a {@link CorruptFrameException}
     * instead.) The default closes the connection once its pending output is flushed.
     */
    default void onEof(Connection c) throws Exception {
        c.close();
    }

    /**
     * The peer sent something that is not a valid frame: too long
     * ({@link FrameTooLongException}) or malformed ({@link CorruptFrameException},
     * including input that ends inside a frame). Called once, before the connection
     * closes, and after every frame before the bad one was delivered; no frame follows.
     * Writes made here are sent before the close (within {@link StreamOptions#closeTimeout()}),
     * so a protocol can answer, say {@code ERR line too long}. The connection then closes
     * with {@code e} as the cause, whatever this method does. The default does nothing.
     */
    default void onFramingError(Connection c, FramingException e) throws Exception {
    }

    /** As {@link Handler#onWritabilityChanged}. */
    default void onWritabilityChanged(Connection c, boolean writable) throws Exception {
    }

    /** As {@link Handler#onIdle}: the default closes the connection. */
    default void onIdle(Connection c, IdleKind kind) throws Exception {
        c.close();
    }

    /**
     * The connection is closed; called exactly once, last.
     *
     * @param cause null for an orderly close; a {@link FramingException} if the peer sent
     *     something that is not a valid frame; otherwise as {@link Handler#onClose}
     */
    default void onClose(Connection c, Throwable cause) {
    }
}
