package io.selectloop.echo.files;

import static io.selectloop.echo.files.FilesFixture.awaitSize;
import static io.selectloop.echo.files.FilesFixture.number;
import static io.selectloop.echo.files.FilesFixture.randomFile;
import static io.selectloop.echo.files.FilesFixture.run;
import static io.selectloop.echo.files.FilesFixture.sha256;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.echo.FilesDemoProcess;
import io.selectloop.echo.files.FilesFixture.Server;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files program as a user runs it: {@code files serve} and the {@code files ls|put|get}
 * commands as separate processes on real sockets, killed and restarted mid-transfer.
 */
class FilesIT {
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    private Path root;
    private Path local;

    @org.junit.jupiter.api.BeforeEach
    void directories() throws Exception {
        root = Files.createDirectory(dir.resolve("root"));
        local = Files.createDirectory(dir.resolve("local"));
    }

    @Test
    void emptySmallAndSparseFilesGoUpAndComeBackVerified() throws Exception {
        Path empty = Files.createFile(local.resolve("empty"));
        Path small = Files.writeString(local.resolve("small.txt"), "hello, files\n");
        Path sparse = local.resolve("sparse.img");
        try (RandomAccessFile f = new RandomAccessFile(sparse.toFile(), "rw")) {
            f.write("head".getBytes());
            f.seek(64L << 20);
            f.write("middle".getBytes());
            f.setLength(200L << 20); // ends in a hole
        }
        try (Server server = Server.start(root)) {
            for (Path file : List.of(empty, small, sparse)) {
                FilesDemoProcess put = run(server, "put", file.toString());
                assertEquals(0, put.awaitExit(Duration.ofMinutes(1)), put.describe());
                assertTrue(put.stdout().contains("SHA-256 verified: " + sha256(file)), put.describe());
                assertEquals(sha256(file), sha256(root.resolve(file.getFileName())));

                Path back = local.resolve(file.getFileName() + ".back");
                FilesDemoProcess get = run(server, "get", file.getFileName().toString(), back.toString());
                assertEquals(0, get.awaitExit(Duration.ofMinutes(1)), get.describe());
                assertTrue(get.stdout().contains("SHA-256 verified: " + sha256(file)), get.describe());
                assertEquals(sha256(file), sha256(back));
                assertEquals(Files.size(file), number(get.stdout(), "received "));
            }
            FilesDemoProcess ls = run(server, "ls");
            assertEquals(0, ls.awaitExit(Duration.ofMinutes(1)), ls.describe());
            assertEquals(3, ls.stdout().size(), ls.describe());
            assertTrue(ls.stdout().get(0).matches("f\\s+0\\s+empty"), ls.describe());
            assertTrue(ls.stdout().get(1).matches("f\\s+13\\s+small.txt"), ls.describe());
            assertTrue(ls.stdout().get(2).matches("f\\s+" + (200L << 20) + "\\s+sparse.img"), ls.describe());

            FilesDemoProcess missing = run(server, "get", "no-such-file", local.resolve("x").toString());
            assertEquals(1, missing.awaitExit(Duration.ofMinutes(1)));
            assertTrue(missing.countStderr("NOT_FOUND") == 1, missing.describe());
        }
        try (var leftovers = Files.list(root)) {
            assertFalse(leftovers.anyMatch(p -> p.getFileName().toString().startsWith(".")), "no partial file stays after success");
        }
    }

    /**
     * A real GiB up and down, each killed (SIGKILL) at a quarter and run again: the second run
     * starts where the receiver's partial file ended, sends only the rest (the sender's count
     * and, for uploads, the server's), and ends verified.
     */
    @Test
    void aGibibyteKilledHalfwayEachWayResumesWithoutResending() throws Exception {
        Path big = randomFile(local.resolve("big.bin"), GIB);
        String expected = sha256(big);
        try (Server server = Server.start(root)) {
            Path serverPart = root.resolve(".big.bin.part");
            FilesDemoProcess first = FilesFixture.client(server, "put", big.toString());
            awaitSize(serverPart, GIB / 4, first);
            first.kill();
            assertFalse(Files.exists(root.resolve("big.bin")), "a partial upload is never under its final name");
            long arrived = Files.size(serverPart);

            FilesDemoProcess again = run(server, "put", big.toString());
            assertEquals(0, again.awaitExit(Duration.ofMinutes(5)), again.describe());
            long resumedAt = number(again.stdout(), "resumed at byte ");
            // The server may still have written what sat in its socket buffer when the client died.
            assertTrue(resumedAt >= arrived, "resumed at " + resumedAt + ", though " + arrived + " bytes had arrived");
            assertEquals(GIB - resumedAt, number(again.stdout(), "sent "), again.describe());
            assertTrue(again.stdout().contains("SHA-256 verified: " + expected), again.describe());
            await().atMost(Duration.ofSeconds(30)).until(() -> server.process().countStderr(
                    "put big.bin: " + (GIB - resumedAt) + " bytes received (resumed at " + resumedAt + ")") == 1);
            assertEquals(expected, sha256(root.resolve("big.bin")));
            assertFalse(Files.exists(serverPart));

            Path down = local.resolve("down.bin");
            Path downPart = local.resolve(".down.bin.part");
            FilesDemoProcess get = FilesFixture.client(server, "get", "big.bin", down.toString());
            awaitSize(downPart, GIB / 4, get);
            get.kill();
            assertFalse(Files.exists(down), "a partial download is never under its final name");
            long got = Files.size(downPart);

            FilesDemoProcess getAgain = run(server, "get", "big.bin", down.toString());
            assertEquals(0, getAgain.awaitExit(Duration.ofMinutes(5)), getAgain.describe());
            assertEquals(got, number(getAgain.stdout(), "resumed at byte "), getAgain.describe());
            assertEquals(GIB - got, number(getAgain.stdout(), "received "), getAgain.describe());
            assertEquals(expected, sha256(down));
            assertFalse(Files.exists(downPart));
        }
    }

