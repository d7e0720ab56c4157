package io.selectloop;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Turns a connection's byte stream into whole frames, and frames back into bytes. TCP
 * delivers messages glued together or split anywhere; a framing finds the frame
 * boundaries so that a {@link FrameHandler} sees exactly the messages the peer sent.
 *
 * <pre>{@code
 * Framing framing = Framing.lengthPrefixed(4, 1 << 20);
 * StreamServer.bind(loop, address, () -> framing.handler(new FrameHandler() {
 *     public void onFrame(Connection c, ByteBuffer frame) {
 *         framing.write(c, frame); // echo the frame
 *     }
 * }));
 * }</pre>
 *
 * <p>A {@code Framing} is immutable and may be shared by any number of connections,
 * loops and threads. Each call to {@link #handler} makes a fresh decoder, which holds
 * one connection's state: call it once per connection, in the server's supplier.
 *
 * <h2>Buffers</h2>
 * While a whole frame sits in what one read returned, the frame passed to
 * {@link FrameHandler#onFrame} is a view of the loop's read buffer: no copy. Only the
 * remainder of a frame that is still arriving is copied, into an accumulation buffer
 * taken from the loop's pool and given back as soon as that frame is delivered, and
 * when the connection closes. A connection between frames holds no buffer.
 *
 * <h2>Limits and errors</h2>
 * {@code maxLength} bounds each payload (header and delimiter not counted). Input from
 * the peer that breaks the framing closes that connection alone, with the exception as
 * the {@link FrameHandler#onClose} cause, and nothing more is delivered on it:
 * <ul>
 *   <li>{@link FrameTooLongException} as soon as a frame is known to be over the
 *       maximum (a length header above it, or more than the maximum without a
 *       delimiter), before the frame is buffered;</li>
 *   <li>{@link CorruptFrameException} for a length no frame can have (an 8-byte header
 *       with its top bit set), and for input that ends in the middle of a frame.</li>
 * </ul>
 * Sending a frame the framing cannot carry (over the maximum, or containing the
 * delimiter) is a local bug, and {@link #write} and {@link #encode} throw
 * {@link IllegalArgumentException} at the call.
 *
 * <h2>Pausing and closing from {@code onFrame}</h2>
 * The frames of one read are delivered in one go, as Netty's decoders do: if
 * {@code onFrame} calls {@link Connection#pauseReading()} or {@link Connection#close()},
 * the frames already received in that same read (at most one read buffer of them) are
 * still delivered, and reading stops after them. Once the connection is closed (its
 * {@code onClose} has run, for example after {@link Connection#abort()}, or after a
 * {@code close()} with no output pending) nothing more is delivered.
 */
public abstract sealed class Framing permits DelimitedFraming, LengthPrefixedFraming {
    /** The largest {@code maxLength}: the biggest array the JVM can reliably allocate. */
    public static final int MAX_FRAME_LENGTH = Integer.MAX_VALUE - 8;

    private final int maxLength;

    Framing(int maxLength) {
        if (maxLength < 0 || maxLength > MAX_FRAME_LENGTH) {
            throw new IllegalArgumentException("maxLength must be between 0 and " + MAX_FRAME_LENGTH
                    + ", was " + maxLength);
        }
        this.maxLength = maxLength;
    }

    /**
     * Lines ending in {@code \n}; a {@code \r} right before the {@code \n} is accepted and
     * stripped, so {@code \r\n} lines decode the same. Frames are the lines without their
     * ending; {@link #write} ends each with {@code \n}. Any thread.
     *
     * @param maxLength the longest line, without its ending
     */
    public static Framing lines(int maxLength) {
        return new DelimitedFraming(new byte[] {'\n'}, maxLength, true);
    }

    /**
     * Frames ended by {@code delimiter} (one or more bytes; a frame ends at the first
     * occurrence). Any thread.
     *
     * @param delimiter copied; must not be empty
     * @param maxLength the longest payload, without the delimiter
     */
    public static Framing delimited(byte[] delimiter, int maxLength) {
        Objects.requireNonNull(delimiter, "delimiter");
        if (delimiter.length == 0) {
            throw new IllegalArgumentException("the delimiter must not be empty");
        }
        return new DelimitedFraming(delimiter.clone(), maxLength, false);
    }

    /**
     * Frames preceded by their payload's length: a big-endian unsigned integer of
     * {@code headerBytes} bytes, counting the payload only. Any thread.
     *
     * @param headerBytes 1, 2, 4 or 8
     * @param maxLength   the longest payload; at most what the header can express
     *     (255 for 1 byte, 65535 for 2)
     */
    public static Framing lengthPrefixed(int headerBytes, int maxLength) {
        return new LengthPrefixedFraming(headerBytes, maxLength);
    }

    /** The longest payload this framing accepts, in bytes. Any thread. */
    public final int maxLength() {
        return maxLength;
    }

    /**
     * A new {@link Handler} for one connection that decodes its input into frames for
     * {@code frames} and forwards every other callback to it. Any thread; the handler's
     * methods run on the connection's loop, like any handler's.
     */
    public abstract Handler handler(FrameHandler frames);

    /**
     * Sends the remaining bytes of {@code payload} as one frame (its position moves to
     * its limit). Copy semantics, like {@link Connection#write}: the caller may reuse
     * the buffer on return. Any thread; frames written concurrently from several threads
     * never interleave.
     *
     * @throws IllegalArgumentException if the framing cannot carry the payload (longer
     *     than {@link #maxLength()}, or containing the delimiter); nothing is written
     */
    public final void write(Connection c, ByteBuffer payload) {
        Objects.requireNonNull(c, "connection");
        checkPayload(payload);
        int length = payload.remaining();
        ByteBuffer prefix = prefix(length);
        ByteBuffer suffix = suffix(length);
        // One unit: no other thread's frame and no callback (a writability change) can
        // land between header, payload and delimiter; and the payload is copied once.
        if (prefix != null && suffix != null) {
            c.writeAll(prefix, payload, suffix);
        } else if (prefix != null) {
            c.writeAll(prefix, payload);
        } else if (suffix != null) {
            c.writeAll(payload, suffix);
        } else {
            c.write(payload);
        }
    }

    /** {@link #write(Connection, ByteBuffer)} of the whole array. Any thread. */
    public final void write(Connection c, byte[] payload) {
        write(c, ByteBuffer.wrap(payload));
    }

    /**
     * The bytes of one frame carrying the remaining bytes of {@code payload} (its position
     * moves to its limit): a new heap buffer, positioned at 0. For callers that send
     * frames some other way. Any thread.
     *
     * @throws IllegalArgumentException as {@link #write(Connection, ByteBuffer)}
     */
    public final ByteBuffer encode(ByteBuffer payload) {
        checkPayload(payload);
        return encodeChecked(payload);
    }

    private void checkPayload(ByteBuffer payload) {
        Objects.requireNonNull(payload, "payload");
        if (payload.remaining() > maxLength) {
            throw new IllegalArgumentException("a payload of " + payload.remaining()
                    + " bytes is over the maximum of " + maxLength + " of " + this);
        }
        checkContent(payload);
    }

    private ByteBuffer encodeChecked(ByteBuffer payload) {
        int length = payload.remaining();
        ByteBuffer prefix = prefix(length);
        ByteBuffer suffix = suffix(length);
        ByteBuffer frame = ByteBuffer.allocate((prefix == null ? 0 : prefix.remaining()) + length
                + (suffix == null ? 0 : suffix.remaining()));
        if (prefix != null) {
            frame.put(prefix);
        }
        frame.put(payload);
        if (suffix != null) {
            frame.put(suffix);
        }
        return frame.flip();
    }

    /**
     * Rejects a payload of acceptable length whose bytes this framing cannot carry,
     * without moving its position.
     */
    abstract void checkContent(ByteBuffer payload);

    /** What goes before a payload of {@code length} bytes, or null. */
    abstract ByteBuffer prefix(int length);

    /** What goes after a payload of {@code length} bytes, or null. */
    abstract ByteBuffer suffix(int length);
}
