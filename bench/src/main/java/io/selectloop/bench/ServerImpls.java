package io.selectloop.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/** The echo server implementations {@code bench} knows by name. */
public final class ServerImpls {
    /** The built-in implementations, in the order {@code compare} runs them by default. */
    public static final List<String> BUILT_IN = List.of("reactor", "threads", "virtual", "netty-nio", "netty-epoll");
    /** The built-in TLS implementations, in the order {@code compare --tls} runs them by default. */
    public static final List<String> BUILT_IN_TLS = List.of("reactor-tls", "threads-tls", "netty-nio-tls");
    /** What {@code --tls} appends to an implementation's name. */
    public static final String TLS_SUFFIX = "-tls";

    private ServerImpls() {
    }

    /** The implementation called {@code name}: a built-in one, else one found by {@link ServiceLoader}. */
    public static Optional<EchoServerImpl> find(String name) {
        return Optional.ofNullable(all().get(name));
    }

    /** Every implementation on the class path, built-in ones first. */
    public static Map<String, EchoServerImpl> all() {
        Map<String, EchoServerImpl> impls = new LinkedHashMap<>();
        for (EchoServerImpl impl : List.of(
                new ReactorEchoServer(),
                BlockingEchoServer.platformThreads(),
                BlockingEchoServer.virtualThreads(),
                new NettyEchoServer(NettyEchoServer.Transport.NIO),
                new NettyEchoServer(NettyEchoServer.Transport.EPOLL),
                new ReactorEchoServer(true),
                BlockingEchoServer.platformThreadsTls(),
                new NettyEchoServer(NettyEchoServer.Transport.NIO, true))) {
            impls.put(impl.name(), impl);
        }
        for (EchoServerImpl impl : ServiceLoader.load(EchoServerImpl.class)) {
            impls.putIfAbsent(impl.name(), impl);
        }
        return impls;
    }

    /**
     * The name {@code --tls} selects for {@code name}: {@code reactor} → {@code reactor-tls};
     * a name that already ends in {@code -tls} stays as it is.
     */
    public static String tlsVariant(String name) {
        return name.endsWith(TLS_SUFFIX) ? name : name + TLS_SUFFIX;
    }

    /** Names of every implementation on the class path, for help and error messages. */
    public static List<String> names() {
        return new ArrayList<>(all().keySet());
    }
}
