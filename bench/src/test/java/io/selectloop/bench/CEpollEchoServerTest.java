package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The C reference server, built from the jar's source with the machine's {@code cc}
 * (every machine this project builds on has gcc; CI too), driven like every other impl.
 */
class CEpollEchoServerTest {

    @Test
    void buildsWithTheMachinesCompiler() {
        assertNull(new CEpollEchoServer().unavailableReason());
    }

    /** Random chunking both ways, more than the server's 64 KiB buffer in flight, so its partial-write path runs. */
    @Test
    void echoesEveryByteInOrderAcrossManyConnections() throws Exception {
        EchoServerImpl.RunningServer server = new CEpollEchoServer()
                .start(new InetSocketAddress("127.0.0.1", 0), EchoServerImpl.ServerSettings.defaults());
        try {
            Random random = new Random(7);
            for (int c = 0; c < 8; c++) {
                byte[] message = new byte[1 + random.nextInt(4 << 20)];
                random.nextBytes(message);
                try (Socket socket = new Socket()) {
                    socket.connect(server.localAddress());
                    int seed = c;
                    Thread writer = new Thread(() -> writeInChunks(socket, message, new Random(seed)));
                    writer.start();
                    byte[] echoed = socket.getInputStream().readNBytes(message.length);
                    writer.join();
                    assertArrayEquals(message, echoed);
                }
            }
        } finally {
            server.close();
        }
    }

    private static void writeInChunks(Socket socket, byte[] message, Random random) {
        try {
            OutputStream out = socket.getOutputStream();
            for (int at = 0; at < message.length; ) {
                int n = Math.min(message.length - at, 1 + random.nextInt(100_000));
                out.write(message, at, n);
                at += n;
            }
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** compare's contract for a server child: it goes when the pipe on its stdin closes (its parent died). */
    @Test
    void exitsWhenItsStandardInputCloses() throws Exception {
        List<String> command = new CEpollEchoServer().command("127.0.0.1", 0);
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            String line = new String(process.getInputStream().readNBytes("listening on tcp://".length()),
                    StandardCharsets.US_ASCII);
            assertEquals("listening on tcp://", line);
            process.getOutputStream().close();
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "still running after its stdin closed");
            assertEquals(0, process.exitValue());
        } finally {
            process.destroyForcibly();
        }
    }

    @Test
    void compareStartsTheBinaryItselfSoItsStatsAreTheServers() throws Exception {
        List<String> command = new CEpollEchoServer().command("127.0.0.1", 0);
        assertEquals(List.of("127.0.0.1", "0"), command.subList(1, command.size()));
        assertTrue(command.get(0).endsWith("/c-epoll-echo"), command.toString());
    }
}
