package io.selectloop.echo.files;

import static io.selectloop.echo.files.FilesFixture.randomFile;
import static io.selectloop.echo.files.FilesFixture.sha256;
import static io.selectloop.echo.files.FilesFixture.snapshot;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.EventLoop;
import io.selectloop.echo.files.FilesFixture.RawPeer;
import io.selectloop.echo.files.FilesFixture.Server;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What peers cannot do to the file server: reach outside the root, overfill it, corrupt a
 * file by writing it twice at once, hold its files and descriptors, or stall it. The
 * server runs as its own process; the peers are the library's client (on one loop, for
 * hundreds at once) and raw sockets that speak the protocol by hand.
 */
class FilesSafetyIT {
    @TempDir
    Path dir;

    private Path root;
    private Path outside;
    private Path local;
    private EventLoop loop;

    @BeforeEach
    void setUp() throws Exception {
        root = Files.createDirectory(dir.resolve("root"));
        outside = Files.createDirectory(dir.resolve("outside"));
        local = Files.createDirectory(dir.resolve("local"));
        Files.writeString(outside.resolve("secret"), "not for peers");
        Files.createDirectory(root.resolve("sub"));
        Files.writeString(root.resolve("sub/inside.txt"), "served");
        Files.createSymbolicLink(root.resolve("out-dir"), outside);
        Files.createSymbolicLink(root.resolve("out-file"), outside.resolve("secret"));
        Files.writeString(root.resolve(".hidden"), "reserved");
        loop = EventLoop.start("files-test-client");
    }

    @AfterEach
    void tearDown() {
        loop.close();
    }

    @Test
    void everyUnsafePathIsRefusedAndTouchesNothing() throws Exception {
        Path payload = Files.writeString(local.resolve("payload"), "attack");
        String longName = "n".repeat(256);
        String longPath = "d/".repeat(600) + "f";
        List<String> unsafe = List.of("../outside/secret", "sub/../../outside/secret", "..", "/etc/passwd",
                "/" + outside.resolve("secret"), "out-dir/secret", "out-dir", "out-file", "bad\0name", "tab\there",
                longName, longPath, ".hidden", "sub/.x", "sub//inside.txt", "sub/", "./sub/inside.txt", "");
        try (Server server = Server.start(root)) {
            Map<String, String> rootBefore = snapshot(root);
            Map<String, String> outsideBefore = snapshot(outside);
            for (String path : unsafe) {
                if (!path.isEmpty()) {
                    assertRefused("BAD_PATH", FilesClient.get(loop, server.address(), path, local.resolve("got"), Progress.NONE), path);
                    assertRefused("BAD_PATH", FilesClient.put(loop, server.address(), payload, path, Progress.NONE), path);
                }
                if (!path.isEmpty() && !path.equals("sub/inside.txt")) {
                    assertRefused("BAD_PATH", FilesClient.ls(loop, server.address(), path), path);
                }
            }
            assertEquals(rootBefore, snapshot(root), "a refused path touched the root");
            assertEquals(outsideBefore, snapshot(outside), "a refused path touched the outside");
            try (var left = Files.list(local)) {
                assertEquals(List.of("payload"), left.map(p -> p.getFileName().toString()).toList(),
                        "the client keeps no partial file of a refused download");
            }
            // The root lists without the hidden name, and the symbolic links as what they are.
            assertEquals(List.of("o", "o", "d"), FilesClient.ls(loop, server.address(), "").get().stream()
                    .map(line -> line.substring(0, 1)).toList());
        }
    }

