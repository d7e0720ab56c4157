package io.selectloop.echo.files;

import static io.selectloop.echo.files.FilesProtocol.ERR_BAD_REQUEST;
import static io.selectloop.echo.files.FilesProtocol.ERR_BUSY;
import static io.selectloop.echo.files.FilesProtocol.ERR_CHECKSUM;
import static io.selectloop.echo.files.FilesProtocol.ERR_FULL;
import static io.selectloop.echo.files.FilesProtocol.ERR_IO;
import static io.selectloop.echo.files.FilesProtocol.ERR_TOO_LARGE;
import static io.selectloop.echo.files.FilesProtocol.send;

import io.selectloop.Connection;
import io.selectloop.FrameHandler;
import io.selectloop.FramingException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection of the file server: reads requests, answers them, and holds at
 * most one open file (the upload being written or the download being sent). All of it runs
 * on the connection's loop thread; slow disk work (hashing, fsync, rename) goes to
 * {@link DiskWork}, and the session stops reading until that work's result is back, so it
 * has at most one job out and never reads a request it cannot act on yet.
 *
 * <p>Upload data is written on the loop thread, frame by frame, into the page cache
 * ({@code docs/ARCHITECTURE.md}, "The files program", says why that is acceptable and what
 * it costs); memory per upload is the framing's one partial frame, at most 64 KiB, charged
 * to the loop's memory budget by the framing itself.
 */
final class FileSession implements FrameHandler {
    private static final Logger log = LoggerFactory.getLogger("files");

    private enum State {
        /** Between requests. */
        IDLE,
        /** A disk job is out; reading is paused. */
        WAITING,
        /** An upload's data frames are arriving. */
        RECEIVING,
        /** Every byte of an upload arrived; the {@code DONE} frame is next. */
        AWAIT_DONE
    }

    private final FileServer server;
    private State state = State.IDLE;
    /** Set on close; disk jobs poll it to stop early, so it is volatile. */
    private volatile boolean closed;

    private Upload upload;
    private FileChannel download;

    FileSession(FileServer server) {
        this.server = server;
    }

    /** What an upload holds, from {@code PUT} until its rename (or the connection's end). */
    private static final class Upload {
        final String name;
        final Path target;
        final Path part;
        final FileChannel channel;
        final long size;
        final long resumedAt;
        MessageDigest digest;
        long received;

        Upload(String name, Path target, Path part, FileChannel channel, long size, long resumedAt) {
            this.name = name;
            this.target = target;
            this.part = part;
            this.channel = channel;
            this.size = size;
            this.resumedAt = resumedAt;
            this.received = resumedAt;
        }
    }

    @Override
    public void onFrame(Connection c, ByteBuffer frame) throws Exception {
        switch (state) {
            case RECEIVING:
                receive(c, frame);
                return;
            case WAITING:
                // Frames of the read that ran into pauseReading: a client that did not wait for its reply.
                protocolError(c, "request sent before the reply to the previous one");
                return;
            default:
                break;
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(frame).toString();
        } catch (CharacterCodingException e) {
            protocolError(c, "request is not valid UTF-8");
            return;
        }
        if (state == State.AWAIT_DONE) {
            if (!text.startsWith("DONE ")) {
                protocolError(c, "expected DONE after the upload's last byte");
                return;
            }
            finishUpload(c, text.substring("DONE ".length()));
            return;
        }
        if (download != null) {
            if (c.pendingWriteBytes() > 0) {
                protocolError(c, "request sent before the previous download was read");
                return;
            }
            closeQuietly(download);
            download = null;
        }
        try {
            request(c, text);
        } catch (FilesError e) {
            send(c, e.reply());
            if (e.code().equals(ERR_BAD_REQUEST)) {
                c.close();
            }
        }
    }

    private void request(Connection c, String text) throws FilesError {
        if (text.startsWith("LS ")) {
            list(c, text.substring(3));
        } else if (text.startsWith("GET ")) {
            String[] words = text.split(" ", 3);
            if (words.length < 3) {
                throw new FilesError(ERR_BAD_REQUEST, "usage: GET OFFSET PATH");
            }
            get(c, number(words[1], "offset"), words[2]);
        } else if (text.startsWith("PUT ")) {
            String[] words = text.split(" ", 3);
            if (words.length < 3) {
                throw new FilesError(ERR_BAD_REQUEST, "usage: PUT SIZE PATH");
            }
            put(c, number(words[1], "size"), words[2]);
        } else {
            String verb = text.length() > 16 ? text.substring(0, 16) + "..." : text;
            throw new FilesError(ERR_BAD_REQUEST, "unknown request '" + verb.replaceAll("\\p{Cntrl}", "?") + "'");
        }
    }

    private static long number(String word, String what) throws FilesError {
        try {
            if (!word.isEmpty() && word.length() <= 19 && word.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
                return Long.parseLong(word);
            }
        } catch (NumberFormatException overflow) {
            // 19 digits over Long.MAX_VALUE: refused below like any other bad number
        }
        throw new FilesError(ERR_BAD_REQUEST, what + " must be a decimal number of at most 2^63-1, not '" + word + "'");
    }

