package io.selectloop.bench;

import java.net.InetSocketAddress;

/**
 * One echo server implementation that {@code bench server --impl NAME} can start.
 *
 * <p>The built-in ones are listed in {@link ServerImpls}; more can be added without
 * touching this module through {@link java.util.ServiceLoader} (a
 * {@code META-INF/services/io.selectloop.bench.EchoServerImpl} file on the class path),
 * which is how the tests add a deliberately corrupting server.
 *
 * <p>Every implementation must echo exactly the bytes it reads, in order, and keep each
 * connection open until the peer closes it.
 */
public interface EchoServerImpl {

    /** The name given to {@code --impl}. */
    String name();

    /**
     * Whether this implementation speaks TLS (its name then ends in {@code -tls}, the
     * {@code server} command prints {@code listening on tls://}, and the load generator
     * must speak TLS to it).
     */
    default boolean tls() {
        return false;
    }

    /**
     * Why this implementation cannot run on this JVM or operating system, or null when it
     * can (virtual threads need JDK 21+, epoll needs Linux and Netty's native library).
     */
    default String unavailableReason() {
        return null;
    }

    /**
     * Binds {@code address} (port 0 picks a free port) and starts serving before returning.
     *
     * @throws IllegalArgumentException when {@code settings} ask for something this
     *     implementation cannot do
     */
    RunningServer start(InetSocketAddress address, ServerSettings settings) throws Exception;

    /** A started server. */
    interface RunningServer extends AutoCloseable {
        /** The address actually bound (the real port when asked for port 0). */
        InetSocketAddress localAddress();

        /** Stops accepting and closes every connection; may take a moment. */
        @Override
        void close() throws Exception;
    }

    /**
     * Settings that are not the same for every implementation.
     *
     * @param loops event loops for the {@code reactor} implementations; the others use
     *     their own documented defaults and ignore it
     * @param tlsKeys the TLS implementations' key material; null: they make a fresh
     *     self-signed key ({@link BenchTls#selfSignedServerKeys()})
     * @param groupAccept reactor with loops above 1: a SO_REUSEPORT listener per loop, or one hand-off listener
     * @param reusePort reactor: bind with SO_REUSEPORT, so several server processes share the port
     * @param maxReadsPerWakeup reactor: reads per connection per ready event ({@code StreamOptions}); 0: its default
     */
    record ServerSettings(int loops, BenchTls.ServerKeys tlsKeys, io.selectloop.GroupAccept groupAccept,
                          boolean reusePort, int maxReadsPerWakeup) {
        public ServerSettings(int loops) {
            this(loops, null);
        }

        public ServerSettings(int loops, BenchTls.ServerKeys tlsKeys) {
            this(loops, tlsKeys, io.selectloop.GroupAccept.HAND_OFF, false, 0);
        }

        public static ServerSettings defaults() {
            return new ServerSettings(1);
        }

        /** The key material to serve TLS with: the one given, else a fresh self-signed one. */
        public BenchTls.ServerKeys tlsKeysOrSelfSigned() throws Exception {
            return tlsKeys != null ? tlsKeys : BenchTls.selfSignedServerKeys();
        }
    }
}
