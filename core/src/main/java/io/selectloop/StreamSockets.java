package io.selectloop;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;

/** The {@link StreamOptions} that are socket options, applied to accepted and connecting channels. */
final class StreamSockets {
    private StreamSockets() {
    }

    /** Applies socket options. Any thread, before the connection registers. */
    static void configure(SocketChannel channel, StreamOptions options) throws IOException {
        channel.configureBlocking(false);
        applyBufferSizes(channel, options);
        applyConnectedOptions(channel, options);
    }

    /** SO_RCVBUF/SO_SNDBUF; a client sets them before connecting, so the window scale can use them. */
    static void applyBufferSizes(SocketChannel channel, StreamOptions options) throws IOException {
        if (options.receiveBufferSize() > 0) {
            channel.setOption(StandardSocketOptions.SO_RCVBUF, options.receiveBufferSize());
        }
        if (options.sendBufferSize() > 0) {
            channel.setOption(StandardSocketOptions.SO_SNDBUF, options.sendBufferSize());
        }
    }

    /** The TCP options of a connected channel; nothing for a Unix domain socket. */
    static void applyConnectedOptions(SocketChannel channel, StreamOptions options) throws IOException {
        if (channel.getLocalAddress() instanceof InetSocketAddress) {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, options.tcpNoDelay());
            if (options.keepAlive()) {
                channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            }
        }
    }
}
