package io.selectloop.echo;

import io.selectloop.DatagramEndpoint;
import io.selectloop.EventLoopGroup;
import io.selectloop.Framing;
import io.selectloop.Handler;
import io.selectloop.StreamOptions;
import io.selectloop.StreamServer;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "server", mixinStandardHelpOptions = true,
        description = "Echo every byte back (the default command). Serves until SIGINT/SIGTERM, then shuts down gracefully.")
final class EchoServerCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger("echo-demo");

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "TCP address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "7007", description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--unix", paramLabel = "PATH", description = "Also listen on this Unix domain socket path.")
    Path unixPath;

    @Option(names = "--udp-port", paramLabel = "P",
            description = "Also echo UDP datagrams on this port of --host; 0 picks a free one (default: no UDP).")
    Integer udpPort;

    @Option(names = "--loops", defaultValue = "1", paramLabel = "N",
            description = "Event loops, each on its own thread; connections are spread over them round-robin (default: ${DEFAULT-VALUE}).")
    int loops;

    @Option(names = "--framing", defaultValue = "raw", paramLabel = "raw|line|length",
            description = "raw: echo every byte; line: echo each \\n-terminated line; length: echo each frame of a "
                    + "4-byte big-endian length and its payload (default: ${DEFAULT-VALUE}).")
    FramingMode framing;

    @Option(names = "--max-frame", defaultValue = "1048576", paramLabel = "BYTES",
            description = "Longest line or frame payload; a peer that sends a longer one is disconnected (default: ${DEFAULT-VALUE}).")
    int maxFrame;

    @Option(names = "--idle-timeout", defaultValue = "0", paramLabel = "SECONDS",
            description = "Close connections that neither send nor receive for this long; 0 is off (default: ${DEFAULT-VALUE}).")
    double idleTimeoutSeconds;

    @Option(names = "--max-connections", defaultValue = "0", paramLabel = "N",
            description = "Serve at most N connections at once; others wait in the listen backlog; 0 is no limit (default: ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(names = "--shutdown-timeout", defaultValue = "5", paramLabel = "SECONDS",
            description = "How long pending output may drain on shutdown (default: ${DEFAULT-VALUE}).")
    int shutdownTimeoutSeconds;

    final LongAdder connections = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder frames = new LongAdder();
    final LongAdder datagrams = new LongAdder();

    @Override
    public Integer call() throws Exception {
        StreamOptions options;
        Framing framer;
        try {
            options = options();
            framer = framing.framing(maxFrame);
        } catch (IllegalArgumentException e) {
            System.err.println("echo-demo: " + e.getMessage());
            return 2;
        }
        if (loops < 1) {
            System.err.println("echo-demo: --loops must be at least 1");
            return 2;
        }
        EventLoopGroup group = EventLoopGroup.start(loops, "echo-loop");
        List<String> endpoints = new ArrayList<>();
        try {
            endpoints.add(uri(StreamServer.bind(group, new InetSocketAddress(host, port), options, () -> newHandler(framer))
                    .localAddress()));
            if (unixPath != null) {
                endpoints.add(uri(StreamServer.bind(group, UnixDomainSocketAddress.of(unixPath), options, () -> newHandler(framer))
                        .localAddress()));
            }
            if (udpPort != null) {
                DatagramEndpoint udp = DatagramEndpoint.bind(group.next(), new InetSocketAddress(host, udpPort),
                        (endpoint, sender, data) -> {
                            datagrams.increment();
                            endpoint.send(data, sender);
                        });
                endpoints.add("udp://" + hostAndPort((InetSocketAddress) udp.localAddress()));
            }
        } catch (Exception e) {
            group.close();
            System.err.println("echo-demo: cannot listen: " + e);
            return 1;
        }
        for (String endpoint : endpoints) {
            System.out.println("listening on " + endpoint);
        }
        System.out.flush();

        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTerminate(stop::countDown);
        stop.await();

        log.info("shutting down (up to {} s for pending output)", shutdownTimeoutSeconds);
        group.shutdownGracefully(Duration.ofSeconds(shutdownTimeoutSeconds)).join();
        if (framer == null) {
            log.info("served {} connections, echoed {} bytes", connections.sum(), bytes.sum());
        } else {
            log.info("served {} connections, echoed {} {} frames ({} bytes of payload)",
                    connections.sum(), frames.sum(), framing, bytes.sum());
        }
        if (udpPort != null) {
            log.info("echoed {} UDP datagrams", datagrams.sum());
        }
        return 0;
    }

    StreamOptions options() {
        if (idleTimeoutSeconds < 0 || maxConnections < 0) {
            throw new IllegalArgumentException("--idle-timeout and --max-connections must not be negative");
        }
        return StreamOptions.builder()
                .allIdleTimeout(Duration.ofNanos((long) (idleTimeoutSeconds * 1e9)))
                .maxConnections(maxConnections)
                .build();
    }

    private Handler newHandler(Framing framer) {
        connections.increment();
        if (framer == null) {
            return (c, data) -> {
                bytes.add(data.remaining());
                c.write(data);
            };
        }
        return framer.handler((c, frame) -> {
            frames.increment();
            bytes.add(frame.remaining());
            framer.write(c, frame);
        });
    }

    /** The wire formats the demo speaks; the client uses the same names. */
    enum FramingMode {
        raw, line, length;

        /** Null for raw: bytes are echoed as they come, with no framing at all. */
        Framing framing(int maxFrame) {
            switch (this) {
                case line:
                    return Framing.lines(maxFrame);
                case length:
                    return Framing.lengthPrefixed(4, maxFrame);
                default:
                    return null;
            }
        }
    }

    static String uri(SocketAddress address) {
        if (address instanceof InetSocketAddress) {
            return "tcp://" + hostAndPort((InetSocketAddress) address);
        }
        if (address instanceof UnixDomainSocketAddress) {
            return "unix://" + ((UnixDomainSocketAddress) address).getPath().toAbsolutePath();
        }
        return String.valueOf(address);
    }

    /** {@code 127.0.0.1:7007}, or {@code [::1]:7007} for IPv6. */
    static String hostAndPort(InetSocketAddress inet) {
        String h = inet.getAddress().getHostAddress();
        if (h.indexOf(':') >= 0) {
            int scope = h.indexOf('%');
            h = "[" + (scope >= 0 ? h.substring(0, scope) : h) + "]";
        }
        return h + ":" + inet.getPort();
    }
}
