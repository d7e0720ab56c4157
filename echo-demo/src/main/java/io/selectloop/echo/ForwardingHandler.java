package io.selectloop.echo;

import io.selectloop.Connection;
import io.selectloop.Handler;
import io.selectloop.IdleKind;
import java.nio.ByteBuffer;

/**
 * A handler that passes every callback to another: the demo's wrappers (the greeting, the
 * shutdown drain) override only the callbacks they add to. Loop thread, like every handler.
 */
abstract class ForwardingHandler implements Handler {
    final Handler inner;

    ForwardingHandler(Handler inner) {
        this.inner = inner;
    }

    @Override
    public void onOpen(Connection c) throws Exception {
        inner.onOpen(c);
    }

    @Override
    public void onData(Connection c, ByteBuffer data) throws Exception {
        inner.onData(c, data);
    }

    @Override
    public void onEof(Connection c) throws Exception {
        inner.onEof(c);
    }

    @Override
    public void onWritabilityChanged(Connection c, boolean writable) throws Exception {
        inner.onWritabilityChanged(c, writable);
    }

    @Override
    public void onIdle(Connection c, IdleKind kind) throws Exception {
        inner.onIdle(c, kind);
    }

    @Override
    public void onClose(Connection c, Throwable cause) {
        inner.onClose(c, cause);
    }
}
