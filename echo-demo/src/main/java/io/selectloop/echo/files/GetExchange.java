package io.selectloop.echo.files;

import io.selectloop.Connection;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;

/**
 * {@code GET}: writes into {@code .NAME.part} beside the destination, asking the server to
 * start where that file ends; when the server's SHA-256 matches the bytes on disk, fsyncs
 * and renames it to its final name. An interrupted download leaves the partial file for the
 * next run; a checksum mismatch deletes it (the bytes on disk are not the server's file, so
 * resuming from them would never verify).
 */
final class GetExchange extends Exchange<Transfer> {
    private final String remote;
    private final Path local;
    private final Path part;
    private final Progress progress;
    private FileChannel file;
    private long size = -1;
    private long start;
    private long received;
    private MessageDigest digest;

    GetExchange(String remote, Path local, Progress progress) {
        this.remote = remote;
        this.local = local;
        this.part = local.resolveSibling(FilesProtocol.partName(local.getFileName().toString()));
        this.progress = progress;
    }

    @Override
    public void onOpen(Connection c) throws IOException {
        // The partial file is created only once the server agreed: a refused download leaves nothing.
        long have = Files.exists(part) ? Files.size(part) : 0;
        send(c, "GET " + have + " " + remote);
    }

    @Override
    void onReply(Connection c, String reply) throws IOException {
        if (size < 0) {
            String[] words = reply.split(" ");
            if (words.length != 3 || !words[0].equals("OK")) {
                throw new IOException("unexpected reply to GET: " + reply);
            }
            size = Long.parseLong(words[1]);
            start = Long.parseLong(words[2]);
            file = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            if (start < file.size()) {
                file.truncate(start); // the server starts over (its file changed size)
            }
            digest = Digests.prefix(file, start);
            file.position(start);
            received = start;
            progress.start(size, start);
            expectRaw(size - start);
            return;
        }
        if (!reply.startsWith("SHA256 ") || received != size) {
            throw new IOException("unexpected reply after " + received + " of " + size + " bytes: " + reply);
        }
        String theirs = reply.substring("SHA256 ".length()).trim();
        String ours = FilesProtocol.hex(digest.digest());
        if (!ours.equalsIgnoreCase(theirs)) {
            file.close();
            Files.deleteIfExists(part);
            fail(c, new FilesError(FilesProtocol.ERR_CHECKSUM, "SHA-256 mismatch: the server has " + theirs
                    + ", we received " + ours + "; the partial file was discarded, run the command again"));
            return;
        }
        file.force(true);
        file.close();
        Files.move(part, local, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        progress.finish();
        succeed(c, new Transfer(size, start, size - start, ours));
    }

    @Override
    void onRaw(Connection c, ByteBuffer bytes) throws IOException {
        int n = bytes.remaining();
        digest.update(bytes.duplicate());
        while (bytes.hasRemaining()) {
            file.write(bytes);
        }
        received += n;
        progress.advance(n);
    }

    @Override
    void released() {
        progress.finish();
        if (file == null) {
            return;
        }
        try {
            file.close(); // what it holds stays, for the next run to resume from
        } catch (IOException ignored) {
            // the next run truncates to what the server agrees on
        }
    }
}
