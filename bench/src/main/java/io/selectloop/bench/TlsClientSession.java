package io.selectloop.bench;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * The load generator's end of one TLS connection: an {@link SSLEngine} driven over a
 * non-blocking channel by the generator thread that owns the connection. Delegated
 * handshake tasks run inline: that thread is the client, and the handshake is its work.
 *
 * <p>Buffers are on the heap (the JDK's ciphers work on arrays; direct buffers would be
 * copied into them) and per connection: {@code netIn} holds at most one partial record
 * beyond what has been unwrapped, {@code netOut} a couple of records not yet written.
 */
final class TlsClientSession {
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    private final SSLEngine engine;
    /** Write mode: bytes read from the socket and not unwrapped yet. */
    private final ByteBuffer netIn;
    /** Read mode: records wrapped and not written yet. */
    private final ByteBuffer netOut;
    private boolean handshakeDone;
    private boolean inboundClosed;

    TlsClientSession(SSLContext context) throws SSLException {
        engine = BenchTls.clientEngine(context);
        int packet = engine.getSession().getPacketBufferSize();
        netIn = ByteBuffer.allocate(packet);
        netOut = ByteBuffer.allocate(2 * packet);
        netOut.flip();
        engine.beginHandshake();
    }

    boolean handshakeDone() {
        return handshakeDone;
    }

    /** Records are waiting for the socket to take them: wait for OP_WRITE. */
    boolean wantsWrite() {
        return netOut.hasRemaining();
    }

    /** "TLSv1.3 TLS_AES_128_GCM_SHA256", once the handshake is done. */
    String negotiated() {
        return engine.getSession().getProtocol() + " " + engine.getSession().getCipherSuite();
    }

    /**
     * Drives the handshake as far as the socket allows.
     *
     * @param scratch receives application data unwrapped during the handshake (there is none:
     *                the server speaks only when spoken to)
     * @return true once the handshake is finished and its last flight written
     * @throws IOException when the handshake fails or the server closes during it
     */
    boolean handshake(SocketChannel channel, ByteBuffer scratch) throws IOException {
        while (true) {
            if (!flush(channel)) {
                return false;
            }
            switch (engine.getHandshakeStatus()) {
                case NEED_TASK -> runTasks();
                case NEED_WRAP -> wrapControl();
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                    scratch.clear();
                    netIn.flip();
                    SSLEngineResult r = engine.unwrap(netIn, scratch);
                    netIn.compact();
                    if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
                        throw new SSLException("the server closed TLS during the handshake");
                    }
                    if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW || r.bytesConsumed() == 0) {
                        int n = channel.read(netIn);
                        if (n < 0) {
                            throw new EOFException("the server closed the connection during the TLS handshake");
                        }
                        if (n == 0) {
                            return false;
                        }
                    }
                }
                default -> {
                    handshakeDone = true;
                    return true;
                }
            }
        }
    }

    /**
     * Unwraps into {@code into} (cleared by the caller, at least 16 KiB) what the socket has.
     *
     * @return plaintext bytes put into {@code into}; 0 when nothing more is to be had now;
     *     -1 once the server has closed (close_notify or end of stream)
     */
    int read(SocketChannel channel, ByteBuffer into) throws IOException {
        if (inboundClosed) {
            return -1;
        }
        int produced = 0;
        while (true) {
            netIn.flip();
            boolean underflow = false;
            while (netIn.hasRemaining() && !underflow) {
                SSLEngineResult r = engine.unwrap(netIn, into);
                produced += r.bytesProduced();
                switch (r.getStatus()) {
                    case CLOSED -> inboundClosed = true;
                    case BUFFER_UNDERFLOW -> underflow = true;
                    case BUFFER_OVERFLOW -> {
                        // `into` is full: hand over what it holds, the rest stays in netIn.
                        netIn.compact();
                        return produced;
                    }
                    default -> { }
                }
                if (inboundClosed) {
                    break;
                }
                afterHandshakeMessage(r, channel);
            }
            netIn.compact();
            if (inboundClosed) {
                return produced > 0 ? produced : -1;
            }
            if (produced > 0) {
                return produced;
            }
            int n = channel.read(netIn);
            if (n < 0) {
                inboundClosed = true;
                return -1;
            }
            if (n == 0) {
                return 0;
            }
        }
    }

    /**
     * Wraps as much of {@code plaintext} as the socket takes and writes it.
     *
     * @return plaintext bytes consumed; what was wrapped but not written yet is held
     *     ({@link #wantsWrite()}) and goes first next time
     */
    int write(SocketChannel channel, ByteBuffer plaintext) throws IOException {
        int consumed = 0;
        if (!flush(channel)) {
            return 0;
        }
        while (plaintext.hasRemaining()) {
            netOut.compact();
            SSLEngineResult r;
            try {
                r = engine.wrap(plaintext, netOut);
            } finally {
                netOut.flip();
            }
            consumed += r.bytesConsumed();
            if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
                throw new SSLException("TLS is closed for writing");
            }
            if (r.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW && !flush(channel)) {
                return consumed;
            }
        }
        flush(channel);
        return consumed;
    }

    /** Writes what is still held ({@link #wantsWrite()}); true when nothing is left. */
    boolean flush(SocketChannel channel) throws IOException {
        while (netOut.hasRemaining()) {
            if (channel.write(netOut) == 0) {
                return false;
            }
        }
        return true;
    }

    /** Sends close_notify if the socket takes it at once; the caller closes the socket next. */
    void closeOutbound(SocketChannel channel) {
        try {
            engine.closeOutbound();
            if (handshakeDone && !netOut.hasRemaining()) {
                netOut.compact();
                try {
                    engine.wrap(EMPTY, netOut);
                } finally {
                    netOut.flip();
                }
                channel.write(netOut);
            }
        } catch (IOException e) {
            // closing anyway; a close_notify that cannot be sent is not the server's fault
        }
    }

    /** TLS 1.3 post-handshake messages (tickets, key updates) may ask for a task or an answer. */
    private void afterHandshakeMessage(SSLEngineResult r, SocketChannel channel) throws IOException {
        SSLEngineResult.HandshakeStatus status = r.getHandshakeStatus();
        while (status == SSLEngineResult.HandshakeStatus.NEED_TASK || status == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
            if (status == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                runTasks();
            } else {
                if (!wrapControl()) {
                    return; // netOut is full: the engine produces the answer with the next wrap
                }
                flush(channel); // what the socket does not take now goes with the next write
            }
            status = engine.getHandshakeStatus();
        }
    }

    /** Wraps a handshake or control message; false if netOut had no room for it. */
    private boolean wrapControl() throws SSLException {
        netOut.compact();
        SSLEngineResult r;
        try {
            r = engine.wrap(EMPTY, netOut);
        } finally {
            netOut.flip();
        }
        if (r.getStatus() == SSLEngineResult.Status.CLOSED && !handshakeDone) {
            throw new SSLException("TLS closed during the handshake");
        }
        return r.getStatus() != SSLEngineResult.Status.BUFFER_OVERFLOW;
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }
}
