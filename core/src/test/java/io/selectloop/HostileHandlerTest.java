package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Hostile-peer suite, core part: a handler that throws, or overflows its stack, on every
 * Nth message a real {@link StreamServer} hands it. The connection that carried that
 * message is closed (a {@link StackOverflowError} included), the failure is logged at
 * WARN and rate-limited rather than once per failure, and every other connection
 * carries on with nothing lost. The server runs in a JVM of its own, so that its log
 * and its log limiter see this test alone, and a stack overflow cannot touch the test's JVM.
 * Smoke size by default; {@code -Phostile} ({@code -Dhostile.full=true}) runs the full size.
 */
class HostileHandlerTest {
    private static final boolean FULL = Boolean.getBoolean("hostile.full");
    private static final long SOCKET_TIMEOUT_MILLIS = TimeUnit.SECONDS.toMillis(60);

    @Test
    void aHandlerThatThrowsOrOverflowsItsStackEveryNthMessageCostsOnlyThatConnection() throws Exception {
        int clients = FULL ? 400 : 20;
        int linesEach = FULL ? 500 : 100;
        int everyNth = FULL ? 2_000 : 500;
        try (ThrowingServer server = ThrowingServer.start(everyNth)) {
            int fdBaseline = server.openFileDescriptors();
            long started = System.nanoTime();
            List<ClientOutcome> outcomes = runClients(server.address, clients, linesEach);
            long elapsedSeconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
            TestSupport.eventually().until(() -> server.openFileDescriptors() <= fdBaseline);
            int fdAfter = server.openFileDescriptors();
            boolean freshServed = "after the storm".equals(echoOneLine(server.address, "after the storm"));
            ServerCounts counts = server.stop();

            long cut = outcomes.stream().filter(o -> !o.complete()).count();
            long lost = outcomes.stream().mapToLong(ClientOutcome::lostLines).sum();
            long handlerLogLines = server.stderr.stream().filter(l -> l.contains("handler onData threw")).count();
            long warnLines = server.stderr.stream().filter(l -> l.contains("handler onData threw") && l.contains(" WARN ")).count();
            printFigure("HOSTILE scenario=throwing-handler clients=" + clients + " lines_each=" + linesEach + " every_nth=" + everyNth
                    + " thrown=" + counts.thrown + " overflowed=" + counts.overflowed + " connections_cut=" + cut
                    + " closed_by_exception=" + counts.closedByException + " closed_by_stack_overflow=" + counts.closedByOverflow
                    + " handler_log_lines=" + handlerLogLines + " elapsed_s=" + elapsedSeconds + " lost_lines=" + lost
                    + " fresh_client_served=" + freshServed + " fds_before=" + fdBaseline + " fds_after=" + fdAfter);

            assertTrue(counts.thrown > 0 && counts.overflowed > 0, "both failures happened: " + counts);
            assertEquals(counts.thrown, counts.closedByException, "each thrown exception closed its connection: " + counts);
            assertEquals(counts.overflowed, counts.closedByOverflow, "each stack overflow closed its connection: " + counts);
            assertEquals(counts.thrown + counts.overflowed, cut, "exactly the connections that carried a failing message were cut: " + outcomes);
            assertEquals(0, lost, "every line before the failing one was echoed, and every other connection got all of its lines back: " + outcomes);
            assertTrue(freshServed, "the server serves a fresh client afterwards");
            // One line, then the rest counted: the limiter lets one through per 10 s.
            assertTrue(handlerLogLines >= 1 && handlerLogLines <= 1 + elapsedSeconds / 10,
                    handlerLogLines + " log lines for " + (counts.thrown + counts.overflowed) + " failures in " + elapsedSeconds + " s");
            assertEquals(handlerLogLines, warnLines, "logged at WARN");
        }
    }

    /** What one lockstep client saw: lines echoed intact, and whether all of them were. */
    record ClientOutcome(int index, int sent, int echoed, boolean complete, String end) {
        /** Lines sent before the one that ended the connection that never came back. */
        long lostLines() {
            return complete ? sent - echoed : Math.max(0, sent - 1 - echoed);
        }
    }

