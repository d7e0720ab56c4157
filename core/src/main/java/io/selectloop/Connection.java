package io.selectloop;

import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * One stream connection: asyncio's {@code Transport}.
 *
 * <p>Threading: the methods marked "any thread" may be called from anywhere; off the
 * loop they copy what they need and hop onto the loop with {@link EventLoop#execute},
 * so calls from one thread take effect in the order they were made. Like
 * {@code execute}, they throw {@link java.util.concurrent.RejectedExecutionException}
 * if millions of tasks are already waiting for the loop (a producer far outrunning it);
 * once the loop has terminated they do nothing, as the connection is closed.
 *
 * <p>Writes have copy semantics: the caller may reuse its buffer as soon as
 * {@code write} returns. Output is buffered and flushed once at the end of the loop
 * iteration (or by {@link #flush()}); writes after {@link #close()},
 * {@link #shutdownOutput()} or the connection's end are silently dropped, since they
 * can race with a close coming from the peer.
 */
public interface Connection {

    /** The loop all of this connection's callbacks run on. Any thread. */
    EventLoop loop();

    /**
     * Queues all remaining bytes of {@code src} (its position moves to its limit). Any thread.
     * If the pending output would exceed {@code maxPendingWriteBytes}, the connection is
     * closed with a {@link WriteLimitExceededException} instead.
     */
    void write(ByteBuffer src);

    /**
     * Queues all remaining bytes of every buffer, in order, as one unit (asyncio's
     * {@code writelines}): nothing written by another thread, and no callback such as
     * {@link Handler#onWritabilityChanged}, can come between them. For a header and its
     * payload without copying them together first. Any thread.
     */
    default void writeAll(ByteBuffer... srcs) {
        long total = 0;
        for (ByteBuffer b : srcs) {
            total += b.remaining();
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("writeAll of " + total + " bytes: write them in parts");
        }
        ByteBuffer joined = ByteBuffer.allocate((int) total);
        for (ByteBuffer b : srcs) {
            joined.put(b);
        }
        write(joined.flip());
    }

    /** Queues a copy of {@code src}. Any thread. */
    default void write(byte[] src) {
        write(ByteBuffer.wrap(src));
    }

    /** Queues a copy of {@code length} bytes of {@code src} from {@code offset}. Any thread. */
    default void write(byte[] src, int offset, int length) {
        write(ByteBuffer.wrap(src, offset, length));
    }

    /**
     * Queues {@code count} bytes of {@code file} from {@code position}, sent with
     * {@link FileChannel#transferTo} (zero-copy where the OS allows) in order with the
     * writes before and after it. The bytes count as pending output for the watermarks
     * but not for {@code maxPendingWriteBytes}, which bounds memory and a file region
     * holds none. The file channel is not closed: it stays the caller's, and must stay
     * open until the bytes are sent. Any thread.
     */
    void sendFile(FileChannel file, long position, long count);

    /** Writes pending output now instead of at the end of the iteration. Any thread. */
    void flush();

    /**
     * False while pending output is above the high watermark, until it falls below the
     * low one (or empties). Bytes written from other threads count as soon as
     * {@code write} returns, so a producer thread that writes only while this is true
     * stays near the high watermark even when the loop is busy. Whenever this has
     * returned false, {@link Handler#onWritabilityChanged} is called with {@code false}
     * and later with {@code true}, in that order, unless the connection closes first: a
     * producer that waits for the {@code true} callback is never left waiting. Any thread.
     */
    boolean isWritable();

    /** Bytes queued and not yet written to the socket. Any thread. */
    long pendingWriteBytes();

    /** Stops reading (and so, through TCP flow control, the peer). Any thread. */
    void pauseReading();

    /** Undoes {@link #pauseReading()}. Any thread. */
    void resumeReading();

    /** Sends FIN once pending output is flushed; the connection can still read. Any thread. */
    void shutdownOutput();

    /** Stops reading, flushes pending output, then closes. Idempotent. Any thread. */
    void close();

    /** Closes at once with a reset (SO_LINGER 0), dropping pending output. Any thread. */
    void abort();

    /** True until the connection is closed. Any thread. */
    boolean isOpen();

    /**
     * True once {@link #close()} or {@link #abort()} has taken effect, or the connection
     * has closed: nothing more is delivered to the handler but the last callbacks of the
     * close itself (asyncio's {@code Transport.is_closing()}). On the loop thread it is
     * true as soon as {@code close()} returns; from another thread, once the close has
     * reached the loop. Any thread.
     */
    default boolean isClosing() {
        return !isOpen();
    }

    /** The peer's address (null if it could not be read). Any thread. */
    SocketAddress remoteAddress();

    /** This end's address. Any thread. */
    SocketAddress localAddress();

    /** The application's object for this connection. Any thread. */
    Object attachment();

    /** Sets the application's object for this connection. Any thread. */
    void attach(Object attachment);

    /**
     * What the TLS handshake negotiated (protocol, cipher suite, ALPN, the peer's
     * certificates), asyncio's {@code get_extra_info('ssl_object')}; null for a plain
     * connection. A TLS connection's handler is opened only after the handshake, so from
     * {@link Handler#onOpen} on this is never null for one. Any thread.
     */
    default TlsInfo tls() {
        return null;
    }

    /**
     * The PROXY protocol header this connection began with, or null (the server's
     * {@link StreamOptions#proxyProtocol()} is off, or an optional header did not come).
     * Set before {@link Handler#onOpen}. Any thread.
     */
    default ProxyHeader proxyHeader() {
        return null;
    }
}
