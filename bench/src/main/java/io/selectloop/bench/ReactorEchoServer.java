package io.selectloop.bench;

import io.selectloop.EventLoop;
import io.selectloop.EventLoopGroup;
import io.selectloop.StreamOptions;
import io.selectloop.StreamServer;
import io.selectloop.TlsOptions;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * selectloop itself: {@link StreamServer} echo with default {@link StreamOptions},
 * exactly the one-liner from the README. One {@link EventLoop} by default; with
 * {@code --loops N}, an {@link EventLoopGroup} of N loops (accepting on one, handing
 * connections to all of them round-robin).
 *
 * <p>{@code reactor-tls}: the same with {@code StreamOptions.builder().tls(TlsOptions.server(context).build())}
 * and every other TLS setting at its default.
 */
public final class ReactorEchoServer implements EchoServerImpl {
    private final boolean tls;

    public ReactorEchoServer() {
        this(false);
    }

    public ReactorEchoServer(boolean tls) {
        this.tls = tls;
    }

    @Override
    public String name() {
        return tls ? "reactor-tls" : "reactor";
    }

    @Override
    public boolean tls() {
        return tls;
    }

    @Override
    public RunningServer start(InetSocketAddress address, ServerSettings settings) throws Exception {
        int loops = settings.loops();
        if (loops < 1) {
            throw new IllegalArgumentException("--loops must be at least 1, was " + loops);
        }
        StreamOptions.Builder builder = StreamOptions.builder()
                .groupAccept(settings.groupAccept()).reusePort(settings.reusePort());
        if (settings.maxReadsPerWakeup() > 0) {
            builder.maxReadsPerWakeup(settings.maxReadsPerWakeup());
        }
        if (tls) {
            builder.tls(TlsOptions.server(settings.tlsKeysOrSelfSigned().context()).build());
        }
        StreamOptions options = builder.build();
        EventLoop single = loops == 1 ? EventLoop.start("reactor-loop") : null;
        EventLoopGroup group = loops == 1 ? null : EventLoopGroup.start(loops, "reactor-loop");
        StreamServer server;
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
