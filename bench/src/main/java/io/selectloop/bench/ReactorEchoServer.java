package io.selectloop.bench;

import io.selectloop.EventLoop;
import io.selectloop.EventLoopGroup;
import io.selectloop.StreamOptions;
import io.selectloop.StreamServer;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * selectloop itself: {@link StreamServer} echo with default {@link StreamOptions},
 * exactly the one-liner from the README. One {@link EventLoop} by default; with
 * {@code --loops N}, an {@link EventLoopGroup} of N loops (accepting on one, handing
 * connections to all of them round-robin).
 */
public final class ReactorEchoServer implements EchoServerImpl {

    @Override
    public String name() {
        return "reactor";
    }

    @Override
    public RunningServer start(InetSocketAddress address, ServerSettings settings) throws Exception {
        int loops = settings.loops();
        if (loops < 1) {
            throw new IllegalArgumentException("--loops must be at least 1, was " + loops);
        }
        EventLoop single = loops == 1 ? EventLoop.start("reactor-loop") : null;
        EventLoopGroup group = loops == 1 ? null : EventLoopGroup.start(loops, "reactor-loop");
        StreamServer server;
        StreamOptions options = StreamOptions.builder()
                .groupAccept(settings.groupAccept()).reusePort(settings.reusePort()).build();
        try {
            server = single != null
                    ? StreamServer.bind(single, address, options, () -> (c, data) -> c.write(data))
                    : StreamServer.bind(group, address, options, () -> (c, data) -> c.write(data));
        } catch (Exception e) {
            if (single != null) {
                single.close();
            } else {
                group.close();
            }
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
                (single != null ? single.shutdownGracefully(Duration.ofSeconds(1))
                        : group.shutdownGracefully(Duration.ofSeconds(1))).join();
            }
        };
    }
}
