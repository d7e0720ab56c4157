package io.selectloop.bench;

import io.selectloop.EventLoop;
import io.selectloop.StreamServer;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * A broken echo server for the tests: it echoes every read with its first byte flipped.
 * Registered through {@code META-INF/services}, so {@code bench server --impl corrupting}
 * finds it on the test class path, and the bench must report it with errors.
 */
public final class CorruptingEchoServer implements EchoServerImpl {

    @Override
    public String name() {
        return "corrupting";
    }

    @Override
    public RunningServer start(InetSocketAddress address, ServerSettings settings) throws Exception {
        EventLoop loop = EventLoop.start("corrupting-loop");
        StreamServer server = StreamServer.bind(loop, address, () -> (c, data) -> {
            byte[] copy = new byte[data.remaining()];
            data.get(copy);
            copy[0] ^= 0x20;
            c.write(copy);
        });
        InetSocketAddress bound = (InetSocketAddress) server.localAddress();
        return new RunningServer() {
            @Override
            public InetSocketAddress localAddress() {
                return bound;
            }

            @Override
            public void close() {
                loop.shutdownGracefully(Duration.ofSeconds(1)).join();
            }
        };
    }
}
