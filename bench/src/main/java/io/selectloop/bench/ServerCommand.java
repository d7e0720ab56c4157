package io.selectloop.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench server --impl NAME --port P [--tls]}: starts one echo server, prints
 * {@code listening on tcp://HOST:PORT} ({@code tls://} for a TLS one) when it is ready, and
 * serves until SIGINT/SIGTERM or until its standard input closes (so a child whose parent
 * died goes too).
 */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Run one echo server until SIGINT/SIGTERM or until standard input closes.",
                "Prints 'listening on tcp://HOST:PORT' (tls:// with TLS) when ready."})
final class ServerCommand implements Callable<Integer> {

    @Option(names = "--impl", required = true, paramLabel = "NAME",
            description = "reactor, threads, virtual, netty-nio, netty-epoll, c-epoll (C, built with cc on first use); "
                    + "with TLS: reactor-tls, threads-tls, netty-nio-tls.")
    String impl;

    @Option(names = "--tls", description = "Serve TLS: the impl's -tls variant (--impl reactor --tls is reactor-tls).")
    boolean tls;

    @Option(names = "--tls-keystore", paramLabel = "FILE.p12",
            description = "TLS key material: a PKCS#12 file with the password '" + BenchTls.PASSWORD
                    + "' (compare makes one with keytool). Default: a fresh self-signed RSA 2048 key.")
    java.nio.file.Path tlsKeystore;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "0", description = "Port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--loops", defaultValue = "1",
            description = "Event loops for the reactor: more than 1 runs an EventLoopGroup (default: ${DEFAULT-VALUE}).")
    int loops;

    @Option(names = "--group-accept", defaultValue = "HAND_OFF", paramLabel = "HAND_OFF|LISTENER_PER_LOOP",
            description = "Reactor with --loops above 1: a SO_REUSEPORT listener per loop, or one listener handing "
                    + "connections over (default: ${DEFAULT-VALUE}).")
    io.selectloop.GroupAccept groupAccept;

    @Option(names = "--reuse-port", description = "Reactor: bind with SO_REUSEPORT (several server processes on one port).")
    boolean reusePort;

    @Option(names = "--max-reads-per-wakeup", defaultValue = "0", paramLabel = "N",
            description = "Reactor: reads per connection each time it is ready, before the loop serves the next "
                    + "(StreamOptions.maxReadsPerWakeup; 0: its default, 16). 1 serves ready connections round-robin.")
    int maxReadsPerWakeup;

    @Override
    public Integer call() throws Exception {
        String name = tls ? ServerImpls.tlsVariant(impl) : impl;
        EchoServerImpl server = ServerImpls.find(name).orElse(null);
        if (server == null) {
            System.err.println("bench server: unknown impl '" + name + "'" + (tls ? " (--impl " + impl + " --tls)" : "")
                    + "; known: " + String.join(", ", ServerImpls.names()));
            return 2;
        }
        if (tlsKeystore != null && !server.tls()) {
            System.err.println("bench server: --tls-keystore given, but " + name + " does not speak TLS (add --tls)");
            return 2;
        }
        String unavailable = server.unavailableReason();
        if (unavailable != null) {
            System.err.println("bench server: impl " + impl + " is unavailable: " + unavailable);
            return Bench.EXIT_UNAVAILABLE;
        }
        EchoServerImpl.RunningServer running;
        try {
            BenchTls.ServerKeys keys = tlsKeystore == null ? null : BenchTls.serverKeys(tlsKeystore);
            running = server.start(new InetSocketAddress(host, port),
                    new EchoServerImpl.ServerSettings(loops, keys, groupAccept, reusePort, maxReadsPerWakeup));
        } catch (IllegalArgumentException e) {
            System.err.println("bench server: " + e.getMessage());
            return 2;
        }
        InetSocketAddress bound = running.localAddress();
        System.out.println("listening on " + (server.tls() ? "tls" : "tcp") + "://"
                + bound.getAddress().getHostAddress() + ":" + bound.getPort());
        System.out.flush();

        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTerminate(stop::countDown);
        watchStandardInput(stop);
        stop.await();
        running.close();
        return 0;
    }

    /**
     * Stop when standard input reaches its end: {@code compare} holds a pipe to each child,
     * so a child outlives its parent by no more than that. Only a pipe, socket or terminal
     * is watched: {@code /dev/null} (a shell's background job) or a file is at its end from
     * the start and would stop the server at once, and {@code /dev/zero} never ends and
     * would keep the watcher reading on the server's CPU.
     */
    private static void watchStandardInput(CountDownLatch stop) {
        try {
            Path stdin = Path.of("/proc/self/fd/0");
            if (Files.isSymbolicLink(stdin)) {
                String target = Files.readSymbolicLink(stdin).toString();
                if (!(target.startsWith("pipe:") || target.startsWith("socket:") || target.startsWith("/dev/pts/")
                        || target.startsWith("/dev/tty"))) {
                    return;
                }
            }
        } catch (IOException | UnsupportedOperationException e) {
            // not Linux: watch it anyway
        }
        Thread watcher = new Thread(() -> {
            try {
                byte[] discard = new byte[256];
                while (System.in.read(discard) >= 0) {
                    // the content does not matter, only its end
                }
            } catch (IOException e) {
                // an unreadable stdin counts as closed
            }
            stop.countDown();
        }, "stdin-watch");
        watcher.setDaemon(true);
        watcher.start();
    }
}
