package io.selectloop.echo.files;

import io.selectloop.EventLoop;
import io.selectloop.StreamOptions;
import io.selectloop.echo.TlsFlags;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code files ls|put|get}: each runs one request on its own event loop and exits 0 only
 * when it succeeded (a transfer: only once the SHA-256 matched on both sides). Results go to
 * stdout, progress and errors to stderr.
 */
final class FilesClientCommands {
    private FilesClientCommands() {
    }

    static final class Server {
        @Option(names = "--host", defaultValue = "127.0.0.1", description = "Server address (default: ${DEFAULT-VALUE}).")
        String host;

        @Option(names = "--port", defaultValue = "7009", description = "Server port (default: ${DEFAULT-VALUE}).")
        int port;

        @Mixin
        TlsFlags.Client tls = new TlsFlags.Client();

        InetSocketAddress address() {
            return new InetSocketAddress(host, port); // resolved here, off the loop
        }

        /** The client's options, with TLS if --tls asks for it; the host is checked against the server's certificate. */
        StreamOptions options() throws java.io.IOException {
            if (!tls.enabled()) {
                return FilesClient.OPTIONS;
            }
            return FilesClient.OPTIONS.toBuilder().tls(tls.options(host)).build();
        }
    }

    /**
     * Runs {@code request} on a fresh loop and turns its outcome into an exit status. A
     * checksum mismatch is tried once more: the mismatching partial file has been discarded
     * (it was left by another version of the file), so the second run starts from byte 0.
     */
    static <R> int run(String command, Function<EventLoop, CompletableFuture<R>> request, java.util.function.Consumer<R> report) {
        // The client says how its connection ended, in one line; the library's INFO line per
        // closed connection (a server's log: "TLS: ...; closing this connection") would repeat it.
        System.setProperty("org.slf4j.simpleLogger.log.io.selectloop", "warn");
        EventLoop loop = EventLoop.start("files-client");
        try {
            for (int attempt = 1; ; attempt++) {
                try {
                    R result = request.apply(loop).get();
                    report.accept(result);
                    return 0;
                } catch (ExecutionException | CompletionException e) {
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    if (cause instanceof FilesError) {
                        String code = ((FilesError) cause).code();
                        System.err.println("files " + command + ": refused: " + code + " " + cause.getMessage());
                        if (code.equals(FilesProtocol.ERR_CHECKSUM) && attempt == 1) {
                            System.err.println("files " + command + ": starting over from byte 0");
                            continue;
                        }
                    } else {
                        System.err.println("files " + command + ": " + cause.getMessage());
                    }
                    return 1;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            loop.close();
        }
    }

    static PrintStream out() {
        return new PrintStream(System.out, true, StandardCharsets.UTF_8);
    }

    static Progress progress(EventLoop loop, String label) {
        return new Progress(loop, System.err, System.console() != null, label);
    }

    @Command(name = "ls", mixinStandardHelpOptions = true, description = "List a directory on the server (its top by default).")
    static final class Ls implements Callable<Integer> {
        @Mixin
        Server server;

        @Parameters(arity = "0..1", defaultValue = "", paramLabel = "PATH", description = "Directory or file, relative to the served root.")
        String path;

        @Override
        public Integer call() {
            InetSocketAddress address = server.address();
            StreamOptions options;
            try {
                options = server.options();
            } catch (java.io.IOException e) {
                System.err.println("files ls: " + e.getMessage());
                return 2;
            }
            return run("ls", loop -> FilesClient.ls(loop, address, options, path), (List<String> lines) -> {
                PrintStream out = out();
                lines.forEach(out::println);
            });
        }
    }

    @Command(name = "put", mixinStandardHelpOptions = true,
            description = "Upload a file; run it again after an interruption to resume where the server's copy ends.")
    static final class Put implements Callable<Integer> {
        @Mixin
        Server server;

        @Parameters(index = "0", paramLabel = "LOCAL", description = "The file to upload.")
        Path local;

        @Parameters(index = "1", arity = "0..1", paramLabel = "REMOTE", description = "Path on the server (default: LOCAL's name, at the top).")
        String remote;

        @Override
        public Integer call() {
            if (!Files.isRegularFile(local)) {
                System.err.println("files put: " + local + " is not a readable regular file");
                return 1;
            }
            String target = remote != null ? remote : local.getFileName().toString();
            InetSocketAddress address = server.address();
            StreamOptions options;
            try {
                options = server.options();
            } catch (java.io.IOException e) {
                System.err.println("files put: " + e.getMessage());
                return 2;
            }
            return run("put", loop -> FilesClient.put(loop, address, options, local, target, progress(loop, "put " + target)),
                    (Transfer t) -> report(out(), t, "sent", "uploaded " + local + " to " + target));
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true,
            description = "Download a file; run it again after an interruption to resume where the local partial file ends.")
    static final class Get implements Callable<Integer> {
        @Mixin
        Server server;

        @Parameters(index = "0", paramLabel = "REMOTE", description = "Path on the server.")
        String remote;

        @Parameters(index = "1", arity = "0..1", paramLabel = "LOCAL",
                description = "Where to write it (default: REMOTE's name in the current directory; a directory: into it).")
        Path local;

        @Override
        public Integer call() {
            String name = remote.substring(remote.lastIndexOf('/') + 1);
            if (name.isEmpty()) {
                System.err.println("files get: '" + remote + "' names no file");
                return 2;
            }
            Path target = local == null ? Path.of(name) : Files.isDirectory(local) ? local.resolve(name) : local;
            target = target.toAbsolutePath();
            if (!Files.isDirectory(target.getParent())) {
                System.err.println("files get: " + target.getParent() + " is not a directory");
                return 1;
            }
            Path destination = target;
            InetSocketAddress address = server.address();
            StreamOptions options;
            try {
                options = server.options();
            } catch (java.io.IOException e) {
                System.err.println("files get: " + e.getMessage());
                return 2;
            }
            return run("get", loop -> FilesClient.get(loop, address, options, remote, destination, progress(loop, "get " + remote)),
                    (Transfer t) -> report(out(), t, "received", "downloaded " + remote + " to " + destination));
        }
    }

    /** The lines tests and scripts read: what was resumed, what moved, and the verified checksum. */
    static void report(PrintStream out, Transfer t, String verb, String what) {
        if (t.resumedAt() > 0) {
            out.println("resumed at byte " + t.resumedAt() + " of " + t.size());
        }
        out.println(verb + " " + t.transferred() + " bytes; " + what + " (" + t.size() + " bytes)");
        out.println("SHA-256 verified: " + t.sha256());
    }

}
