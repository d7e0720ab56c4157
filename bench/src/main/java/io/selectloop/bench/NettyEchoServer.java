package io.selectloop.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.net.InetSocketAddress;

/**
 * Netty 4.2's echo server, written the way Netty's own echo example is: write in
 * {@code channelRead}, flush in {@code channelReadComplete}. Settings are Netty's
 * recommended defaults: one {@link MultiThreadIoEventLoopGroup} with the default thread
 * count (twice the CPUs), the default pooled allocator, the default listen backlog
 * (the kernel's somaxconn), and TCP_NODELAY on.
 *
 * <p>{@code netty-nio-tls} puts Netty's {@code SslHandler} first in each pipeline, from
 * {@code SslContextBuilder.forServer(keyManagerFactory)} with the JDK provider: what Netty
 * documents as its default when netty-tcnative (OpenSSL/BoringSSL) is not on the class path,
 * named explicitly here so that adding tcnative later cannot change what is measured.
 */
public final class NettyEchoServer implements EchoServerImpl {

    /** Which Netty I/O handler serves the connections. */
    public enum Transport { NIO, EPOLL }

    private final Transport transport;
    private final boolean tls;

    public NettyEchoServer(Transport transport) {
        this(transport, false);
    }

    public NettyEchoServer(Transport transport, boolean tls) {
        this.transport = transport;
        this.tls = tls;
    }

    @Override
    public String name() {
        return (transport == Transport.NIO ? "netty-nio" : "netty-epoll") + (tls ? "-tls" : "");
    }

    @Override
    public boolean tls() {
        return tls;
    }

    @Override
    public String unavailableReason() {
        if (transport == Transport.EPOLL && !Epoll.isAvailable()) {
            return "Netty's native epoll transport is not available here: " + Epoll.unavailabilityCause();
        }
        return null;
    }

    @Override
    public RunningServer start(InetSocketAddress address, ServerSettings settings) throws Exception {
        String reason = unavailableReason();
        if (reason != null) {
            throw new UnsupportedOperationException(reason);
        }
        IoHandlerFactory ioHandlers = transport == Transport.NIO ? NioIoHandler.newFactory() : EpollIoHandler.newFactory();
        Class<? extends ServerChannel> channelType =
                transport == Transport.NIO ? NioServerSocketChannel.class : EpollServerSocketChannel.class;
        SslContext sslContext = tls
                ? SslContextBuilder.forServer(settings.tlsKeysOrSelfSigned().keyManagers()).sslProvider(SslProvider.JDK).build()
                : null;
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(ioHandlers);
        EchoHandler echo = new EchoHandler();
        Channel listener;
        try {
            listener = new ServerBootstrap()
                    .group(group)
                    .channel(channelType)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            if (sslContext != null) {
                                ch.pipeline().addLast(sslContext.newHandler(ch.alloc()));
                            }
                            ch.pipeline().addLast(echo);
                        }
                    })
                    .bind(address).sync().channel();
        } catch (Exception e) {
            group.shutdownGracefully();
            throw e;
        }
        InetSocketAddress bound = (InetSocketAddress) listener.localAddress();
        return new RunningServer() {
            @Override
            public InetSocketAddress localAddress() {
                return bound;
            }

            @Override
            public void close() {
                listener.close().syncUninterruptibly();
                group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
            }
        };
    }

    /** The echo example's handler: one instance serves every connection. */
    @Sharable
    static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // The example prints the stack trace; a peer resetting at the end of a run is not news.
            ctx.close();
        }
    }
}
