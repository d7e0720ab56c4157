package io.selectloop.echo.files;

import io.selectloop.Connection;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;

/**
 * {@code PUT}: asks the server how much of the file it already has, then sends the rest in
 * frames of at most 64 KiB, reading the local file only as fast as the connection takes it
 * (it stops at the high watermark and goes on when {@code onWritabilityChanged(true)}
 * comes), then {@code DONE} with the SHA-256 of the whole file.
 */
final class PutExchange extends Exchange<Transfer> {
    private final Path local;
    private final String remote;
    private final Progress progress;
    private final ByteBuffer chunk = ByteBuffer.allocateDirect(FilesProtocol.MAX_FRAME);
    private FileChannel file;
    private long size;
    private long offset = -1;
    private long position;
    private MessageDigest digest;
    private boolean doneSent;

    PutExchange(Path local, String remote, Progress progress) {
        this.local = local;
        this.remote = remote;
        this.progress = progress;
    }

    @Override
    public void onOpen(Connection c) throws IOException {
        file = FileChannel.open(local, StandardOpenOption.READ);
        size = file.size();
        send(c, "PUT " + size + " " + remote);
    }

    @Override
    void onReply(Connection c, String reply) throws IOException {
        if (offset < 0) {
            if (!reply.startsWith("OK ")) {
                throw new IOException("unexpected reply to PUT: " + reply);
            }
            offset = Long.parseLong(reply.substring(3).trim());
            if (offset > size) {
                throw new IOException("the server claims " + offset + " bytes of a " + size + "-byte file");
            }
            digest = Digests.prefix(file, offset);
            position = offset;
            progress.start(size, offset);
            pump(c);
            return;
        }
        if (!reply.startsWith("OK ")) {
            throw new IOException("unexpected reply to DONE: " + reply);
        }
        String ours = FilesProtocol.hex(digest.digest());
        if (!ours.equalsIgnoreCase(reply.substring(3).trim())) {
            throw new IOException("the server confirmed SHA-256 " + reply.substring(3) + " but we sent " + ours);
        }
        progress.finish();
        succeed(c, new Transfer(size, offset, size - offset, ours));
    }

    @Override
    public void onWritabilityChanged(Connection c, boolean writable) {
        if (writable && offset >= 0) {
            try {
                pump(c);
            } catch (IOException e) {
                fail(c, e);
            }
        }
    }

    private void pump(Connection c) throws IOException {
        while (position < size && c.isWritable() && !result.isDone()) {
            chunk.clear().limit((int) Math.min(chunk.capacity(), size - position));
            while (chunk.hasRemaining()) {
                if (file.read(chunk, position + chunk.position()) < 0) {
                    throw new IOException(local + " shrank while it was being sent");
                }
            }
            chunk.flip();
            digest.update(chunk.duplicate());
            int n = chunk.remaining();
            FilesProtocol.FRAMING.write(c, chunk);
            position += n;
            progress.advance(n);
        }
        if (position == size && !doneSent) {
            doneSent = true;
            // The digest is final now; a copy keeps it usable for the comparison with the reply.
            MessageDigest copy;
            try {
                copy = (MessageDigest) digest.clone();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException(e);
            }
            send(c, "DONE " + FilesProtocol.hex(copy.digest()));
        }
    }

    @Override
    void released() {
        progress.finish();
        if (file != null) {
            try {
                file.close();
            } catch (IOException ignored) {
                // read-only; nothing was lost
            }
        }
    }
}
