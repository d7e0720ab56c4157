package io.selectloop.bench;

import io.selectloop.EventLoop;
import io.selectloop.StreamOptions;
import io.selectloop.StreamServer;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * selectloop itself: {@link StreamServer} echo on one {@link EventLoop} with default
 * {@link StreamOptions}, exactly the one-liner from the README.
 */
public final class ReactorEchoServer implements EchoServerImpl {

    @Override
    public String name() {
        return "reactor";
    }

    @Override
    public RunningServer start(InetSocketAddress address, ServerSettings settings) throws Exception {
        EventLoop loop = startLoops(settings.loops());
        StreamServer server;
        try {
            server = StreamServer.bind(loop, address, StreamOptions.defaults(), () -> (c, data) -> c.write(data));
        } catch (Exception e) {
            loop.close();
            throw e;
        }
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

    /**
     * The one place that knows how many loops the reactor may run. Core has no
     * {@code EventLoopGroup} yet; once it does, build a group of {@code loops} here and
     * bind the server to it.
     */
    private static EventLoop startLoops(int loops) {
        if (loops != 1) {
            throw new IllegalArgumentException("--loops " + loops + " is not supported yet: selectloop core has no "
                    + "EventLoopGroup; the reactor runs on exactly one loop (--loops 1)");
        }
        return EventLoop.start("reactor-loop");
    }
}
