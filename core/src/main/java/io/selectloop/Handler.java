package io.selectloop;

import java.nio.ByteBuffer;

/**
 * What a connection does with its events: asyncio's {@code Protocol}. One handler
 * instance per connection (a server takes a {@code Supplier<Handler>}), so a handler
 * may keep per-connection state in plain fields.
 *
 * <p>Every method is called on the connection's loop thread, one at a time. If one
 * throws, that connection alone is closed and the exception is passed to
 * {@link #onClose(Connection, Throwable)}; the loop and every other connection carry on.
 *
 * <p>Only {@link #onData} is abstract, so an echo server is one lambda:
 * <pre>{@code StreamServer.bind(loop, address, () -> (c, data) -> c.write(data));}</pre>
 */
@FunctionalInterface
public interface Handler {

    /**
     * The connection is established and registered; for TLS, the handshake is done too,
     * and {@link Connection#tls()} says what it negotiated.
     */
    default void onOpen(Connection c) throws Exception {
    }

    /**
     * Bytes arrived. {@code data} is a view of exactly these bytes in the loop's shared
     * read buffer (its capacity is their count, so no other peer's bytes are within
     * reach), valid only during this call: copy what must outlive it
     * ({@link Connection#write} copies). The view object itself is reused for a later
     * read of the same length, on any connection of this loop, so neither it nor its
     * position, limit, mark or byte order may be kept.
     */
    void onData(Connection c, ByteBuffer data) throws Exception;

    /**
     * The peer shut its output (half-close); no more data will arrive. The default closes
     * the connection once its pending output is flushed. Override and keep writing to
     * answer a peer that half-closed; reading stops either way.
     */
    default void onEof(Connection c) throws Exception {
        c.close();
    }

    /**
     * Pending output crossed the high watermark ({@code false}) or fell back below the
     * low one ({@code true}). Called exactly once per crossing.
     */
    default void onWritabilityChanged(Connection c, boolean writable) throws Exception {
    }

    /**
     * Nothing was read and/or written for the configured idle time. The default closes
     * the connection.
     *
     * @param kind which of the configured idle timeouts expired
     */
    default void onIdle(Connection c, IdleKind kind) throws Exception {
        c.close();
    }

    /**
     * The connection is closed; called exactly once, last. A TLS connection whose
     * handshake failed is closed without {@link #onOpen} having run, with the
     * {@link javax.net.ssl.SSLException} as the cause.
     *
     * @param cause null for an orderly close (either side closed normally, or
     *     {@link Connection#abort()}); otherwise what closed it: an I/O error such as a
     *     reset, an exception thrown by this handler, or a limit that was exceeded
     */
    default void onClose(Connection c, Throwable cause) {
    }
}
