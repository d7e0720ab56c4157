package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench server} stops when a pipe on its standard input ends (compare's hold on its
 * children), and only then: a file or {@code /dev/zero} on standard input neither stops it
 * at once nor keeps a thread reading.
 */
class ServerStdinTest {
    private static final Pattern LISTENING = Pattern.compile("listening on tcp://([0-9.]+):(\\d+)");

    private static Process startServer(ProcessBuilder.Redirect stdin) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"), Bench.class.getName(),
                "server", "--impl", "reactor", "--max-reads-per-wakeup", "1", "--port", "0"))
                .redirectInput(stdin).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static int awaitPort(Process server) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = out.readLine()) != null) {
            Matcher m = LISTENING.matcher(line);
            if (m.find()) {
                return Integer.parseInt(m.group(2));
            }
        }
        throw new AssertionError("the server exited without listening, status " + server.waitFor());
    }

    private static void assertEchoes(int port) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            byte[] message = "still serving\n".getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < 3; i++) {
                s.getOutputStream().write(message);
                assertArrayEquals(message, s.getInputStream().readNBytes(message.length));
            }
        }
    }

    @Test
    void anEmptyFileOnStandardInputDoesNotStopTheServer(@TempDir Path dir) throws Exception {
        Path empty = Files.createFile(dir.resolve("empty"));
        Process server = startServer(ProcessBuilder.Redirect.from(empty.toFile()));
        try {
            int port = awaitPort(server);
            assertEchoes(port);
            assertEchoes(port); // a second connection, after any EOF would long have been seen
            assertTrue(server.isAlive(), "the server stopped at the file's end");
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void closingThePipeOnStandardInputStopsTheServer() throws Exception {
        Process server = startServer(ProcessBuilder.Redirect.PIPE);
        try {
            int port = awaitPort(server);
            assertEchoes(port);
            server.getOutputStream().close();
            assertTrue(server.waitFor(30, TimeUnit.SECONDS), "the server outlived its standard input");
            assertEquals(0, server.exitValue());
        } finally {
            server.destroyForcibly();
        }
    }
}
