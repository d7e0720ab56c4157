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
 * {@code bench server --impl NAME --port P}: starts one echo server, prints
 * {@code listening on tcp://HOST:PORT} when it is ready, and serves until SIGINT/SIGTERM
 * or until its standard input closes (so a child whose parent died goes too).
 */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Run one echo server until SIGINT/SIGTERM or until standard input closes.",
                "Prints 'listening on tcp://HOST:PORT' when ready."})
final class ServerCommand implements Callable<Integer> {

    @Option(names = "--impl", required = true, paramLabel = "NAME",
            description = "reactor, threads, virtual, netty-nio, netty-epoll or c-epoll (C, built with cc on first use).")
    String impl;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "0", description = "Port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--loops", defaultValue = "1",
            description = "Event loops for the reactor: more than 1 runs an EventLoopGroup (default: ${DEFAULT-VALUE}).")
    int loops;

    @Override
    public Integer call() throws Exception {
        EchoServerImpl server = ServerImpls.find(impl).orElse(null);
        if (server == null) {
            System.err.println("bench server: unknown impl '" + impl + "'; known: " + String.join(", ", ServerImpls.names()));
            return 2;
        }
        String unavailable = server.unavailableReason();
        if (unavailable != null) {
            System.err.println("bench server: impl " + impl + " is unavailable: " + unavailable);
            return Bench.EXIT_UNAVAILABLE;
        }
        EchoServerImpl.RunningServer running;
        try {
            running = server.start(new InetSocketAddress(host, port), new EchoServerImpl.ServerSettings(loops));
        } catch (IllegalArgumentException e) {
            System.err.println("bench server: " + e.getMessage());
            return 2;
        }
        InetSocketAddress bound = running.localAddress();
        System.out.println("listening on tcp://" + bound.getAddress().getHostAddress() + ":" + bound.getPort());
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
     * so a child outlives its parent by no more than that. Standard input that is
     * {@code /dev/null} (a shell's background job) is at its end from the start, and
     * watching it would stop the server at once, so it is not watched.
     */
    private static void watchStandardInput(CountDownLatch stop) {
        try {
            Path stdin = Path.of("/proc/self/fd/0");
            if (Files.isSymbolicLink(stdin) && Files.readSymbolicLink(stdin).equals(Path.of("/dev/null"))) {
                return;
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
