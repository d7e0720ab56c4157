package io.selectloop.echo;

import io.selectloop.Connection;
import io.selectloop.DatagramEndpoint;
import io.selectloop.GroupAccept;
import io.selectloop.ProxyProtocol;
import io.selectloop.EventLoopGroup;
import io.selectloop.Framing;
import io.selectloop.Handler;
import io.selectloop.LoopOptions;
import io.selectloop.OverLimit;
import io.selectloop.StreamOptions;
import io.selectloop.StreamServer;
import io.selectloop.TlsOptions;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Option(names = "--over-limit", defaultValue = "wait", paramLabel = "wait|reject",
            description = "At --max-connections: wait leaves new peers in the listen backlog; reject answers "
                    + "'busy' and closes them at once (default: ${DEFAULT-VALUE}).")
    String overLimit;

    @Option(names = "--shutdown-timeout", defaultValue = "5", paramLabel = "SECONDS",
            description = "How long pending output may drain on shutdown (default: ${DEFAULT-VALUE}).")
    int shutdownTimeoutSeconds;

    @Option(names = "--memory-budget", defaultValue = "default", paramLabel = "BYTES",
            description = "Most bytes that peers can make the server hold at once (partial frames, queued output), "
                    + "across all loops; k, m, g suffixes allowed. Short of it, the biggest holders stop being read, "
                    + "then are disconnected. Default: a quarter of the smaller of the JVM's max heap and max direct memory.")
    String memoryBudget;

    @Option(names = "--stall-timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "Disconnect a peer whose pending output makes no progress for this long (it stopped reading); "
                    + "0 is off (default: ${DEFAULT-VALUE}).")
    double stallTimeoutSeconds;

    @Option(names = "--close-timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "How long a closing connection may take to flush its last output before it is reset; "
                    + "0 waits as long as output moves (default: ${DEFAULT-VALUE}).")
    double closeTimeoutSeconds;

    // ---- TLS (issue 10): the flags are shared with files serve (TlsFlags)
    @Mixin
    TlsFlags.Server tls = new TlsFlags.Server();

    /** The TLS settings the options ask for; null without --tls-cert. */
    TlsOptions tlsOptions() {
        return tls.options();
    }

    // -- scale-out options (issue 12): SO_REUSEPORT, PROXY protocol, greeting
    @Option(names = "--reuse-port",
            description = "Bind with SO_REUSEPORT, so several demo processes can serve one port; on SIGTERM, hand over: "
                    + "stop accepting, send FIN after the last echo, close when the client does (README, "
                    + "zero-downtime restart).")
    boolean reusePort;

    @Option(names = "--proxy-protocol", defaultValue = "off", paramLabel = "off|optional|required",
            description = "Expect a PROXY protocol header (v1 or v2, as HAProxy's send-proxy/send-proxy-v2 sends) on "
                    + "each TCP connection; the peer address is then the one it carries (default: ${DEFAULT-VALUE}).")
    String proxyProtocol;

    @Option(names = "--proxy-header-timeout", defaultValue = "10", paramLabel = "SECONDS",
            description = "How long a connection may take to send its PROXY header (default: ${DEFAULT-VALUE}).")
    double proxyHeaderTimeoutSeconds;

    @Option(names = "--greet",
            description = "On each new connection, send 'hello <address>:<port>\\n': the peer as the server sees it.")
    boolean greet;

    @Option(names = "--group-accept", defaultValue = "hand-off", paramLabel = "listener-per-loop|hand-off",
            description = "With --loops above 1: one listener handing connections to the loops in turn, or one "
                    + "SO_REUSEPORT listener per loop (default: ${DEFAULT-VALUE}).")
    String groupAccept;

    private final ShutdownDrain drain = new ShutdownDrain();
    private final List<StreamServer> servers = new ArrayList<>();

    // ---- operability (issue 11): metrics endpoint and periodic stats
    @Option(names = "--metrics-port", paramLabel = "P",
            description = "Serve Prometheus metrics at http://HOST:P/metrics (text format 0.0.4) on the same loops; "
                    + "0 picks a free port (default: off).")
    Integer metricsPort;

    @Option(names = "--stats", paramLabel = "SECONDS",
            description = "Print one line of the same numbers to stderr every SECONDS (default: off).")
    Double statsSeconds;
    // ---- end of operability options

    /** The exit status when an event loop dies (sysexits' EX_SOFTWARE), so that a supervisor restarts us. */
    static final int LOOP_FAILED = 70;

    final LongAdder connections = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder frames = new LongAdder();
    final LongAdder datagrams = new LongAdder();

    @Override
    public Integer call() throws Exception {
        StreamOptions options;
        Framing framer;
        LoopOptions loopOptions;
        try {
            options = options();
            framer = framing.framing(maxFrame);
            loopOptions = LoopOptions.builder().memoryBudget(parseBytes(memoryBudget)).build();
        } catch (IllegalArgumentException e) {
            System.err.println("echo-demo: " + e.getMessage());
            return 2;
        }
        if (loops < 1) {
            System.err.println("echo-demo: --loops must be at least 1");
            return 2;
        }
        if (statsSeconds != null && !(statsSeconds > 0)) {
            System.err.println("echo-demo: --stats must be a positive number of seconds");
            return 2;
        }
        EventLoopGroup group = EventLoopGroup.start(loops, "echo-loop", loopOptions);
        List<String> endpoints = new ArrayList<>();
        try {
            StreamServer tcp = StreamServer.bind(group, new InetSocketAddress(host, port), options, () -> newHandler(framer));
            servers.add(tcp);
            String tcpUri = uri(tcp.localAddress());
            endpoints.add(options.tls() != null ? tcpUri.replaceFirst("^tcp:", "tls:") : tcpUri);
            if (unixPath != null) {
                StreamServer unix = StreamServer.bind(group, UnixDomainSocketAddress.of(unixPath),
                        options.toBuilder().proxyProtocol(ProxyProtocol.OFF).build(), () -> newHandler(framer));
                servers.add(unix);
                endpoints.add(uri(unix.localAddress()));
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
        // [operability] after the listening lines, which scripts wait for
        if (metricsPort != null) {
            try {
                StreamServer metrics = MetricsEndpoint.bind(group, new InetSocketAddress(host, metricsPort));
                System.out.println("metrics on http://" + hostAndPort((InetSocketAddress) metrics.localAddress()) + "/metrics");
            } catch (Exception e) {
                group.close();
                System.err.println("echo-demo: cannot serve metrics: " + e);
                return 1;
            }
        }
        if (statsSeconds != null) {
            startStats(group, statsSeconds);
        }
        System.out.println("memory budget " + group.memoryBudget().limit() + " bytes");
        System.out.flush();
        if (reusePort) {
            warnIfAcceptQueueWouldBeReset();
        }

        CountDownLatch stop = new CountDownLatch(1);
        AtomicReference<Throwable> loopFailure = new AtomicReference<>();
        Signals.onTerminate(stop::countDown);
        for (var loop : group) {
            loop.terminationFuture().whenComplete((done, failure) -> {
                if (failure != null) {
                    loopFailure.compareAndSet(null, failure);
                    stop.countDown();
                }
            });
        }
        stop.await();
        if (loopFailure.get() != null) {
            // A server with a dead loop accepts or answers nobody on that loop: better gone,
            // so that a supervisor restarts it, than up and silent.
            System.err.println("echo-demo: an event loop failed (" + loopFailure.get() + "); exiting with status "
                    + LOOP_FAILED);
            group.shutdownGracefully(Duration.ZERO);
            group.terminationFuture().handle((done, failure) -> null).get(5, TimeUnit.SECONDS);
            return LOOP_FAILED;
        }

        Duration remaining = Duration.ofSeconds(shutdownTimeoutSeconds);
        if (reusePort) {
            // A hand-over to the new process on the port: stop accepting at once (it takes
            // every new connection from now on), then let each client finish (ShutdownDrain).
            long shutdownStart = System.nanoTime();
            servers.forEach(StreamServer::close);
            log.info("stopped accepting; finishing {} connections (up to {} s)", drain.openConnections(), shutdownTimeoutSeconds);
            int left = drain.drain(remaining);
            if (left > 0) {
                log.info("{} connections still open at the shutdown timeout; closing them", left);
            }
            remaining = remaining.minusNanos(System.nanoTime() - shutdownStart);
        } else {
            log.info("shutting down (up to {} s for pending output)", shutdownTimeoutSeconds);
        }
        group.shutdownGracefully(remaining.isNegative() ? Duration.ZERO : remaining).join();
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

    /**
     * [operability] Prints the stats line from a thread of its own: a slow stderr (a full
     * pipe) must not hold up a loop.
     */
    private static void startStats(EventLoopGroup group, double seconds) {
        long periodMillis = Math.max(1, (long) (seconds * 1000));
        var printer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "echo-stats");
            t.setDaemon(true);
            return t;
        });
        printer.scheduleAtFixedRate(() -> System.err.println(PrometheusText.statsLine(MetricsEndpoint.snapshot(group))),
                periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    StreamOptions options() {
        if (idleTimeoutSeconds < 0 || maxConnections < 0) {
            throw new IllegalArgumentException("--idle-timeout and --max-connections must not be negative");
        }
        if (stallTimeoutSeconds < 0 || closeTimeoutSeconds < 0) {
            throw new IllegalArgumentException("--stall-timeout and --close-timeout must not be negative");
        }
        OverLimit policy;
        switch (overLimit) {
            case "wait":
                policy = OverLimit.WAIT;
                break;
            case "reject":
                policy = OverLimit.REJECT;
                break;
            default:
                throw new IllegalArgumentException("--over-limit must be wait or reject, not '" + overLimit + "'");
        }
        ProxyProtocol proxy;
        switch (proxyProtocol) {
            case "off":
                proxy = ProxyProtocol.OFF;
                break;
            case "optional":
                proxy = ProxyProtocol.OPTIONAL;
                break;
            case "required":
                proxy = ProxyProtocol.REQUIRED;
                break;
            default:
                throw new IllegalArgumentException("--proxy-protocol must be off, optional or required, not '" + proxyProtocol + "'");
        }
        if (!(proxyHeaderTimeoutSeconds > 0)) {
            throw new IllegalArgumentException("--proxy-header-timeout must be positive");
        }
        GroupAccept accept;
        switch (groupAccept) {
            case "listener-per-loop":
                accept = GroupAccept.LISTENER_PER_LOOP;
                break;
            case "hand-off":
                accept = GroupAccept.HAND_OFF;
                break;
            default:
                throw new IllegalArgumentException("--group-accept must be listener-per-loop or hand-off, not '" + groupAccept + "'");
        }
        return StreamOptions.builder()
                .reusePort(reusePort)
                .groupAccept(accept)
                .proxyProtocol(proxy)
                .proxyHeaderTimeout(Duration.ofNanos((long) (proxyHeaderTimeoutSeconds * 1e9)))
                .allIdleTimeout(Duration.ofNanos((long) (idleTimeoutSeconds * 1e9)))
                .maxConnections(maxConnections)
                .overLimit(policy)
                .overLimitMessage("busy\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                .writeStallTimeout(Duration.ofNanos((long) (stallTimeoutSeconds * 1e9)))
                .closeTimeout(Duration.ofNanos((long) (closeTimeoutSeconds * 1e9)))
                .tls(tlsOptions())
                .build();
    }

    /** {@code 65536}, {@code 64k}, {@code 512m}, {@code 2g}; "default" is 0 (the library's default). */
    static long parseBytes(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("default")) {
            return 0;
        }
        int shift = 0;
        if (!t.isEmpty() && "kmg".indexOf(t.charAt(t.length() - 1)) >= 0) {
            shift = 10 * ("kmg".indexOf(t.charAt(t.length() - 1)) + 1);
            t = t.substring(0, t.length() - 1);
        }
        try {
            long value = Long.parseLong(t);
            if (value < 1 || value > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return value << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--memory-budget: '" + text + "' is not a positive size in bytes "
                    + "(a number with an optional k, m or g suffix)");
        }
    }

    private Handler newHandler(Framing framer) {
        connections.increment();
        Handler echo = newEchoHandler(framer);
        return drain.track(greet ? new Greeting(echo) : echo);
    }

    /** {@code --greet}: tells the peer the address the server sees (after a PROXY header). */
    private static final class Greeting extends ForwardingHandler {
        Greeting(Handler inner) {
            super(inner);
        }

        @Override
        public void onOpen(Connection c) throws Exception {
            SocketAddress peer = c.remoteAddress();
            String who = peer instanceof InetSocketAddress ? hostAndPort((InetSocketAddress) peer) : String.valueOf(peer);
            c.write(("hello " + who + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            inner.onOpen(c);
        }
    }

    /**
     * Closing a SO_REUSEPORT listener resets the connections still in its accept queue,
     * unless the kernel moves them to another listener on the port (Linux 5.14+).
     */
    private static void warnIfAcceptQueueWouldBeReset() {
        try {
            String value = java.nio.file.Files.readString(Path.of("/proc/sys/net/ipv4/tcp_migrate_req")).trim();
            if (value.equals("0")) {
                log.warn("net.ipv4.tcp_migrate_req is 0: when this process stops, connections still in its accept queue "
                        + "are reset instead of moving to another process on the port (sysctl -w net.ipv4.tcp_migrate_req=1)");
            }
        } catch (java.io.IOException | RuntimeException e) {
            log.debug("cannot read net.ipv4.tcp_migrate_req: {}", e.toString());
        }
    }

    private Handler newEchoHandler(Framing framer) {
        if (framer == null) {
            return (c, data) -> {
                bytes.add(data.remaining());
                c.write(data);
            };
        }
        return framer.handler((c, frame) -> {
            frames.increment();
            bytes.add(frame.remaining());
            if (framing == FramingMode.line) {
                // The line as it came, then \n. Not framer.write: it refuses a line ending in
                // \r (the reader would strip it), and "ab\r\r\n" is a line the peer may send.
                c.writeAll(frame, ByteBuffer.wrap(NEWLINE));
            } else {
                framer.write(c, frame);
            }
        });
    }

    private static final byte[] NEWLINE = {'\n'};

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
