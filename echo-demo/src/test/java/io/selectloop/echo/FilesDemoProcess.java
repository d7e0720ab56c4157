package io.selectloop.echo;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * {@link DemoProcess} for the files program's tests, which live in their own package
 * ({@code io.selectloop.echo.files}) like the program: the same process handling, opened up.
 */
public final class FilesDemoProcess implements AutoCloseable {
    private final DemoProcess process;

    private FilesDemoProcess(DemoProcess process) {
        this.process = process;
    }

    /** {@code java -jar echo-demo.jar args...} */
    public static FilesDemoProcess start(String... args) throws IOException {
        return new FilesDemoProcess(DemoProcess.start(args));
    }

    public URI awaitListening() throws InterruptedException {
        return process.awaitListening();
    }

    /** Waits for the exit status and for everything it printed. */
    public int awaitExit(Duration atMost) throws InterruptedException {
        int status = process.awaitExit(atMost);
        process.awaitOutputDrained();
        return status;
    }

    public List<String> stdout() {
        return process.stdout;
    }

    public List<String> stderr() {
        return process.stderr;
    }

    public long countStderr(String fragment) {
        return process.countStderr(fragment);
    }

    public int openFileDescriptors() {
        return process.probe().openFileDescriptors();
    }

    /** Open sockets: the listener and every connection. */
    public long openSockets() {
        return process.probe().describeFileDescriptors().entrySet().stream()
                .filter(e -> e.getKey().startsWith("socket:")).mapToLong(java.util.Map.Entry::getValue).sum();
    }

    /** Open descriptors of files under {@code directory} (given as its real path). */
    public long openFilesUnder(java.nio.file.Path directory) {
        String prefix = directory.toString() + "/";
        return process.probe().describeFileDescriptors().entrySet().stream()
                .filter(e -> e.getKey().startsWith(prefix)).mapToLong(java.util.Map.Entry::getValue).sum();
    }

    public java.util.Map<String, Long> describeFileDescriptors() {
        return process.probe().describeFileDescriptors();
    }

    /** SIGKILL: the process gets no chance to clean up, as in a crash or {@code kill -9}. */
    public void kill() throws InterruptedException {
        process.process().destroyForcibly();
        process.process().waitFor();
    }

    public boolean isAlive() {
        return process.process().isAlive();
    }

    public String describe() {
        return "exit " + (isAlive() ? "(running)" : process.process().exitValue()) + "; stdout " + DemoProcess.tail(stdout(), 20)
                + "; stderr " + DemoProcess.tail(stderr(), 20);
    }

    @Override
    public void close() {
        process.close();
    }
}
