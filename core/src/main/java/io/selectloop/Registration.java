package io.selectloop;

import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.util.Objects;

/**
 * A channel registered with an {@link EventLoop}: Python's {@code SelectorKey}, and
 * mio's {@code Registry} entry. It outlives selector rebuilds (the loop moves it to the
 * new selector with the same interest and attachment), so hold on to this rather than
 * to a {@link SelectionKey}.
 *
 * <p>Threading: {@link #channel()}, {@link #loop()} and {@link #isValid()} may be
 * called from any thread; every other method only on the loop's thread (they throw
 * {@link IllegalStateException} elsewhere). From another thread, hop on with
 * {@link EventLoop#execute(Runnable)}.
 */
public final class Registration {
    private final EventLoop loop;
    private final SelectableChannel channel;
    private final IoHandler handler;
    private volatile SelectionKey key;
    private Object attachment;

    Registration(EventLoop loop, SelectableChannel channel, IoHandler handler, Object attachment) {
        this.loop = loop;
        this.channel = channel;
        this.handler = Objects.requireNonNull(handler, "handler");
        this.attachment = attachment;
    }

    /** The registered channel. Any thread. */
    public SelectableChannel channel() {
        return channel;
    }

    /** The loop this registration belongs to. Any thread. */
    public EventLoop loop() {
        return loop;
    }

    /** True until cancelled or until its channel is closed. Any thread. */
    public boolean isValid() {
        SelectionKey k = key;
        return k != null && k.isValid();
    }

    /** The {@code SelectionKey.OP_*} bits this registration waits for. Loop thread only. */
    public int interestOps() {
        loop.checkInEventLoop();
        return key.interestOps();
    }

    /**
     * Changes what to wait for; 0 keeps the registration but selects nothing. Loop thread
     * only. Fails with {@link java.nio.channels.CancelledKeyException} after {@link #cancel()}.
     */
    public Registration interestOps(int ops) {
        loop.checkInEventLoop();
        SelectionKey k = key;
        if (k.interestOps() != ops) {
            k.interestOps(ops);
        }
        return this;
    }

    /** The object given at registration or by {@link #attach(Object)}. Loop thread only. */
    public Object attachment() {
        loop.checkInEventLoop();
        return attachment;
    }

    /** Replaces the attachment; returns the previous one. Loop thread only. */
    public Object attach(Object newAttachment) {
        loop.checkInEventLoop();
        Object previous = attachment;
        attachment = newAttachment;
        return previous;
    }

    /** The callback. Loop thread only. */
    public IoHandler handler() {
        loop.checkInEventLoop();
        return handler;
    }

    /**
     * Stops watching the channel. Like {@code selector.unregister}, this does not close
     * the channel: that stays the caller's to do. Idempotent. Loop thread only.
     */
    public void cancel() {
        loop.checkInEventLoop();
        SelectionKey k = key;
        if (k != null) {
            k.cancel();
        }
    }

    // ---- used by the loop ----

    IoHandler handlerUnchecked() {
        return handler;
    }

    SelectionKey key() {
        return key;
    }

    void key(SelectionKey newKey) {
        key = newKey;
    }

    /** The handler threw: the loop's rule is that only this channel pays for it. */
    void closeQuietly() {
        SelectionKey k = key;
        if (k != null) {
            k.cancel();
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing is best effort; the fd is released either way
        }
    }

    @Override
    public String toString() {
        return "Registration[" + channel + "]";
    }
}