    /** The server is killed mid-upload and mid-download; a new server on the same root lets both resume. */
    @Test
    void transfersResumeAfterTheServerIsKilledAndRestarted() throws Exception {
        long size = 256L << 20;
        Path file = randomFile(local.resolve("f.bin"), size);
        String expected = sha256(file);
        Server server = Server.start(root);
        FilesDemoProcess put = FilesFixture.client(server, "put", file.toString());
        awaitSize(root.resolve(".f.bin.part"), size / 4, put);
        server.process().kill();
        assertEquals(1, put.awaitExit(Duration.ofMinutes(1)), put.describe());
        assertTrue(put.countStderr("run the command again to resume") == 1, put.describe());
        long arrived = Files.size(root.resolve(".f.bin.part"));

        server = Server.start(root);
        FilesDemoProcess again = run(server, "put", file.toString());
        assertEquals(0, again.awaitExit(Duration.ofMinutes(1)), again.describe());
        assertEquals(arrived, number(again.stdout(), "resumed at byte "), again.describe());
        assertEquals(size - arrived, number(again.stdout(), "sent "), again.describe());
        assertEquals(expected, sha256(root.resolve("f.bin")));

        Path down = local.resolve("down.bin");
        FilesDemoProcess get = FilesFixture.client(server, "get", "f.bin", down.toString());
        awaitSize(local.resolve(".down.bin.part"), size / 4, get);
        server.process().kill();
        assertEquals(1, get.awaitExit(Duration.ofMinutes(1)), get.describe());
        long got = Files.size(local.resolve(".down.bin.part"));

        try (Server restarted = Server.start(root)) {
            FilesDemoProcess getAgain = run(restarted, "get", "f.bin", down.toString());
            assertEquals(0, getAgain.awaitExit(Duration.ofMinutes(1)), getAgain.describe());
            assertEquals(got, number(getAgain.stdout(), "resumed at byte "), getAgain.describe());
            assertEquals(size - got, number(getAgain.stdout(), "received "), getAgain.describe());
            assertEquals(expected, sha256(down));
        }
    }

    /** The Python client written from docs/FILES-PROTOCOL.md alone works against the server. */
    @Test
    void aClientWrittenFromTheProtocolDocumentWorks() throws Exception {
        Path script = Path.of(System.getProperty("selectloop.root"), "echo-demo/src/test/resources/files/files_client.py");
        Path file = randomFile(local.resolve("py.bin"), 3_000_001);
        String expected = sha256(file);
        try (Server server = Server.start(root)) {
            String port = server.port();
            List<String> put = python(script, 0, port, "put", file.toString(), "py.bin");
            assertEquals(List.of("put py.bin 3000001 bytes from 0 sha256 " + expected), put);
            assertEquals(expected, sha256(root.resolve("py.bin")));

            // A partial download of 1,000,000 bytes, as an interrupted run would leave it.
            Path back = local.resolve("back.bin");
            Files.write(local.resolve("back.bin.part"), java.util.Arrays.copyOf(Files.readAllBytes(file), 1_000_000));
            List<String> get = python(script, 0, port, "get", "py.bin", back.toString());
            assertEquals(List.of("got py.bin 3000001 bytes from 1000000 sha256 " + expected), get);
            assertEquals(expected, sha256(back));

            assertEquals(List.of("f 3000001 py.bin", "END 1 complete"), python(script, 0, port, "ls"));
            assertEquals(List.of("ERR BAD_PATH '..' is not allowed in a path"),
                    python(script, 1, port, "get", "../etc/passwd", local.resolve("x").toString()));
            assertFalse(Files.exists(local.resolve("x")));
        }
    }

    private static List<String> python(Path script, int expectedStatus, String port, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("python3", script.toString(), "127.0.0.1", port));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<String> out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES));
        assertEquals(expectedStatus, p.exitValue(), "python client " + List.of(args) + ": " + out);
        return out;
    }
}
