package io.selectloop.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code c-epoll}: the physical-limit row. A one-thread, level-triggered epoll echo server
 * in C ({@code c-epoll-echo.c}, a resource of this module), compiled on first use with
 * {@code cc -O2} into a directory under {@code java.io.tmpdir} named after the source's
 * hash, so a changed source is rebuilt and an unchanged one is compiled once per machine.
 *
 * <p>It is a native process, not a JVM: {@code compare} starts the binary itself (see
 * {@link #command}) so that its memory, threads and CPU time are the C server's own.
 * {@code bench server --impl c-epoll} starts it as a child and relays its address.
 */
public final class CEpollEchoServer implements EchoServerImpl {
    static final String NAME = "c-epoll";
    private static final String SOURCE = "c-epoll-echo.c";
    private static final Pattern LISTENING = Pattern.compile("listening on tcp://([^\\s]+):(\\d+)");

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String unavailableReason() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return "epoll needs Linux";
        }
        try {
            binary();
            return null;
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    /** The command line that serves on {@code host:port} (port 0 picks a free one). */
    List<String> command(String host, int port) throws IOException {
        return List.of(binary().toString(), host, Integer.toString(port));
    }

    @Override
    public RunningServer start(InetSocketAddress address, ServerSettings settings) throws Exception {
        if (settings.loops() != 1) {
            throw new IllegalArgumentException("c-epoll is one thread; --loops must be 1, was " + settings.loops());
        }
        Process process = new ProcessBuilder(command(address.getAddress().getHostAddress(), address.getPort()))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        InetSocketAddress bound = awaitListening(process);
        return new RunningServer() {
            @Override
            public InetSocketAddress localAddress() {
                return bound;
            }

            @Override
            public void close() throws InterruptedException {
                process.destroy();
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
        };
    }

    private static InetSocketAddress awaitListening(Process process) throws IOException, InterruptedException {
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        Matcher m = line == null ? null : LISTENING.matcher(line);
        if (m == null || !m.find()) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new IOException("c-epoll-echo did not start (exit " + (process.isAlive() ? "?" : process.exitValue())
                    + "; first line: " + line + ")");
        }
        return new InetSocketAddress(m.group(1), Integer.parseInt(m.group(2)));
    }

    /** Compiles the source once per content; the reason it cannot, as the exception's message. */
    static synchronized Path binary() throws IOException {
        byte[] source;
        try (InputStream in = CEpollEchoServer.class.getResourceAsStream(SOURCE)) {
            if (in == null) {
                throw new IOException(SOURCE + " is missing from the bench jar");
            }
            source = in.readAllBytes();
        }
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "selectloop-bench-c-epoll-" + sha256(source).substring(0, 16));
        Path binary = dir.resolve("c-epoll-echo");
        if (Files.isExecutable(binary)) {
            return binary;
        }
        Files.createDirectories(dir);
        Path sourceFile = dir.resolve(SOURCE);
        Files.write(sourceFile, source);
        // Compile beside the final name and move into place, so a concurrent or killed build
        // never leaves a half-written binary under the name the next run trusts.
        Path partial = Files.createTempFile(dir, "c-epoll-echo", ".partial");
        List<String> cc = List.of("cc", "-O2", "-o", partial.toString(), sourceFile.toString());
        Process compiler;
        try {
            compiler = new ProcessBuilder(cc).redirectErrorStream(true).start();
        } catch (IOException e) {
            Files.deleteIfExists(partial);
            throw new IOException("no C compiler: cannot run 'cc' (" + e.getMessage() + ")");
        }
        String output = new String(compiler.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        try {
            if (compiler.waitFor() != 0) {
                Files.deleteIfExists(partial);
                throw new IOException("cc -O2 " + SOURCE + " failed: " + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while compiling " + SOURCE);
        }
        Files.move(partial, binary, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return binary;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JDK", e);
        }
    }
}
