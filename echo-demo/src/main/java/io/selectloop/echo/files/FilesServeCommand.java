package io.selectloop.echo.files;

import io.selectloop.EventLoop;
import io.selectloop.StreamOptions;
import io.selectloop.TlsOptions;
import io.selectloop.echo.TlsFlags;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a directory: clients list it, download from it and upload into it (resumable, SHA-256 verified).")
final class FilesServeCommand implements Callable<Integer> {

    @Option(names = "--root", required = true, paramLabel = "DIR", description = "The directory to serve; nothing outside it is reachable.")
    Path root;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "7009", description = "Port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--max-file-size", defaultValue = "64g", paramLabel = "BYTES",
            description = "Largest upload accepted, with k, m, g, t suffixes; larger ones are refused before a byte is written (default: ${DEFAULT-VALUE}).")
    String maxFileSize;

    @Option(names = "--max-connections", defaultValue = "1000", paramLabel = "N",
            description = "Clients served at once (each holds at most one open file); others wait in the listen backlog (default: ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(names = "--idle-timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "Disconnect a client that neither sends nor receives a byte for this long (default: ${DEFAULT-VALUE}).")
    double idleTimeoutSeconds;

    @Option(names = "--max-partials", defaultValue = "1000", paramLabel = "N",
            description = "Unfinished uploads kept on disk for resuming; past it new uploads are refused, resumes still work (default: ${DEFAULT-VALUE}).")
    int maxPartials;

    @Option(names = "--disk-threads", defaultValue = "2", paramLabel = "N",
            description = "Threads that hash, fsync and rename files, off the event loop (default: ${DEFAULT-VALUE}).")
    int diskThreads;

    @Mixin
    TlsFlags.Server tls = new TlsFlags.Server();

    @Override
    public Integer call() throws Exception {
        long maxBytes;
        try {
            maxBytes = parseBytes(maxFileSize);
        } catch (IllegalArgumentException e) {
            System.err.println("files serve: --max-file-size: " + e.getMessage());
            return 2;
        }
        if (maxConnections < 1 || maxPartials < 0 || diskThreads < 1 || idleTimeoutSeconds <= 0) {
            System.err.println("files serve: --max-connections and --disk-threads must be at least 1, --idle-timeout positive");
            return 2;
        }
        TlsOptions tlsOptions;
        try {
            tlsOptions = tls.options();
        } catch (IllegalArgumentException e) {
            System.err.println("files serve: " + e.getMessage());
            return 2;
        }
        StreamOptions options = StreamOptions.builder()
                .maxConnections(maxConnections)
                .allIdleTimeout(Duration.ofNanos((long) (idleTimeoutSeconds * 1e9)))
                .tls(tlsOptions) // null: plain TCP
                .build();
        EventLoop loop = EventLoop.start("files-loop");
        FileServer server;
        try {
            server = FileServer.start(loop, root, new InetSocketAddress(host, port), options, maxBytes, maxPartials, diskThreads);
        } catch (Exception e) {
            loop.close();
            System.err.println("files serve: cannot serve " + root + " on " + host + ":" + port + ": " + e);
            return 1;
        }
        InetSocketAddress address = (InetSocketAddress) server.localAddress();
        String h = address.getAddress().getHostAddress();
        System.out.println("listening on " + (tlsOptions != null ? "tls" : "tcp") + "://" + (h.indexOf(':') >= 0 ? "[" + h + "]" : h) + ":" + address.getPort());
        System.out.flush();
        CountDownLatch stop = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            loop.shutdownGracefully(Duration.ofSeconds(2)).join();
            server.close();
        }, "files-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        loop.terminationFuture().whenComplete((done, failure) -> stop.countDown());
        stop.await();
        // Only a failed loop gets here before the hook: partial files stay for a resume.
        return loop.terminationFuture().isCompletedExceptionally() ? 70 : 0;
    }

    /** {@code 1048576}, {@code 512m}, {@code 64g}, {@code 1t}. */
    static long parseBytes(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        int shift = 0;
        if (!t.isEmpty() && "kmgt".indexOf(t.charAt(t.length() - 1)) >= 0) {
            shift = 10 * ("kmgt".indexOf(t.charAt(t.length() - 1)) + 1);
            t = t.substring(0, t.length() - 1);
        }
        try {
            long value = Long.parseLong(t);
            if (value < 0 || value > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return value << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a size in bytes (a number with an optional k, m, g or t suffix)");
        }
    }
}
