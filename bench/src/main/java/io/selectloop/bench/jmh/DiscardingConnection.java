package io.selectloop.bench.jmh;

import io.selectloop.Connection;
import io.selectloop.EventLoop;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A {@link Connection} without a socket, for driving a framing's {@link io.selectloop.Handler}
 * directly from a benchmark: writes are counted and dropped, close and abort only mark it
 * closed. Its {@link #loop()} is an {@link EventLoop#open()} loop that nobody runs, opened
 * on the benchmark thread, which therefore counts as the loop thread; the decoders take their
 * accumulation buffers from that loop's pool, and {@code Framing.write} takes its on-loop path.
 * Not thread-safe: one benchmark thread only.
 */
final class DiscardingConnection implements Connection {
    private final EventLoop loop;
    /** Bytes passed to {@link #write(ByteBuffer)}, so that writing is not dead code. */
    long writtenBytes;
    private boolean open = true;
    private Object attachment;

    DiscardingConnection(EventLoop loop) {
        this.loop = loop;
    }

    @Override
    public EventLoop loop() {
        return loop;
    }

    @Override
    public void write(ByteBuffer src) {
        writtenBytes += src.remaining();
        src.position(src.limit());
    }

    /** Counted and dropped like {@link #write}: the interface's default would join the parts first. */
    @Override
    public void writeAll(ByteBuffer... srcs) {
        for (ByteBuffer src : srcs) {
            write(src);
        }
    }

    @Override
    public void sendFile(FileChannel file, long position, long count) {
        throw new UnsupportedOperationException("no file transfers in a benchmark");
    }

    @Override
    public void flush() {
    }

    @Override
    public boolean isWritable() {
        return true;
    }

    @Override
    public long pendingWriteBytes() {
        return 0;
    }

    @Override
    public void pauseReading() {
    }

    @Override
    public void resumeReading() {
    }

    @Override
    public void shutdownOutput() {
    }

    @Override
    public void close() {
        open = false;
    }

    @Override
    public void abort() {
        open = false;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public SocketAddress remoteAddress() {
        return null;
    }

    @Override
    public SocketAddress localAddress() {
        return null;
    }

    @Override
    public Object attachment() {
        return attachment;
    }

    @Override
    public void attach(Object attachment) {
        this.attachment = attachment;
    }
}
