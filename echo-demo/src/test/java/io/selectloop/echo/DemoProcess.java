package io.selectloop.echo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The echo-demo jar running as a separate process, the way a user starts it: stdout
 * and stderr are collected line by line so a test can wait for the {@code listening on}
 * lines and read the log afterwards.
 */
final class DemoProcess implements AutoCloseable {
    private final Process process;
    private final BlockingQueue<String> stdoutLines = new LinkedBlockingQueue<>();
    final List<String> stdout = new CopyOnWriteArrayList<>();
    final List<String> stderr = new CopyOnWriteArrayList<>();
    private final List<Thread> pumps = new ArrayList<>();

    private DemoProcess(Process process) {
        this.process = process;
        pumps.add(pump(process.getInputStream(), line -> {
            stdout.add(line);
            stdoutLines.add(line);
        }, "demo-stdout"));
        pumps.add(pump(process.getErrorStream(), stderr::add, "demo-stderr"));
    }

    static Path jar() {
        String jar = System.getProperty("echoDemoJar");
        if (jar == null) {
            throw new IllegalStateException("system property echoDemoJar is not set: run through failsafe (mvn verify)");
        }
        return Path.of(jar);
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** {@code java -jar echo-demo.jar args...} */
    static DemoProcess start(String... args) throws IOException {
        return start(List.of(), args);
    }

    /** {@code java jvmArgs... -jar echo-demo.jar args...}, e.g. with {@code -Xmx128m}. */
    static DemoProcess start(List<String> jvmArgs, String... args) throws IOException {
        return new DemoProcess(new ProcessBuilder(command(jvmArgs, args)).start());
    }

    /** The same, under {@code ulimit -n maxOpenFiles}, so tests can run the server out of descriptors. */
    static DemoProcess startWithFileLimit(int maxOpenFiles, String... args) throws IOException {
        return startWithFileLimit(maxOpenFiles, List.of(), args);
    }

    static DemoProcess startWithFileLimit(int maxOpenFiles, List<String> jvmArgs, String... args) throws IOException {
        StringBuilder shell = new StringBuilder("ulimit -n " + maxOpenFiles + " && exec");
        for (String word : command(jvmArgs, args)) {
            shell.append(" '").append(word).append("'");
        }
        return new DemoProcess(new ProcessBuilder("bash", "-c", shell.toString()).start());
    }

    private static List<String> command(List<String> jvmArgs, String... args) {
        List<String> command = new ArrayList<>();
        command.add(java());
        command.addAll(jvmArgs);
        command.addAll(List.of("-jar", jar().toString()));
        command.addAll(List.of(args));
        return command;
    }

    private static Thread pump(InputStream in, java.util.function.Consumer<String> sink, String name) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    sink.accept(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Waits for the next {@code listening on URI} line and returns the URI. Fails at once,
     * rather than after the whole minute, once the process has exited and its output has
     * been read: a server that rejects its options must not cost each test a minute.
     */
    URI awaitListening() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (;;) {
            boolean outputEnded = !pumps.get(0).isAlive();
            String line = stdoutLines.poll(100, TimeUnit.MILLISECONDS);
            if (line == null && (outputEnded || System.nanoTime() - deadline > 0)) {
                if (outputEnded) {
                    awaitOutputDrained(); // the whole stderr, for the message
                }
                throw new AssertionError("no 'listening on' line"
                        + (process.isAlive() ? " within 60 s" : "; the demo exited with " + process.exitValue())
                        + "; stderr: " + tail(stderr, 40));
            }
            if (line != null && line.startsWith("listening on ")) {
                return URI.create(line.substring("listening on ".length()).trim());
            }
        }
    }

    Process process() {
        return process;
    }

    /**
     * Reads the running server's memory, descriptors and CPU time from /proc. The pid is the
     * JVM's even under {@link #startWithFileLimit}: the shell {@code exec}s it.
     */
    ProcessProbe probe() {
        return new ProcessProbe(process.pid());
    }

    /**
     * The {@code memory budget N bytes} line the server prints after its {@code listening
     * on} lines, if it printed one: the aggregate bytes peers can make it hold.
     */
    OptionalLong reportedMemoryBudget() {
        for (String line : stdout) {
            if (line.startsWith("memory budget ") && line.endsWith(" bytes")) {
                return OptionalLong.of(Long.parseLong(line.substring("memory budget ".length(), line.length() - " bytes".length()).trim()));
            }
        }
        return OptionalLong.empty();
    }

    /** Sends SIGTERM and returns at once, so the caller can watch the shutdown it starts. */
    void sendSigterm() throws InterruptedException, IOException {
        Process kill = new ProcessBuilder("kill", "-TERM", String.valueOf(process.pid())).inheritIO().start();
        if (!kill.waitFor(60, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            throw new AssertionError("could not send SIGTERM to " + process.pid());
        }
    }

    /** Waits for the exit status, or fails after {@code atMost} (and kills the process). */
    int awaitExit(Duration atMost) throws InterruptedException {
        if (!process.waitFor(atMost.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the demo did not exit within " + atMost + "; stderr: " + tail(stderr, 40));
        }
        return process.exitValue();
    }

    /** The last {@code n} lines, for failure messages that must not quote a whole log. */
    static List<String> tail(List<String> lines, int n) {
        List<String> copy = List.copyOf(lines);
        return copy.subList(Math.max(0, copy.size() - n), copy.size());
    }

    /**
     * Sends SIGTERM and waits for the exit status. Not {@link Process#destroy()}: that
     * also closes our ends of the process's pipes, and the shutdown log would be lost.
     */
    int terminate() throws InterruptedException, IOException {
        sendSigterm();
        return awaitExit(Duration.ofSeconds(60));
    }

    /** The process has exited and everything it printed has been read. */
    void awaitOutputDrained() throws InterruptedException {
        for (Thread pump : pumps) {
            pump.join(TimeUnit.SECONDS.toMillis(60));
        }
    }

    long countStderr(String fragment) {
        return stderr.stream().filter(l -> l.contains(fragment)).count();
    }

    /** Kills the server if it is still there (a zombie that ignores SIGTERM included) and reaps it. */
    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