    // ---- LS

    private void list(Connection c, String path) throws FilesError {
        Path real = server.paths().existing(path);
        try {
            BasicFileAttributes attributes = Files.readAttributes(real, BasicFileAttributes.class);
            if (!attributes.isDirectory()) {
                send(c, entry(attributes, real.getFileName().toString()));
                send(c, "END 1 complete");
                return;
            }
            List<Path> children = new ArrayList<>();
            boolean truncated = false;
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(real)) {
                for (Path child : stream) {
                    if (child.getFileName().toString().startsWith(".")) {
                        continue; // partial files and other hidden names are not served
                    }
                    if (children.size() == FilesProtocol.MAX_LISTING) {
                        truncated = true;
                        break;
                    }
                    children.add(child);
                }
            }
            children.sort(null);
            int listed = 0;
            for (Path child : children) {
                try {
                    send(c, entry(Files.readAttributes(child, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS),
                            child.getFileName().toString()));
                    listed++;
                } catch (IOException gone) {
                    // removed while we listed: leave it out
                }
            }
            send(c, "END " + listed + (truncated ? " truncated" : " complete"));
        } catch (IOException e) {
            throw new FilesError(ERR_IO, "cannot list " + (path.isEmpty() ? "/" : path) + ": " + e.getMessage());
        }
    }

    private static String entry(BasicFileAttributes a, String name) {
        char kind = a.isDirectory() ? 'd' : a.isRegularFile() ? 'f' : 'o';
        return "ENTRY " + kind + " " + (a.isRegularFile() ? a.size() : 0) + " " + name;
    }

    // ---- GET

    private void get(Connection c, long offset, String path) throws FilesError {
        Path file = server.paths().existingFile(path);
        FileChannel channel;
        String key;
        long size;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new FilesError(ERR_IO, "cannot open " + path + ": " + e.getMessage());
        }
        try {
            size = channel.size();
            key = HashCache.key(file);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new FilesError(ERR_IO, "cannot read " + path + ": " + e.getMessage());
        }
        long start = offset <= size ? offset : 0;
        download = channel;
        send(c, "OK " + size + " " + start);
        if (size > start) {
            c.sendFile(channel, start, size - start); // zero-copy (under TLS through the engine); the trailer queues behind it
        }
        String sha256 = server.hashes().get(key);
        if (sha256 != null) {
            send(c, "SHA256 " + sha256);
            return;
        }
        await(c);
        boolean queued = server.disk().submit(c.loop(), () -> hash(channel, size), (digest, failure) -> {
            if (closed) {
                return;
            }
            if (failure != null) {
                // The bytes are already on their way: the trailer is the only place left to say so.
                send(c, "ERR " + ERR_IO + " cannot hash " + path + ": " + failure.getMessage());
                c.close();
                return;
            }
            String hex = FilesProtocol.hex(digest.digest());
            server.hashes().put(key, hex);
            send(c, "SHA256 " + hex);
            ready(c);
        });
        if (!queued) {
            send(c, "ERR " + ERR_BUSY + " server busy");
            c.close();
        }
    }

    /** SHA-256 of the first {@code length} bytes; on a disk thread. Stops once the session closed. */
    private MessageDigest hash(FileChannel channel, long length) throws IOException {
        return Digests.prefix(channel, length, () -> closed);
    }

    // ---- PUT

    private void put(Connection c, long size, String path) throws FilesError {
        Path target = server.paths().uploadTarget(path);
        if (size > server.maxFileSize()) {
            throw new FilesError(ERR_TOO_LARGE, size + " bytes is over this server's limit of " + server.maxFileSize() + " bytes");
        }
        Uploads uploads = server.uploads();
        if (!uploads.claim(target)) {
            throw new FilesError(ERR_BUSY, "another client is uploading " + path);
        }
        Path part = target.resolveSibling(FilesProtocol.partName(target.getFileName().toString()));
        boolean existed = Files.exists(part, LinkOption.NOFOLLOW_LINKS);
        if (!existed && !uploads.reservePartial()) {
            uploads.release(target);
            throw new FilesError(ERR_FULL, "too many unfinished uploads on this server (" + uploads.partials() + ")");
        }
        FileChannel channel;
        long have;
        try {
            channel = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ,
                    LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            uploads.release(target);
            if (!existed) {
                uploads.partialGone();
            }
            throw new FilesError(ERR_IO, "cannot create the partial file for " + path + ": " + e.getMessage());
        }
        try {
            have = channel.size();
            if (have > size) {
                channel.truncate(0); // left by an upload of another size: start over
                have = 0;
            }
        } catch (IOException e) {
            closeQuietly(channel);
            uploads.release(target);
            throw new FilesError(ERR_IO, "cannot read the partial file for " + path + ": " + e.getMessage());
        }
        Upload u = new Upload(path, target, part, channel, size, have);
        upload = u;
        await(c);
        if (have == 0) {
            startReceiving(c, u, null);
            return;
        }
        // The digest must cover the bytes a previous connection left: hash them off the loop.
        long prefix = have;
        boolean queued = server.disk().submit(c.loop(), () -> hash(channel, prefix), (digest, failure) -> {
            if (closed) {
                dropUpload(u);
                return;
            }
            if (failure != null) {
                dropUpload(u);
                upload = null;
                send(c, "ERR " + ERR_IO + " cannot read the partial file for " + path + ": " + failure.getMessage());
                ready(c);
                return;
            }
            startReceiving(c, u, digest);
        });
        if (!queued) {
            dropUpload(u);
            upload = null;
            send(c, "ERR " + ERR_BUSY + " server busy");
            ready(c);
        }
    }

    private void startReceiving(Connection c, Upload u, MessageDigest prefixDigest) {
        try {
            u.digest = prefixDigest != null ? prefixDigest : MessageDigest.getInstance("SHA-256");
            u.channel.position(u.resumedAt);
        } catch (Exception e) {
            dropUpload(u);
            upload = null;
            send(c, "ERR " + ERR_IO + " " + e.getMessage());
            ready(c);
            return;
        }
        send(c, "OK " + u.resumedAt);
        state = u.received == u.size ? State.AWAIT_DONE : State.RECEIVING;
        c.resumeReading();
    }

    private void receive(Connection c, ByteBuffer frame) {
        Upload u = upload;
        int n = frame.remaining();
        if (n > u.size - u.received) {
            protocolError(c, "data beyond the announced size of " + u.size + " bytes");
            return;
        }
        u.digest.update(frame.duplicate());
        try {
            while (frame.hasRemaining()) {
                u.channel.write(frame);
            }
        } catch (IOException e) {
            // Disk full, say. What was written stays in the partial file for a later resume.
            send(c, "ERR " + ERR_IO + " cannot write " + u.name + ": " + e.getMessage());
            c.close();
            return;
        }
        u.received += n;
        if (u.received == u.size) {
            state = State.AWAIT_DONE;
        }
    }

    private void finishUpload(Connection c, String theirs) {
        Upload u = upload;
        String ours = FilesProtocol.hex(u.digest.digest());
        boolean match = ours.equalsIgnoreCase(theirs.trim());
        await(c);
        boolean queued = server.disk().submit(c.loop(), () -> {
            // fsync before the rename, and the directory after it: the final name never
            // points at data the disk does not have, whatever happens to the machine.
            if (match) {
                u.channel.force(true);
                u.channel.close();
                Files.move(u.part, u.target, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                try (FileChannel directory = FileChannel.open(u.target.getParent(), StandardOpenOption.READ)) {
                    directory.force(true);
                }
                server.hashes().put(HashCache.key(u.target), ours);
            } else {
                u.channel.close();
                Files.deleteIfExists(u.part);
            }
            return match;
        }, (matched, failure) -> {
            server.uploads().release(u.target);
            upload = null;
            if (failure == null) {
                server.uploads().partialGone();
                if (matched) {
                    log.info("put {}: {} bytes received (resumed at {}), SHA-256 {} verified", u.name,
                            u.size - u.resumedAt, u.resumedAt, ours);
                }
            } else {
                closeQuietly(u.channel);
                log.warn("put {}: cannot store the verified file: {}", u.name, failure.toString());
            }
            if (closed) {
                return;
            }
            if (failure != null) {
                send(c, "ERR " + ERR_IO + " cannot store " + u.name + ": " + failure.getMessage());
            } else if (matched) {
                send(c, "OK " + ours);
            } else {
                send(c, "ERR " + ERR_CHECKSUM + " SHA-256 mismatch: the server received " + ours
                        + "; the partial file was discarded, send the whole file again");
            }
            ready(c);
        });
        if (!queued) {
            // The partial file stays for a resume; the session is not WAITING for anything now.
            dropUpload(u);
            upload = null;
            state = State.IDLE;
            send(c, "ERR " + ERR_BUSY + " server busy");
            c.close();
        }
    }

    /** Closes an upload's file and frees its name for another writer; its partial file stays for a resume. */
    private void dropUpload(Upload u) {
        closeQuietly(u.channel);
        server.uploads().release(u.target);
    }

    // ---- states

    private void await(Connection c) {
        state = State.WAITING;
        c.pauseReading();
    }

    private void ready(Connection c) {
        state = State.IDLE;
        c.resumeReading();
    }

    private void protocolError(Connection c, String message) {
        send(c, "ERR " + ERR_BAD_REQUEST + " " + message);
        c.close();
    }

    @Override
    public void onFramingError(Connection c, FramingException e) {
        send(c, "ERR " + ERR_BAD_REQUEST + " " + e.getMessage());
    }

    @Override
    public void onClose(Connection c, Throwable cause) {
        closed = true;
        if (download != null) {
            closeQuietly(download);
            download = null;
        }
        if (upload != null && state != State.WAITING) {
            // No disk job holds it: free it now. (A job's callback does that itself.)
            Upload u = upload;
            upload = null;
            dropUpload(u);
            log.debug("put {}: connection ended after {} of {} bytes; the partial file stays for a resume ({})",
                    u.name, u.received, u.size, cause == null ? "closed" : cause.toString());
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to do with it
        }
    }
}
