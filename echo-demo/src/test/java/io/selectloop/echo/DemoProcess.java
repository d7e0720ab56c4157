package io.selectloop.echo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
        return startWithJvmOptions(List.of(), args);
    }

    /** {@code java jvmOptions... -jar echo-demo.jar args...} */
    static DemoProcess startWithJvmOptions(List<String> jvmOptions, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(java()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar().toString()));
        command.addAll(List.of(args));
        return new DemoProcess(new ProcessBuilder(command).start());
    }

    /** The same, under {@code ulimit -n maxOpenFiles}, so tests can run the server out of descriptors. */
    static DemoProcess startWithFileLimit(int maxOpenFiles, String... args) throws IOException {
        StringBuilder shell = new StringBuilder("ulimit -n " + maxOpenFiles + " && exec");
        shell.append(" '").append(java()).append("' -jar '").append(jar()).append("'");
        for (String a : args) {
            shell.append(" '").append(a).append("'");
        }
        return new DemoProcess(new ProcessBuilder("bash", "-c", shell.toString()).start());
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

    /** Waits for the next {@code listening on URI} line and returns the URI. */
    URI awaitListening() throws InterruptedException {
        for (;;) {
            String line = stdoutLines.poll(60, TimeUnit.SECONDS);
            if (line == null) {
                throw new AssertionError("no 'listening on' line within 60 s; stderr: " + stderr
                        + (process.isAlive() ? "" : " (exited with " + process.exitValue() + ")"));
            }
            if (line.startsWith("listening on ")) {
                return URI.create(line.substring("listening on ".length()).trim());
            }
        }
    }

    Process process() {
        return process;
    }

    /**
     * Sends SIGTERM and waits for the exit status. Not {@link Process#destroy()}: that
     * also closes our ends of the process's pipes, and the shutdown log would be lost.
     */
    int terminate() throws InterruptedException, IOException {
        Process kill = new ProcessBuilder("kill", "-TERM", String.valueOf(process.pid())).inheritIO().start();
        if (!kill.waitFor(60, TimeUnit.SECONDS) || kill.exitValue() != 0) {
            throw new AssertionError("could not send SIGTERM to " + process.pid());
        }
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the demo did not exit within 60 s of SIGTERM; stderr: " + stderr);
        }
        return process.exitValue();
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

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
