package io.selectloop.echo.files;

import io.selectloop.Connection;
import io.selectloop.Handler;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/**
 * The client's side of one request: reads the server's replies (frames, and the unframed
 * bytes of a download) and completes {@link #result} once. Subclasses say what to send and
 * what each reply means. Loop thread only, like every {@link Handler}.
 *
 * @param <R> what the request yields
 */
abstract class Exchange<R> implements Handler {
    final CompletableFuture<R> result = new CompletableFuture<>();
    /** The first byte of a TLS alert or handshake record: what a TLS server answers a plain request with. */
    private static final int TLS_ALERT = 0x15;
    private static final int TLS_HANDSHAKE = 0x16;

    private final ByteBuffer header = ByteBuffer.allocate(4);
    private ByteBuffer frame;
    private long raw;

    /** A reply frame, decoded as UTF-8. */
    abstract void onReply(Connection c, String reply) throws Exception;

    /** Some of the {@link #expectRaw} bytes; a view valid during the call. */
    void onRaw(Connection c, ByteBuffer bytes) throws Exception {
        throw new IOException("unexpected file data");
    }

    /** The next {@code count} bytes are a download's, not frames. */
    final void expectRaw(long count) {
        raw = count;
    }

    @Override
    public final void onData(Connection c, ByteBuffer data) {
        try {
            parse(c, data);
        } catch (Exception e) {
            fail(c, e); // a local disk error or a reply we do not understand: not worth a resume hint
        }
    }

    private void parse(Connection c, ByteBuffer data) throws Exception {
        while (data.hasRemaining() && !result.isDone()) {
            if (raw > 0) {
                int n = (int) Math.min(raw, data.remaining());
                ByteBuffer slice = data.slice(data.position(), n);
                data.position(data.position() + n);
                raw -= n;
                onRaw(c, slice);
                continue;
            }
            if (frame == null) {
                while (header.hasRemaining() && data.hasRemaining()) {
                    header.put(data.get());
                }
                if (header.hasRemaining()) {
                    return;
                }
                int length = header.flip().getInt();
                header.clear();
                if (length < 0 || length > FilesProtocol.MAX_FRAME) {
                    if ((length >>> 24) == TLS_ALERT || (length >>> 24) == TLS_HANDSHAKE) {
                        throw new IOException("the server answered with a TLS record: it serves TLS (run with --tls)");
                    }
                    throw new IOException("the server sent a frame of " + Integer.toUnsignedString(length) + " bytes");
                }
                frame = ByteBuffer.allocate(length);
            }
            int n = Math.min(frame.remaining(), data.remaining());
            frame.put(data.slice(data.position(), n));
            data.position(data.position() + n);
            if (!frame.hasRemaining()) {
                String reply = new String(frame.array(), StandardCharsets.UTF_8);
                frame = null;
                if (reply.startsWith("ERR ")) {
                    String[] words = reply.split(" ", 3);
                    fail(c, new FilesError(words[1], words.length > 2 ? words[2] : ""));
                } else {
                    onReply(c, reply);
                }
            }
        }
    }

    final void send(Connection c, String request) {
        FilesProtocol.send(c, request);
    }

    final void succeed(Connection c, R value) {
        if (result.complete(value)) {
            c.close();
        }
    }

    final void fail(Connection c, Throwable cause) {
        if (result.completeExceptionally(cause)) {
            c.close();
        }
    }

    /** What the subclass holds (an open file) is let go here, whatever ended the exchange. */
    void released() {
    }

    @Override
    public final void onClose(Connection c, Throwable cause) {
        released();
        IOException tls = tlsFailure(cause);
        if (tls != null) {
            result.completeExceptionally(tls);
        } else if (!result.isDone()) {
            result.completeExceptionally(new IOException("connection lost" + (cause == null ? "" : ": " + cause.getMessage())
                    + "; run the command again to resume", cause));
        }
    }

    /**
     * A TLS failure (a certificate refused either way, an alert, plaintext where TLS was
     * expected) said as such, without the resume hint: running the command again fails the
     * same way. Null for any other cause.
     */
    static IOException tlsFailure(Throwable cause) {
        if (!(cause instanceof javax.net.ssl.SSLException)) {
            return null;
        }
        return new IOException("TLS failed: " + cause.getMessage(), cause);
    }

    @Override
    public void onEof(Connection c) {
        c.close();
    }
}