    /** Each client sends its lines one at a time and waits for each echo, on a thread of its own. */
    private static List<ClientOutcome> runClients(InetSocketAddress address, int clients, int linesEach) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            List<Future<ClientOutcome>> futures = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                int index = i;
                futures.add(pool.submit(() -> lockstep(address, index, linesEach)));
            }
            List<ClientOutcome> outcomes = new ArrayList<>();
            for (Future<ClientOutcome> f : futures) {
                outcomes.add(f.get(10, TimeUnit.MINUTES));
            }
            return outcomes;
        } finally {
            pool.shutdownNow();
        }
    }

    private static ClientOutcome lockstep(InetSocketAddress address, int index, int lines) throws IOException {
        int sent = 0;
        int echoed = 0;
        try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
            socket.setSoTimeout((int) SOCKET_TIMEOUT_MILLIS);
            socket.setTcpNoDelay(true);
            OutputStream out = socket.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            for (int i = 0; i < lines; i++) {
                String line = "client " + index + " line " + i;
                try {
                    out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    sent++;
                    String reply = in.readLine();
                    if (reply == null) {
                        return new ClientOutcome(index, sent, echoed, false, "EOF");
                    }
                    if (!reply.equals(line)) {
                        return new ClientOutcome(index, sent, echoed, false, "wrong echo: " + reply);
                    }
                    echoed++;
                } catch (java.net.SocketException e) {
                    return new ClientOutcome(index, sent, echoed, false, e.getMessage());
                }
            }
        }
        return new ClientOutcome(index, sent, echoed, true, "done");
    }

    private static String echoOneLine(InetSocketAddress address, String line) throws IOException {
        try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
            socket.setSoTimeout((int) SOCKET_TIMEOUT_MILLIS);
            socket.getOutputStream().write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
        }
    }

    private static void printFigure(String line) throws IOException {
        System.out.println(line);
        Path file = Path.of("target", "hostile-figures.txt");
        Files.createDirectories(file.getParent());
        Files.writeString(file, line + System.lineSeparator(), StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    record ServerCounts(long thrown, long overflowed, long closedByException, long closedByOverflow) {
    }

    /**
     * A line-echo {@link StreamServer} whose handler fails on every Nth line it is given,
     * alternately by throwing and by recursing until the stack overflows. Prints
     * {@code port N} once listening and serves until its standard input ends, then prints
     * {@code counts T O E S} (thrown, overflowed, connections closed by each) and exits.
     */
    static final class ThrowingEchoServer {
        private static long messages;
        private static long thrown;
        private static long overflowed;
        private static long closedByException;
        private static long closedByOverflow;

        public static void main(String[] args) throws Exception {
            long everyNth = Long.parseLong(args[0]);
            EventLoop loop = EventLoop.start("throwing-echo");
            Framing lines = Framing.lines(1024);
            StreamServer server = StreamServer.bind(loop, new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0),
                    StreamOptions.builder().backlog(4096).build(), () -> lines.handler(new FrameHandler() {
                        @Override
                        public void onFrame(Connection c, ByteBuffer frame) {
                            // Loop thread only, so plain counters are safe.
                            if (++messages % everyNth == 0) {
                                if ((messages / everyNth) % 2 == 1) {
                                    thrown++;
                                    throw new IllegalStateException("the handler's bug, on message " + messages);
                                }
                                overflowed++;
                                recurse(0);
                            }
                            lines.write(c, frame);
                        }

                        @Override
                        public void onClose(Connection c, Throwable cause) {
                            if (cause instanceof IllegalStateException) {
                                closedByException++;
                            } else if (cause instanceof StackOverflowError) {
                                closedByOverflow++;
                            }
                        }
                    }));
            System.out.println("port " + ((InetSocketAddress) server.localAddress()).getPort());
            System.out.flush();
            while (System.in.read() >= 0) {
                // serving until the test closes our standard input
            }
            long[] counts = TestSupport.onLoop(loop, () -> new long[] {thrown, overflowed, closedByException, closedByOverflow});
            System.out.println("counts " + counts[0] + " " + counts[1] + " " + counts[2] + " " + counts[3]);
            System.out.flush();
            loop.close();
        }

        private static int recurse(int depth) {
            return recurse(depth + 1) + 1;
        }
    }

    /** A running {@link ThrowingEchoServer} with its stderr collected. */
    static final class ThrowingServer implements AutoCloseable {
        final Process process;
        final InetSocketAddress address;
        final List<String> stderr = new CopyOnWriteArrayList<>();
        private final BufferedReader stdout;
        private final Thread stderrPump;

        private ThrowingServer(Process process) throws IOException {
            this.process = process;
            this.stdout = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            this.stderrPump = pump(process.getErrorStream(), stderr);
            String line = stdout.readLine();
            if (line == null || !line.startsWith("port ")) {
                throw new IOException("the throwing echo server did not start; it said: " + line);
            }
            this.address = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), Integer.parseInt(line.substring(5).trim()));
        }

        static ThrowingServer start(int everyNth) throws IOException {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process process = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                    ThrowingEchoServer.class.getName(), Integer.toString(everyNth)).start();
            try {
                return new ThrowingServer(process);
            } catch (IOException | RuntimeException e) {
                process.destroyForcibly();
                throw e;
            }
        }

        private static Thread pump(InputStream in, List<String> sink) {
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        sink.add(line);
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            }, "throwing-server-stderr");
            t.setDaemon(true);
            t.start();
            return t;
        }

        int openFileDescriptors() throws IOException {
            try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(process.pid()), "fd"))) {
                return (int) fds.count();
            }
        }

        /** Closes its standard input (its cue to stop) and returns what it counted. */
        ServerCounts stop() throws Exception {
            process.getOutputStream().close();
            String line;
            while ((line = stdout.readLine()) != null && !line.startsWith("counts ")) {
                // only the counts line matters
            }
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the throwing echo server exits once told to");
            stderrPump.join(TimeUnit.SECONDS.toMillis(60));
            if (line == null) {
                throw new AssertionError("the throwing echo server printed no counts; stderr: " + stderr);
            }
            String[] f = line.split(" ");
            return new ServerCounts(Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4]));
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(60, TimeUnit.SECONDS);
        }
    }
}
