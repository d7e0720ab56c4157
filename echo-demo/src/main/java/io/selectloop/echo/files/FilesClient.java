package io.selectloop.echo.files;

import io.selectloop.EventLoop;
import io.selectloop.StreamClient;
import io.selectloop.StreamOptions;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The client as a library: each call opens one connection on {@code loop}, runs one
 * request on it and closes it. Any thread; the futures complete on the loop thread.
 * Failures: {@link FilesError} for the server's refusals, {@code IOException} otherwise
 * (a lost connection: running the same call again resumes; a failed TLS handshake or a
 * TLS alert: it does not, until the certificates are fixed).
 */
final class FilesClient {
    private FilesClient() {
    }

    /** Larger watermarks than the default: an upload keeps 1 MiB in flight, not 64 KiB. */
    static final StreamOptions OPTIONS = StreamOptions.builder().watermarks(256 * 1024, 1024 * 1024).build();
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    static CompletableFuture<Transfer> put(EventLoop loop, SocketAddress server, Path local, String remote, Progress progress) {
        return put(loop, server, OPTIONS, local, remote, progress);
    }

    static CompletableFuture<Transfer> get(EventLoop loop, SocketAddress server, String remote, Path local, Progress progress) {
        return get(loop, server, OPTIONS, remote, local, progress);
    }

    static CompletableFuture<List<String>> ls(EventLoop loop, SocketAddress server, String path) {
        return ls(loop, server, OPTIONS, path);
    }

    // With options of the caller's: OPTIONS plus TLS (FilesClientCommands.Server#options).

    static CompletableFuture<Transfer> put(EventLoop loop, SocketAddress server, StreamOptions options, Path local,
                                           String remote, Progress progress) {
        return run(loop, server, options, new PutExchange(local, remote, progress));
    }

    static CompletableFuture<Transfer> get(EventLoop loop, SocketAddress server, StreamOptions options, String remote,
                                           Path local, Progress progress) {
        return run(loop, server, options, new GetExchange(remote, local, progress));
    }

    static CompletableFuture<List<String>> ls(EventLoop loop, SocketAddress server, StreamOptions options, String path) {
        return run(loop, server, options, new ListExchange(path));
    }

    private static <R> CompletableFuture<R> run(EventLoop loop, SocketAddress server, StreamOptions options,
                                                Exchange<R> exchange) {
        StreamClient.connect(loop, server, options, exchange, CONNECT_TIMEOUT).whenComplete((c, failure) -> {
            if (failure != null) {
                Throwable tls = Exchange.tlsFailure(failure);
                exchange.result.completeExceptionally(tls != null ? tls : failure);
            }
        });
        return exchange.result;
    }
}
