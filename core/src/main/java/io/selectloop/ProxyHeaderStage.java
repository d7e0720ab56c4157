package io.selectloop;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * The stage before a PROXY-protocol connection is opened: it reads the header
 * ({@link ProxyHeaderParser}), gives the connection the addresses it carries, and only
 * then opens the application's handler, passing it the bytes after the header in the
 * same read. It wraps the application's handler, outermost: on the wire the header comes
 * before everything else, TLS included. Loop thread only, like every handler.
 *
 * <p>What a peer can make it hold: a partial header, at most
 * {@link ProxyHeaderParser#MAX_HEADER_BYTES}, charged to the connection's share of the
 * memory budget, for at most the header timeout. A connection whose header is complete
 * in its first read (HAProxy sends it with the connection) holds nothing.
 */
final class ProxyHeaderStage implements Handler {
    private final Handler application;
    private final boolean required;
    private final long timeoutNanos;
    /** The header's bytes so far when it spans reads; null while none are held. */
    private ByteBuffer partial;
    private MemoryAccount chargedTo;
    private TimerHandle deadline;
    private boolean opened;
    private boolean failed;

    private ProxyHeaderStage(Handler application, StreamOptions options) {
        this.application = application;
        this.required = options.proxyProtocol() == ProxyProtocol.REQUIRED;
        this.timeoutNanos = options.proxyHeaderTimeoutNanos();
    }

    /** The handler a server gives an accepted connection: {@code application} itself when the protocol is off. */
    static Handler wrap(Handler application, StreamOptions options) {
        return options.proxyProtocol() == ProxyProtocol.OFF ? application : new ProxyHeaderStage(application, options);
    }

    @Override
    public void onOpen(Connection c) {
        deadline = c.loop().schedule(() -> timedOut(c), timeoutNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void onData(Connection c, ByteBuffer data) throws Exception {
        if (opened) {
            application.onData(c, data);
            return;
        }
        if (failed) {
            return;
        }
        ByteBuffer input = data;
        if (partial != null) {
            // Rare (the header split across reads): one copy of header-so-far and this read.
            input = ByteBuffer.allocate(partial.remaining() + data.remaining()).put(partial).put(data).flip();
        }
        ProxyHeaderParser.Result result;
        try {
            result = ProxyHeaderParser.parse(input, required);
        } catch (ProxyProtocolException e) {
            fail(c, e);
            return;
        }
        if (result == ProxyHeaderParser.Result.NEED_MORE) {
            hold(c, input);
            return;
        }
        release();
        ProxyHeader header = result.header;
        ByteBuffer rest = input.slice(input.position() + result.length, input.remaining() - result.length);
        open(c, header);
        if (rest.hasRemaining() && !c.isClosing()) {
            application.onData(c, rest);
        }
    }

    /** Keeps the bytes of a header still arriving; the parser has already refused more than the maximum. */
    private void hold(Connection c, ByteBuffer input) {
        int size = input.remaining();
        ByteBuffer copy = ByteBuffer.allocate(size).put(input.duplicate()).flip();
        if (chargedTo == null) {
            chargedTo = MemoryAccount.of(c);
        }
        release();
        chargedTo.charge(size);
        partial = copy;
    }

    private void release() {
        if (partial != null) {
            chargedTo.release(partial.capacity());
            partial = null;
        }
    }

    private void open(Connection c, ProxyHeader header) throws Exception {
        opened = true;
        if (deadline != null) {
            deadline.cancel();
        }
        if (header != null && c instanceof StreamConnection) {
            ((StreamConnection) c).proxyHeaderReceived(header);
        }
        application.onOpen(c);
    }

    private void timedOut(Connection c) {
        if (opened || failed || !c.isOpen()) {
            return;
        }
        if (!required && partial == null) {
            // Optional, and the peer has sent nothing: a connection without a header whose
            // protocol lets the server speak first.
            try {
                open(c, null);
            } catch (Exception e) {
                if (c instanceof StreamConnection) {
                    ((StreamConnection) c).preOpenHandlerFailed(e);
                }
            }
            return;
        }
        int held = partial == null ? 0 : partial.remaining();
        fail(c, new ProxyProtocolException("PROXY protocol header not complete within "
                + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms (" + held + " bytes received)"));
    }

    private void fail(Connection c, ProxyProtocolException e) {
        failed = true;
        release();
        if (deadline != null) {
            deadline.cancel();
        }
        if (c instanceof StreamConnection) {
            ((StreamConnection) c).proxyHeaderFailed(e);
        } else {
            c.abort();
        }
    }

    @Override
    public void onEof(Connection c) throws Exception {
        if (opened) {
            application.onEof(c);
        } else if (!failed) {
            int held = partial == null ? 0 : partial.remaining();
            fail(c, new ProxyProtocolException("connection ended inside the PROXY protocol header ("
                    + held + " bytes received)"));
        }
    }

    @Override
    public void onWritabilityChanged(Connection c, boolean writable) throws Exception {
        if (opened) {
            application.onWritabilityChanged(c, writable);
        }
    }

    @Override
    public void onIdle(Connection c, IdleKind kind) throws Exception {
        if (opened) {
            application.onIdle(c, kind);
        } else {
            c.close(); // the header deadline is the one that counts here, but idleness still closes
        }
    }

    @Override
    public void onClose(Connection c, Throwable cause) {
        release();
        if (deadline != null) {
            deadline.cancel();
        }
        application.onClose(c, cause);
    }
}
