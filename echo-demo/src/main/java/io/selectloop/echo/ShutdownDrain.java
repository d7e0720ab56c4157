package io.selectloop.echo;

import io.selectloop.Connection;
import io.selectloop.Handler;
import io.selectloop.IdleKind;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * How the demo, started with {@code --reuse-port}, finishes its connections on SIGTERM, so
 * that a restart loses no byte: a
 * lingering close, as Apache's and nginx's. Each connection sends FIN once everything it
 * has echoed is flushed ({@link Connection#shutdownOutput()}), then keeps reading, and
 * drops, whatever the client still sends, until the client closes its end. The client
 * sees a clean end of stream after the last echo, knows exactly which bytes were
 * answered, and resends the rest on a new connection (to the new process). Closing with
 * unread input instead would make the kernel send a reset, which can destroy echoes the
 * client has not read yet. docs/ARCHITECTURE.md, "Scale-out". Without {@code --reuse-port}
 * the demo keeps its plain shutdown (flush, then close: a client that sent more than was
 * echoed is reset rather than shown a clean end), since there is no process to resend to.
 */
final class ShutdownDrain {
    private final Set<Connection> open = ConcurrentHashMap.newKeySet();
    private volatile boolean draining;

    /** The handler for one connection, tracked until it closes. */
    Handler track(Handler inner) {
        return new Handler() {
            @Override
            public void onOpen(Connection c) throws Exception {
                open.add(c);
                inner.onOpen(c);
                if (draining) {
                    c.shutdownOutput(); // accepted just before the listener closed
                }
            }

            @Override
            public void onData(Connection c, ByteBuffer data) throws Exception {
                inner.onData(c, data); // after shutdownOutput, what it writes is dropped
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
                open.remove(c);
                inner.onClose(c, cause);
            }
        };
    }

    /**
     * Half-closes every connection and waits, at most {@code timeout}, for the clients to
     * close theirs. Any thread (not a loop thread: it blocks).
     *
     * @return the connections still open at the deadline
     */
    int drain(Duration timeout) throws InterruptedException {
        draining = true;
        for (Connection c : open) {
            c.shutdownOutput();
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        CountDownLatch never = new CountDownLatch(1);
        while (!open.isEmpty() && System.nanoTime() - deadline < 0) {
            never.await(Math.min(20, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)), TimeUnit.MILLISECONDS);
        }
        return open.size();
    }

    int openConnections() {
        return open.size();
    }
}
