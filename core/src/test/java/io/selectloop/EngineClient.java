package io.selectloop;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;

/**
 * A blocking TLS client built on a JDK {@link SSLEngine} over a plain socket, for tests
 * that need to control the ciphertext itself: records of a chosen size, written to the
 * socket cut anywhere, a close_notify with bytes after it. The JDK's engine makes every
 * record; this class only moves bytes.
 */
final class EngineClient implements AutoCloseable {
    final SocketChannel channel;
    final SSLEngine engine;
    private final ByteBuffer netIn;
    private final ByteBuffer plainIn;

    EngineClient(SocketAddress server, SSLContext context, String protocol) throws IOException {
        channel = SocketChannel.open(server);
        channel.socket().setTcpNoDelay(true);
        engine = context.createSSLEngine("localhost", 0);
        engine.setUseClientMode(true);
        if (protocol != null) {
            engine.setEnabledProtocols(new String[] {protocol});
        }
        netIn = ByteBuffer.allocate(engine.getSession().getPacketBufferSize() * 4);
        plainIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize() * 4);
    }

    /** Runs the handshake to its end. */
    EngineClient handshake() throws IOException {
        engine.beginHandshake();
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        for (;;) {
            HandshakeStatus status = engine.getHandshakeStatus();
            switch (status) {
                case NEED_WRAP:
                    out.clear();
                    engine.wrap(ByteBuffer.allocate(0), out);
                    writeAll(out.flip());
                    break;
                case NEED_UNWRAP:
                    unwrapOnce();
                    break;
                case NEED_TASK:
                    Runnable task;
                    while ((task = engine.getDelegatedTask()) != null) {
                        task.run();
                    }
                    break;
                default:
                    return this;
            }
        }
    }

    /** One unwrap, reading more from the socket while the record is incomplete. */
    private SSLEngineResult unwrapOnce() throws IOException {
        for (;;) {
            netIn.flip();
            SSLEngineResult r = engine.unwrap(netIn, plainIn);
            netIn.compact();
            if (r.getStatus() != SSLEngineResult.Status.BUFFER_UNDERFLOW) {
                return r;
            }
            if (channel.read(netIn) < 0) {
                throw new EOFException("the server closed the connection");
            }
        }
    }

    /** The ciphertext of {@code plain} wrapped into records of at most {@code perRecord} bytes each. */
    byte[] records(byte[] plain, int perRecord) throws IOException {
        ByteArrayOutputStream cipher = new ByteArrayOutputStream();
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        for (int i = 0; i < plain.length; i += perRecord) {
            ByteBuffer piece = ByteBuffer.wrap(plain, i, Math.min(perRecord, plain.length - i));
            while (piece.hasRemaining()) { // a wrap may carry a handshake message instead
                out.clear();
                SSLEngineResult r = engine.wrap(piece, out);
                if (r.getStatus() != SSLEngineResult.Status.OK) {
                    throw new IOException("wrap: " + r);
                }
                cipher.write(out.array(), 0, out.position());
            }
        }
        return cipher.toByteArray();
    }

    /** Our close_notify alert, as ciphertext. */
    byte[] closeNotify() throws IOException {
        engine.closeOutbound();
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }

    /** Writes {@code bytes} to the socket in pieces of {@code piece} bytes, each its own write call. */
    void sendRaw(byte[] bytes, int piece) throws IOException {
        for (int i = 0; i < bytes.length; i += piece) {
            writeAll(ByteBuffer.wrap(bytes, i, Math.min(piece, bytes.length - i)));
        }
    }

    void send(byte[] plain) throws IOException {
        sendRaw(records(plain, 16 * 1024), Integer.MAX_VALUE);
    }

    /** Records that carried application data, read so far. */
    int dataRecords;

    /** Exactly {@code length} bytes of plaintext from the server. */
    byte[] read(int length) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        while (got.size() < length) {
            plainIn.flip();
            int n = Math.min(plainIn.remaining(), length - got.size());
            got.write(plainIn.array(), plainIn.position(), n);
            plainIn.position(plainIn.position() + n);
            plainIn.compact();
            if (got.size() < length) {
                SSLEngineResult r = unwrapOnce();
                if (r.bytesProduced() > 0) {
                    dataRecords++;
                }
                if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
                    throw new EOFException("close_notify after " + got.size() + " of " + length + " bytes");
                }
            }
        }
        return got.toByteArray();
    }

    /** Reads until the server closes the TCP connection (a reset counts); true when it did. */
    boolean awaitServerClose() throws IOException {
        ByteBuffer sink = ByteBuffer.allocate(16 * 1024);
        try {
            while (channel.read(sink.clear()) >= 0) {
                // alerts and anything else: the end is what counts
            }
        } catch (IOException reset) {
            return true;
        }
        return true;
    }

    private void writeAll(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
