package io.selectloop.echo.files;

import io.selectloop.EventLoop;
import io.selectloop.StreamOptions;
import io.selectloop.StreamServer;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.file.Path;

/**
 * The file server: one loop, one listener, a {@link FileSession} per connection, and what
 * the sessions share (the root, the upload registry, the disk threads, the checksum cache).
 * {@link #start} and {@link #close} from any thread; the rest is for sessions, on the loop.
 */
final class FileServer implements AutoCloseable {
    private final SafePaths paths;
    private final Uploads uploads;
    private final DiskWork disk;
    private final HashCache hashes = new HashCache(4096);
    private final long maxFileSize;
    private final EventLoop loop;
    private StreamServer listener;

    private FileServer(EventLoop loop, SafePaths paths, Uploads uploads, DiskWork disk, long maxFileSize) {
        this.loop = loop;
        this.paths = paths;
        this.uploads = uploads;
        this.disk = disk;
        this.maxFileSize = maxFileSize;
    }

    /**
     * Serves {@code root} on {@code address}.
     *
     * @param maxConnections at most this many clients at once (each holds at most one open
     *     file); further ones wait in the listen backlog
     * @param maxPartials at most this many unfinished uploads on disk
     */
    static FileServer start(EventLoop loop, Path root, SocketAddress address, StreamOptions options, long maxFileSize,
                            int maxPartials, int diskThreads) throws IOException {
        SafePaths paths = new SafePaths(root);
        Uploads uploads = new Uploads(paths.root(), maxPartials);
        DiskWork disk = new DiskWork(diskThreads, Math.max(16, options.maxConnections() + 16));
        FileServer server = new FileServer(loop, paths, uploads, disk, maxFileSize);
        try {
            server.listener = StreamServer.bind(loop, address, options,
                    () -> FilesProtocol.FRAMING.handler(new FileSession(server)));
        } catch (IOException | RuntimeException e) {
            disk.close();
            throw e;
        }
        return server;
    }

    SocketAddress localAddress() {
        return listener.localAddress();
    }

    EventLoop loop() {
        return loop;
    }

    SafePaths paths() {
        return paths;
    }

    Uploads uploads() {
        return uploads;
    }

    DiskWork disk() {
        return disk;
    }

    HashCache hashes() {
        return hashes;
    }

    long maxFileSize() {
        return maxFileSize;
    }

    @Override
    public void close() {
        listener.close();
        disk.close();
    }
}