    private static void assertRefused(String code, CompletableFuture<?> request, String path) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> request.get(1, TimeUnit.MINUTES), path);
        assertTrue(e.getCause() instanceof FilesError, path + ": " + e.getCause());
        assertEquals(code, ((FilesError) e.getCause()).code(), path + ": " + e.getCause().getMessage());
    }

    /** Malformed requests get BAD_REQUEST and lose their connection; a client in the middle of its own work carries on. */
    @Test
    void malformedRequestsCloseOnlyTheirOwnConnection() throws Exception {
        try (Server server = Server.start(root); RawPeer bystander = new RawPeer(server.address())) {
            bystander.send("LS sub");
            assertEquals("ENTRY f 6 inside.txt", bystander.reply());
            assertEquals("END 1 complete", bystander.reply());
            try (RawPeer peer = new RawPeer(server.address())) {
                peer.send("HELLO there");
                assertEquals("ERR BAD_REQUEST unknown request 'HELLO there'", peer.reply());
                assertNull(peer.reply());
            }
            try (RawPeer peer = new RawPeer(server.address())) {
                peer.send("GET -1 sub/inside.txt");
                assertEquals("ERR BAD_REQUEST offset must be a decimal number of at most 2^63-1, not '-1'", peer.reply());
                assertNull(peer.reply());
            }
            try (RawPeer peer = new RawPeer(server.address())) {
                peer.send("PUT 9999999999999999999 big");
                assertEquals("ERR BAD_REQUEST size must be a decimal number of at most 2^63-1, not '9999999999999999999'",
                        peer.reply());
                assertNull(peer.reply());
            }
            try (RawPeer peer = new RawPeer(server.address())) {
                peer.send(new byte[] {'L', 'S', ' ', (byte) 0xC3, (byte) 0x28});
                assertEquals("ERR BAD_REQUEST request is not valid UTF-8", peer.reply());
                assertNull(peer.reply());
            }
            try (RawPeer peer = new RawPeer(server.address())) {
                peer.out.write(new byte[] {0, 1, 0, 1}); // 65,537 bytes announced
                peer.out.flush();
                assertTrue(peer.reply().startsWith("ERR BAD_REQUEST"));
                assertNull(peer.reply());
            }
            bystander.send("GET 0 sub/inside.txt");
            assertEquals("OK 6 0", bystander.reply());
            assertEquals("served", new String(bystander.in.readNBytes(6), StandardCharsets.UTF_8));
            assertEquals("SHA256 " + sha256(root.resolve("sub/inside.txt")), bystander.reply());
        }
    }

    @Test
    void anUploadOverTheSizeLimitIsRefusedBeforeAByteIsWritten() throws Exception {
        Path file = randomFile(local.resolve("f"), 1001);
        try (Server server = Server.start(root, "--max-file-size", "1000")) {
            Map<String, String> before = snapshot(root);
            assertRefused("TOO_LARGE", FilesClient.put(loop, server.address(), file, "f", Progress.NONE), "f");
            assertEquals(before, snapshot(root));
            // A hand-written peer that announces a small size and sends more is cut off.
            try (RawPeer peer = new RawPeer(server.address())) {
                peer.send("PUT 10 g");
                assertEquals("OK 0", peer.reply());
                peer.send(new byte[11]);
                assertTrue(peer.reply().startsWith("ERR BAD_REQUEST data beyond the announced size"));
                assertNull(peer.reply(), "the server closes after a protocol error");
            }
            assertFalse(Files.exists(root.resolve("g")));
        }
    }

    @Test
    void aSecondWriterOfTheSameFileIsRefusedAndTheFirstCompletes() throws Exception {
        byte[] content = "the first writer's bytes".getBytes(StandardCharsets.UTF_8);
        try (Server server = Server.start(root); RawPeer first = new RawPeer(server.address())) {
            first.send("PUT " + content.length + " same");
            assertEquals("OK 0", first.reply());
            first.send(java.util.Arrays.copyOf(content, 5));
            Path other = Files.writeString(local.resolve("other"), "a different content, same name");
            assertRefused("BUSY", FilesClient.put(loop, server.address(), other, "same", Progress.NONE), "same");
            first.send(java.util.Arrays.copyOfRange(content, 5, content.length));
            String sha = FilesProtocol.hex(MessageDigest.getInstance("SHA-256").digest(content));
            first.send("DONE " + sha);
            assertEquals("OK " + sha, first.reply());
            assertEquals(new String(content, StandardCharsets.UTF_8), Files.readString(root.resolve("same")));
            // Now that the first is done, the second may replace it.
            FilesClient.put(loop, server.address(), other, "same", Progress.NONE).get(1, TimeUnit.MINUTES);
            assertEquals(Files.readString(other), Files.readString(root.resolve("same")));
        }
    }

    /**
     * A partial file that is not a prefix of the file (left by another version of it) ends the
     * transfer in CHECKSUM, is discarded on the receiving side, and the next run starts at 0.
     */
    @Test
    void aPartialFileThatIsNotAPrefixEndsInChecksumAndTheNextRunStartsOver() throws Exception {
        Path file = randomFile(local.resolve("f"), 100_000);
        Files.write(root.resolve(".f.part"), new byte[40_000]); // zeros: not the file's first bytes
        try (Server server = Server.start(root)) {
            assertRefused("CHECKSUM", FilesClient.put(loop, server.address(), file, "f", Progress.NONE), "f");
            assertFalse(Files.exists(root.resolve(".f.part")));
            assertFalse(Files.exists(root.resolve("f")), "a file that did not verify is never under its final name");
            Transfer again = FilesClient.put(loop, server.address(), file, "f", Progress.NONE).get(1, TimeUnit.MINUTES);
            assertEquals(0, again.resumedAt());
            assertEquals(sha256(file), sha256(root.resolve("f")));

            Files.write(local.resolve(".back.part"), new byte[30_000]);
            assertRefused("CHECKSUM", FilesClient.get(loop, server.address(), "f", local.resolve("back"), Progress.NONE), "f");
            assertFalse(Files.exists(local.resolve(".back.part")));
            assertFalse(Files.exists(local.resolve("back")));
            assertEquals(0, FilesClient.get(loop, server.address(), "f", local.resolve("back"), Progress.NONE)
                    .get(1, TimeUnit.MINUTES).resumedAt());
            assertEquals(sha256(file), sha256(local.resolve("back")));
        }
    }

    /** 100 uploads and 100 downloads at once, of sizes from 0 to 4 MiB, every checksum checked on both ends. */
    @Test
    void twoHundredConcurrentTransfersAllVerify() throws Exception {
        int each = 100;
        List<Path> sources = new ArrayList<>();
        for (int i = 0; i < each; i++) {
            sources.add(randomFile(local.resolve("up-" + i), (long) i * i * 419));
            randomFile(root.resolve("down-" + i), (long) (each - i) * 40_000 + i);
        }
        try (Server server = Server.start(root)) {
            List<CompletableFuture<Transfer>> transfers = new ArrayList<>();
            for (int i = 0; i < each; i++) {
                transfers.add(FilesClient.put(loop, server.address(), sources.get(i), "up-" + i, Progress.NONE));
                transfers.add(FilesClient.get(loop, server.address(), "down-" + i, local.resolve("down-" + i), Progress.NONE));
            }
            CompletableFuture.allOf(transfers.toArray(CompletableFuture[]::new)).get(5, TimeUnit.MINUTES);
            for (int i = 0; i < each; i++) {
                String up = sha256(sources.get(i));
                assertEquals(up, transfers.get(2 * i).get().sha256());
                assertEquals(up, sha256(root.resolve("up-" + i)));
                String down = sha256(root.resolve("down-" + i));
                assertEquals(down, transfers.get(2 * i + 1).get().sha256());
                assertEquals(down, sha256(local.resolve("down-" + i)));
            }
        }
    }

    /**
     * A peer that asks for a large file and reads nothing is cut by the idle timeout: the
     * server lets go of its socket and its open file, and the peer sees the end of the stream.
     */
    @Test
    void aPeerThatStopsReadingADownloadIsCutOff() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(root.resolve("huge").toFile(), "rw")) {
            f.setLength(4L << 30); // sparse: costs no disk
        }
        try (Server server = Server.start(root, "--idle-timeout", "1")) {
            Path realRoot = root.toRealPath();
            long idleSockets = server.process().openSockets();
            RawPeer peer = new RawPeer(server.address());
            peer.send("GET 0 huge");
            assertTrue(peer.reply().startsWith("OK " + (4L << 30) + " 0"));
            assertEquals(1, server.process().openFilesUnder(realRoot), "the download's file is open");
            awaitServerHoldsNothing(server, idleSockets);
            long read = drain(peer.socket.getInputStream());
            assertTrue(read < (4L << 30), "the peer got " + read + " bytes, not the whole file");
            peer.close();
        }
    }

    /**
     * Waits until the server holds no connection (only the sockets it had before any peer
     * came, {@code idleSockets}: its listener and whatever the JVM keeps) and no file of the root.
     */
    private void awaitServerHoldsNothing(Server server, long idleSockets) throws IOException {
        Path realRoot = root.toRealPath();
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> server.process().openSockets() <= idleSockets
                    && server.process().openFilesUnder(realRoot) == 0);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("the server still holds " + server.process().describeFileDescriptors(), e);
        }
    }

    private static long drain(InputStream in) {
        long total = 0;
        byte[] buffer = new byte[1 << 16];
        try {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                total += n;
            }
        } catch (SocketException reset) {
            // cut with a reset: the same verdict
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return total;
    }

    /**
     * Many peers that start uploads and stall: the server holds at most --max-connections of
     * them (so at most that many open files), at most --max-partials partial files, and
     * after the idle timeout nothing at all.
     */
    @Test
    void stallingUploadersHoldBoundedFilesAndDescriptors() throws Exception {
        int peers = 60;
        int maxConnections = 10;
        int maxPartials = 4;
        try (Server server = Server.start(root, "--max-connections", String.valueOf(maxConnections), "--max-partials",
                String.valueOf(maxPartials), "--idle-timeout", "1")) {
            Path realRoot = root.toRealPath();
            long idleSockets = server.process().openSockets();
            List<RawPeer> stalled = new ArrayList<>();
            List<CompletableFuture<String>> replies = new ArrayList<>();
            try {
                for (int i = 0; i < peers; i++) {
                    RawPeer peer = new RawPeer(server.address());
                    stalled.add(peer);
                    peer.send("PUT 1000000 stall-" + i);
                    replies.add(CompletableFuture.supplyAsync(() -> {
                        try {
                            String reply = peer.reply();
                            if ("OK 0".equals(reply)) {
                                peer.send(new byte[1000]); // and then nothing
                            }
                            return reply;
                        } catch (IOException e) {
                            return "io: " + e;
                        }
                    }));
                }
                int[] most = {0};
                long[] mostPartials = {0};
                await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(10)).until(() -> {
                    most[0] = Math.max(most[0], (int) (server.process().openSockets() - idleSockets + server.process().openFilesUnder(realRoot)));
                    try (var parts = Files.list(root)) {
                        mostPartials[0] = Math.max(mostPartials[0], parts.filter(p -> p.getFileName().toString().endsWith(".part")).count());
                    }
                    return CompletableFuture.allOf(replies.toArray(CompletableFuture[]::new)).isDone();
                });
                assertTrue(mostPartials[0] <= maxPartials, mostPartials[0] + " partial files");
                // Each served peer: one socket and at most one file.
                assertTrue(most[0] <= 2 * maxConnections, "the server held " + most[0] + " sockets and files");
                long ok = replies.stream().map(CompletableFuture::join).filter("OK 0"::equals).count();
                long full = replies.stream().map(CompletableFuture::join).filter(r -> r.startsWith("ERR FULL")).count();
                assertEquals(maxPartials, ok, replies.stream().map(CompletableFuture::join).toList().toString());
                assertEquals(peers - maxPartials, full);
                awaitServerHoldsNothing(server, idleSockets);
            } finally {
                for (RawPeer peer : stalled) {
                    peer.close();
                }
            }
            try (var left = Files.list(root)) {
                assertFalse(left.anyMatch(p -> p.getFileName().toString().startsWith("stall-")), "no stalled upload is final");
            }
        }
    }
}
