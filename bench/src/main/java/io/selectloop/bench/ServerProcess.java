package io.selectloop.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One {@code bench server} running as a child JVM: started, awaited until it prints its
 * {@code listening on} line, sampled through {@code /proc}, stopped. Its standard input
 * is a pipe this process holds, so the child exits by itself if this process dies.
 */
final class ServerProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("listening on (tcp|tls)://([^\\s]+):(\\d+)");
    static final long START_TIMEOUT_SECONDS = 60;

    /** The child could not run this implementation on its JVM (it exited with {@link Bench#EXIT_UNAVAILABLE}). */
    static final class UnavailableException extends Exception {
        UnavailableException(String reason) {
            super(reason);
        }
    }

    private final Process process;
    private final InetSocketAddress address;
    private final boolean tls;

    private ServerProcess(Process process, InetSocketAddress address, boolean tls) {
        this.process = process;
        this.address = address;
        this.tls = tls;
    }

    /** Where the server listens, and whether it said {@code tls://}. */
    private record Listening(InetSocketAddress address, boolean tls) {
    }

    /**
     * Starts {@code bench server --impl IMPL --port 0} with {@code java} on {@code classPath},
     * prefixed by {@code cpuPrefix} (for example {@code taskset -c 0}), with {@code moreArgs}
     * (for example {@code --tls-keystore FILE}), appending its stderr to {@code log}, and
     * waits until it listens.
     */
    static ServerProcess start(String java, String classPath, String impl, List<String> cpuPrefix, List<String> moreArgs,
                               Path log) throws IOException, UnavailableException, InterruptedException {
        List<String> command = new ArrayList<>(cpuPrefix);
        command.addAll(List.of(java, "-cp", classPath, Bench.class.getName(), "server", "--impl", impl, "--port", "0"));
        command.addAll(moreArgs);
        Files.createDirectories(log.getParent());
        Files.writeString(log, "$ " + String.join(" ", command) + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Process process = builder.start();
        CompletableFuture<Listening> listening = new CompletableFuture<>();
        Thread reader = new Thread(() -> readStdout(process, listening), "server-stdout-" + impl);
        reader.setDaemon(true);
        reader.start();
        process.onExit().thenRun(() -> listening.completeExceptionally(
                new IOException("server exited with status " + process.exitValue() + " before listening")));
        try {
            Listening where = listening.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return new ServerProcess(process, where.address(), where.tls());
        } catch (ExecutionException | TimeoutException e) {
            stop(process);
            if (process.exitValue() == Bench.EXIT_UNAVAILABLE) {
                throw new UnavailableException(lastLine(log).replaceFirst("^bench server: impl \\S+ is unavailable: ", ""));
            }
            throw new IOException("server " + impl + " did not start (" + e.getMessage() + "); last log line: "
                    + lastLine(log) + " (log: " + log + ")");
        }
    }

    private static void readStdout(Process process, CompletableFuture<Listening> listening) {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                Matcher m = LISTENING.matcher(line);
                if (m.find()) {
                    listening.complete(new Listening(new InetSocketAddress(m.group(2), Integer.parseInt(m.group(3))),
                            m.group(1).equals("tls")));
                }
            }
        } catch (IOException e) {
            // the child is gone; onExit reports it
        }
    }

    private static String lastLine(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (!lines.get(i).isBlank()) {
                    return lines.get(i).trim();
                }
            }
        } catch (IOException e) {
            // no log to quote
        }
        return "(empty)";
    }

    InetSocketAddress address() {
        return address;
    }

    /** The server said {@code listening on tls://}: the load generator must speak TLS to it. */
    boolean tls() {
        return tls;
    }

    long pid() {
        return process.pid();
    }

    ProcStats stats() throws IOException {
        return ProcStats.sample(process.pid());
    }

    /** SIGTERM, a few seconds' grace, then SIGKILL. */
    @Override
    public void close() throws InterruptedException {
        stop(process);
    }

    private static void stop(Process process) throws InterruptedException {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // the pipe went with the child
        }
    }
}
