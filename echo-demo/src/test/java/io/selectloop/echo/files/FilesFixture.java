package io.selectloop.echo.files;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.selectloop.echo.FilesDemoProcess;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;

/** What the files tests share: a server process, client processes, test files, a raw protocol peer. */
final class FilesFixture {
    private FilesFixture() {
    }

    /** A {@code files serve} process on a free port, and the address it printed. */
    record Server(FilesDemoProcess process, InetSocketAddress address) implements AutoCloseable {
        static Server start(Path root, String... options) throws Exception {
            List<String> args = new ArrayList<>(List.of("files", "serve", "--root", root.toString(), "--port", "0"));
            args.addAll(List.of(options));
            FilesDemoProcess p = FilesDemoProcess.start(args.toArray(String[]::new));
            URI uri = p.awaitListening();
            assertEquals(args.contains("--tls-cert") ? "tls" : "tcp", uri.getScheme(), "the scheme it serves");
            return new Server(p, new InetSocketAddress(uri.getHost(), uri.getPort()));
        }

        String port() {
            return Integer.toString(address.getPort());
        }

        @Override
        public void close() {
            process.close();
        }
    }

    /** {@code files COMMAND... --port P} as its own process, as a user runs it. */
    static FilesDemoProcess client(Server server, String... command) throws IOException {
        List<String> args = new ArrayList<>(List.of("files"));
        args.addAll(List.of(command));
        args.addAll(List.of("--port", server.port()));
        return FilesDemoProcess.start(args.toArray(String[]::new));
    }

    /** Runs a client command to its end and returns it (for its exit status and output). */
    static FilesDemoProcess run(Server server, String... command) throws Exception {
        FilesDemoProcess p = client(server, command);
        p.awaitExit(Duration.ofMinutes(5));
        return p;
    }

    /** The number in a {@code PREFIX N bytes...} line the client printed, or -1. */
    static long number(List<String> lines, String prefix) {
        for (String line : lines) {
            if (line.startsWith(prefix)) {
                return Long.parseLong(line.substring(prefix.length()).split(" ")[0]);
            }
        }
        return -1;
    }

    /** A file of {@code size} pseudo-random bytes (incompressible, and never the same twice). */
    static Path randomFile(Path file, long size) throws IOException {
        SplittableRandom random = new SplittableRandom();
        ByteBuffer block = ByteBuffer.allocate(1 << 20);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long left = size;
            while (left > 0) {
                block.clear();
                while (block.hasRemaining()) {
                    block.putLong(random.nextLong());
                }
                block.flip().limit((int) Math.min(block.capacity(), left));
                left -= block.remaining();
                while (block.hasRemaining()) {
                    out.write(block);
                }
            }
        }
        return file;
    }

    static String sha256(Path file) throws Exception {
        try (FileChannel in = FileChannel.open(file)) {
            return FilesProtocol.hex(Digests.prefix(in, in.size()).digest());
        }
    }

    /** Every file under {@code dir} with its size and SHA-256: to show that a refused request touched nothing. */
    static TreeMap<String, String> snapshot(Path dir) throws Exception {
        TreeMap<String, String> files = new TreeMap<>();
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                String key = dir.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    files.put(key, "-> " + Files.readSymbolicLink(p));
                } else if (Files.isRegularFile(p)) {
                    files.put(key, Files.size(p) + " " + sha256(p));
                } else {
                    files.put(key, "dir");
                }
            }
        }
        return files;
    }

    /** A client written against the protocol by hand, on a blocking socket: for what the real client never sends. */
    static final class RawPeer implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        RawPeer(InetSocketAddress address) throws IOException {
            this(new Socket(address.getAddress(), address.getPort()));
        }

        /** Over a connected socket of the caller's (a JDK {@code SSLSocket} for TLS). */
        RawPeer(Socket connected) throws IOException {
            socket = connected;
            socket.setSoTimeout(60_000);
            in = socket.getInputStream();
            out = socket.getOutputStream();
        }

        void send(String text) throws IOException {
            send(text.getBytes(StandardCharsets.UTF_8));
        }

        void send(byte[] payload) throws IOException {
            out.write(ByteBuffer.allocate(4).putInt(payload.length).array());
            out.write(payload);
            out.flush();
        }

        /** The next reply frame as text; null if the server closed first. */
        String reply() throws IOException {
            byte[] header = in.readNBytes(4);
            if (header.length < 4) {
                return null;
            }
            int length = ByteBuffer.wrap(header).getInt();
            byte[] payload = in.readNBytes(length);
            return new String(payload, StandardCharsets.UTF_8);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    static String hex(MessageDigest digest) {
        return FilesProtocol.hex(digest.digest());
    }

    /** Waits until a transfer has written {@code bytes} to {@code file}; fails early if the transfer ended. */
    static void awaitSize(Path file, long bytes, FilesDemoProcess transfer) {
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(20)).until(() -> {
            if (!transfer.isAlive()) {
                throw new AssertionError("the transfer ended before it reached " + bytes + " bytes: " + transfer.describe());
            }
            return Files.exists(file) && Files.size(file) >= bytes;
        });
    }
}
