package io.selectloop.echo.files;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.function.BooleanSupplier;

/** SHA-256 helpers for the client (the server hashes on its disk threads, in {@link FileSession}). */
final class Digests {
    private Digests() {
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** SHA-256 state after the first {@code length} bytes of {@code file}. */
    static MessageDigest prefix(FileChannel file, long length) throws IOException {
        return prefix(file, length, () -> false);
    }

    /**
     * The same, giving up with an {@code IOException} as soon as {@code stop} says so (the
     * server's disk threads stop hashing for a client that went away).
     */
    static MessageDigest prefix(FileChannel file, long length, BooleanSupplier stop) throws IOException {
        MessageDigest digest = sha256();
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 17);
        long position = 0;
        while (position < length) {
            if (stop.getAsBoolean()) {
                throw new IOException("stopped");
            }
            buffer.clear().limit((int) Math.min(buffer.capacity(), length - position));
            int n = file.read(buffer, position);
            if (n < 0) {
                throw new IOException("file ended at " + position + " of " + length + " bytes");
            }
            position += n;
            digest.update(buffer.flip());
        }
        return digest;
    }
}
