package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A loop driven by the application's own thread, and the README's example, verbatim. */
class EmbeddingTest {

    @Test
    void aLoopDrivenByRunOnceOnTheTestThreadServesAConnection() throws Exception {
        EventLoop loop = EventLoop.open();
        AtomicReference<Thread> servedOn = new AtomicReference<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> (c, data) -> {
            servedOn.set(Thread.currentThread());
            c.write(data);
        });
        CompletableFuture<String> reply = CompletableFuture.supplyAsync(() -> {
            try (SocketChannel ch = connect(server.localAddress())) {
                writeFully(ch, ByteBuffer.wrap("embedded".getBytes(StandardCharsets.US_ASCII)));
                return new String(readFully(ch, 8), StandardCharsets.US_ASCII);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!reply.isDone() && System.nanoTime() < deadline) {
            assertTrue(loop.runOnce(10));
        }
        assertEquals("embedded", reply.get(1, TimeUnit.SECONDS));
        assertEquals(Thread.currentThread(), servedOn.get(), "callbacks ran on the thread calling runOnce");
        loop.shutdownGracefully(Duration.ofSeconds(1));
        while (loop.runOnce(10)) {
            // drive the shutdown to its end on this thread
        }
        assertTrue(loop.isTerminated());
    }

    /**
     * close() from another thread while the application drives the loop with runOnce. It
     * used to run the termination, and so the handlers' onClose, on the closing thread,
     * while the application's thread may be using the loop between two iterations. It
     * must only ask: the driving thread's next runOnce closes.
     */
    @Test
    void closeFromAnotherThreadIsCarriedOutByTheThreadDrivingRunOnce() throws Exception {
        EventLoop loop = EventLoop.open();
        AtomicReference<Thread> closedOn = new AtomicReference<>();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), () -> new Handler() {
            @Override
            public void onData(Connection c, ByteBuffer data) {
                data.position(data.limit());
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                closedOn.set(Thread.currentThread());
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            TestSupport.runUntil(loop, () -> server.connectionCount() == 1);
            // Between two iterations, as an application doing its own work there:
            Thread closer = new Thread(loop::close, "closer");
            closer.start();
            closer.join(TimeUnit.SECONDS.toMillis(60));
            assertFalse(closer.isAlive(), "close() from another thread returned");
            TestSupport.runUntil(loop, loop::isTerminated);
            assertSame(Thread.currentThread(), closedOn.get(), "onClose ran on the thread driving the loop");
            assertTrue(server.isClosed());
        } finally {
            loop.close();
        }
    }


    /** The README's embedding example compiles and runs exactly as printed. */
    @Test
    void theReadmeEmbeddingExampleRunsVerbatim(@TempDir Path dir) throws Exception {
        compileReadmeBlock("EmbedExample", dir);

        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (URLClassLoader classes = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            Method main = classes.loadClass("EmbedExample").getMethod("main", String[].class);
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            CompletableFuture<Void> run = CompletableFuture.runAsync(() -> {
                try {
                    main.invoke(null, (Object) new String[0]);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            run.get(60, TimeUnit.SECONDS);
        } finally {
            System.setOut(original);
        }
        List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
        assertTrue(lines.contains("echoed: hello"), "example output was: " + lines);
    }

    /**
     * The README's key-value recipe, compiled exactly as printed and run as its own
     * process: the commands work, QUIT ends the session before a command sent behind it
     * in the same packet runs, and an over-long line is answered before the close.
     */
    @Test
    void theReadmeKeyValueRecipeRunsVerbatim(@TempDir Path dir) throws Exception {
        compileReadmeBlock("KvServer", dir);
        Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", dir + java.io.File.pathSeparator + System.getProperty("java.class.path"), "KvServer", "0")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            java.io.BufferedReader out = new java.io.BufferedReader(
                    new java.io.InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
            String listening = out.readLine();
            assertTrue(listening != null && listening.startsWith("listening on port "), "it said: " + listening);
            java.net.InetSocketAddress address = new java.net.InetSocketAddress("127.0.0.1",
                    Integer.parseInt(listening.substring("listening on port ".length())));
            try (SocketChannel ch = connect(address)) {
                assertEquals("OK\nVALUE b c\nDELETED\nNOT_FOUND\nERR unknown command\n",
                        exchange(ch, "SET a b c\nGET a\nDEL a\nGET a\nPUT a b\n", 5));
                assertEquals("BYE\n", new String(TestSupport.readToEnd(sent(ch, "QUIT\nSET sneaky 1\n")),
                        StandardCharsets.UTF_8), "QUIT ends the session");
            }
            try (SocketChannel ch = connect(address)) {
                assertEquals("NOT_FOUND\n", exchange(ch, "GET sneaky\n", 1), "the SET behind QUIT never ran");
                String tooLong = "SET x " + "y".repeat(5000) + "\n";
                assertEquals("ERR line too long\n", new String(TestSupport.readToEnd(sent(ch, tooLong)),
                        StandardCharsets.UTF_8), "the error line, then the close");
            }
        } finally {
            server.destroyForcibly();
            server.waitFor(60, TimeUnit.SECONDS);
        }
    }

    private static SocketChannel sent(SocketChannel ch, String text) throws java.io.IOException {
        writeFully(ch, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
        return ch;
    }

    /** Sends {@code text} and reads back {@code lines} lines. */
    private static String exchange(SocketChannel ch, String text, int lines) throws java.io.IOException {
        sent(ch, text);
        StringBuilder reply = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (reply.chars().filter(c -> c == '\n').count() < lines) {
            one.clear();
            if (ch.read(one) < 0) {
                throw new java.io.EOFException("closed after " + reply);
            }
            reply.append((char) one.get(0));
        }
        return reply.toString();
    }

    /** Writes the README's ```java block that declares {@code className} to {@code dir} and compiles it there. */
    static void compileReadmeBlock(String className, Path dir) throws Exception {
        String readme = Files.readString(Path.of(System.getProperty("selectloop.readme", "../README.md")));
        String source = null;
        Matcher block = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        while (block.find() && source == null) {
            if (block.group(1).contains("class " + className + " ")) {
                source = block.group(1);
            }
        }
        assertTrue(source != null, "README.md has a ```java block with class " + className);
        Path file = dir.resolve(className + ".java");
        Files.writeString(file, source);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, null, diagnostics, "-classpath", System.getProperty("java.class.path"),
                "-d", dir.toString(), file.toString());
        assertEquals(0, rc, "the README's " + className + " does not compile:\n" + diagnostics);
    }
}
