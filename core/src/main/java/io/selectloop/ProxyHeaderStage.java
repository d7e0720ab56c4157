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
    /** The header's bytes so far when it spans reads (position: how many); null while none are held. */
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
        if (partial == null) {
            // The usual case: the whole header in this read, parsed where it lies.
            ProxyHeaderParser.Result result = parse(c, data);
            if (result == ProxyHeaderParser.Result.NEED_MORE) {
                hold(c, data, data.remaining());
            } else if (result != null) {
                open(c, result.header);
                deliverRest(c, data.slice(data.position() + result.length, data.remaining() - result.length));
            }
            return;
        }
        // The header spans reads: add to what is held, at most up to the longest header, so
        // a header trickled a byte at a time costs amortized O(1) per byte, not a copy of
        // everything so far per read.
        int taken = Math.min(data.remaining(), ProxyHeaderParser.MAX_HEADER_BYTES - partial.position());
        hold(c, data, taken);
        ProxyHeaderParser.Result result = parse(c, partial.duplicate().flip());
        if (result == null) {
            return;
        }
        if (result == ProxyHeaderParser.Result.NEED_MORE) {
            if (taken < data.remaining()) { // cannot happen: the parser decides any header of the longest length
                fail(c, new ProxyProtocolException("PROXY protocol header longer than "
                        + ProxyHeaderParser.MAX_HEADER_BYTES + " bytes"));
            }
            return;
        }
        int heldAfterHeader = partial.position() - result.length;
        ByteBuffer rest;
        if (heldAfterHeader == 0) {
            rest = data.slice(data.position() + taken, data.remaining() - taken); // still a view of this read
        } else {
            rest = ByteBuffer.allocate(heldAfterHeader + data.remaining() - taken)
                    .put(partial.duplicate().flip().position(result.length))
                    .put(data.slice(data.position() + taken, data.remaining() - taken)).flip();
        }
        release();
        open(c, result.header);
        deliverRest(c, rest);
    }

    /** The parser's answer, or null after failing the connection. */
    private ProxyHeaderParser.Result parse(Connection c, ByteBuffer input) {
        try {
            return ProxyHeaderParser.parse(input, required);
        } catch (ProxyProtocolException e) {
            fail(c, e);
            return null;
        }
    }

    private void deliverRest(Connection c, ByteBuffer rest) throws Exception {
        if (rest.hasRemaining() && !c.isClosing()) {
            application.onData(c, rest);
        }
    }

    /**
     * Keeps {@code count} bytes of {@code data} (without moving its position) after those
     * already held. The first time exactly that much is allocated; later the buffer at
     * least doubles, up to the longest header. What is allocated is charged to the
     * connection's share of the memory budget.
     */
    private void hold(Connection c, ByteBuffer data, int count) {
        if (chargedTo == null) {
            chargedTo = MemoryAccount.of(c);
        }
        int held = partial == null ? 0 : partial.position();
        int capacity = partial == null ? 0 : partial.capacity();
        if (held + count > capacity) {
            int grown = partial == null ? count
                    : Math.min(ProxyHeaderParser.MAX_HEADER_BYTES, Math.max(held + count, 2 * capacity));
            ByteBuffer bigger = ByteBuffer.allocate(grown);
            chargedTo.charge(grown);
            if (partial != null) {
                bigger.put(partial.flip());
                chargedTo.release(capacity);
            }
            partial = bigger;
        }
        partial.put(data.slice(data.position(), count));
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
        int held = partial == null ? 0 : partial.position();
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
            int held = partial == null ? 0 : partial.position();
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
