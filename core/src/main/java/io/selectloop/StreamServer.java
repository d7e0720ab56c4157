package io.selectloop;

import static java.nio.channels.SelectionKey.OP_ACCEPT;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A listening stream socket (TCP, or a Unix domain socket when bound to a
 * {@link UnixDomainSocketAddress}) whose accepted connections each get a fresh
 * {@link Handler} from the supplier.
 *
 * <pre>{@code
 * EventLoop loop = EventLoop.start("echo");
 * StreamServer server = StreamServer.bind(loop, new InetSocketAddress("127.0.0.1", 0),
 *         () -> (c, data) -> c.write(data));
 * System.out.println("listening on " + server.localAddress());
 * }</pre>
 *
 * <p>Every method may be called from any thread.
 */
public final class StreamServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StreamServer.class);
    private static final LogLimiter connectionLimitLog = new LogLimiter(log, org.slf4j.event.Level.WARN);
    /** How long accepting pauses after the process ran out of file descriptors. */
    static final long ACCEPT_BACKOFF_MILLIS = 1000;

    private final EventLoop loop;
    /** Null: connections stay on {@link #loop}; else each goes to the group's next loop. */
    private final EventLoopGroup group;
    private final ServerSocketChannel channel;
    private final StreamOptions options;
    private final Supplier<? extends Handler> handlers;
    private final SocketAddress localAddress;
    private final Path unixPath;
    /** Identity of the socket file this server created (null for TCP). */
    private final Object unixFileKey;
    private final Acceptor acceptor = new Acceptor();
    /** Shared by the listeners of one server (GroupAccept.LISTENER_PER_LOOP): maxConnections counts across them. */
    private final AtomicInteger liveConnections;
    private final AtomicLong acceptedConnections = new AtomicLong();
    private final AtomicLong rejectedConnections = new AtomicLong();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private Registration registration;
    private volatile boolean closed;
    private boolean backingOff;
    /** The last accept back-off, doubled while accept keeps failing; 0 after a success. */
    private long nextBackoffMillis;
    /** At maxConnections: accepting is off until a connection closes. Read by closing connections' loops. */
    private volatile boolean atConnectionLimit;
    private boolean backoffReported;
    private long backoffsSinceReport;
    private volatile long connectionLimitCount;
    /** Every listener of this server, this one first: one, or one per loop of a group (set once, before use). */
    private volatile List<StreamServer> listeners = List.of(this);

    /** [metrics] This server's counters, one block per loop its connections live on. */
    private final java.util.concurrent.ConcurrentHashMap<EventLoop, StreamCounters> counters =
            new java.util.concurrent.ConcurrentHashMap<>();

    private StreamServer(EventLoop loop, EventLoopGroup group, ServerSocketChannel channel, StreamOptions options,
                         Supplier<? extends Handler> handlers, Path unixPath, AtomicInteger liveConnections)
            throws IOException {
        this.loop = loop;
        this.liveConnections = liveConnections;
        this.group = group;
        this.channel = channel;
        this.options = options;
        this.handlers = handlers;
        this.unixPath = unixPath;
        this.unixFileKey = unixPath == null ? null : fileKey(unixPath);
        this.localAddress = channel.getLocalAddress();
    }

    /** {@link #bind(EventLoop, SocketAddress, StreamOptions, Supplier)} with default options. */
    public static StreamServer bind(EventLoop loop, SocketAddress address, Supplier<? extends Handler> handlers)
            throws IOException {
        return bind(loop, address, StreamOptions.defaults(), handlers);
    }

    /**
     * Binds at once (so {@link #localAddress()} is known on return, and a port in use
     * fails here) and starts accepting on {@code loop}. Any thread.
     *
     * @param address an {@link InetSocketAddress} (port 0 picks a free port; IPv4 or
     *     IPv6) or a {@link UnixDomainSocketAddress}. A stale socket file left at a Unix
     *     path by an earlier process is replaced; the file is removed again on close.
     * @param handlers called on the loop thread once per accepted connection
     */
    public static StreamServer bind(EventLoop loop, SocketAddress address, StreamOptions options,
                                    Supplier<? extends Handler> handlers) throws IOException {
        return bind(loop, null, address, options, handlers);
    }

    /** {@link #bind(EventLoopGroup, SocketAddress, StreamOptions, Supplier)} with default options. */
    public static StreamServer bind(EventLoopGroup group, SocketAddress address, Supplier<? extends Handler> handlers)
            throws IOException {
        return bind(group, address, StreamOptions.defaults(), handlers);
    }

    /**
     * As {@link #bind(EventLoop, SocketAddress, StreamOptions, Supplier)}, but spread over
     * a group: the server accepts on one loop of the group (its {@link #loop()}, taken with
     * {@link EventLoopGroup#next()}) and hands each accepted connection to the group's
     * next loop, round-robin. A connection then stays on that loop: all its callbacks run
     * there and its {@link Connection#loop()} is that loop. The handler supplier is called
     * on the accepting loop's thread, so it needs no locking. Any thread.
     */
    public static StreamServer bind(EventLoopGroup group, SocketAddress address, StreamOptions options,
                                    Supplier<? extends Handler> handlers) throws IOException {
        Objects.requireNonNull(group, "group");
        // -- GroupAccept.LISTENER_PER_LOOP (issue 12)
        if (group.size() > 1 && options != null && options.groupAccept() == GroupAccept.LISTENER_PER_LOOP
                && address instanceof InetSocketAddress && ReusePort.supported()) {
            return bindListenerPerLoop(group, (InetSocketAddress) address, options, handlers);
        }
        return bind(group.next(), group, address, options, handlers);
    }

    private static StreamServer bind(EventLoop loop, EventLoopGroup group, SocketAddress address,
                                     StreamOptions options, Supplier<? extends Handler> handlers) throws IOException {
        return bindListener(loop, group, address, options, handlers, options != null && options.reusePort(),
                new AtomicInteger());
    }

    /**
     * One listener per loop, all with SO_REUSEPORT on one port: the kernel spreads
     * connections over them and each loop serves what it accepts, with no hand-off. The
     * handler supplier is still called one connection at a time (serialized), as with one
     * accepting loop, so it needs no locking.
     */
    private static StreamServer bindListenerPerLoop(EventLoopGroup group, InetSocketAddress address,
            StreamOptions options, Supplier<? extends Handler> handlers) throws IOException {
        Objects.requireNonNull(handlers, "handlers");
        if (!options.reusePort() && address.getPort() != 0) {
            ReusePort.requirePortFree(address, options.reuseAddress());
        }
        Supplier<Handler> serialized = () -> {
            synchronized (handlers) {
                return handlers.get();
            }
        };
        AtomicInteger live = new AtomicInteger();
        List<StreamServer> all = new java.util.ArrayList<>();
        try {
            SocketAddress at = address;
            for (EventLoop each : group) {
                StreamServer listener = bindListener(each, null, at, options, serialized, true, live);
                all.add(listener);
                at = listener.localAddress(); // port 0: the others join the port the first one got
            }
        } catch (IOException | RuntimeException e) {
            all.forEach(StreamServer::close);
            throw e;
        }
        List<StreamServer> set = List.copyOf(all);
        for (StreamServer listener : set) {
            listener.listeners = set;
        }
        return set.get(0);
    }

    private static StreamServer bindListener(EventLoop loop, EventLoopGroup group, SocketAddress address,
            StreamOptions options, Supplier<? extends Handler> handlers, boolean reusePort, AtomicInteger live)
            throws IOException {
        Objects.requireNonNull(loop, "loop");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handlers, "handlers");
        TlsOptions.check(options, false); // TLS (issue 10)
        Path unixPath = null;
        ServerSocketChannel channel;
        if (address instanceof UnixDomainSocketAddress) {
            unixPath = ((UnixDomainSocketAddress) address).getPath();
            removeStaleSocket(unixPath);
            channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        } else {
            channel = ServerSocketChannel.open();
        }
        StreamServer server;
        try {
            channel.configureBlocking(false);
            if (unixPath == null) {
                channel.setOption(StandardSocketOptions.SO_REUSEADDR, options.reuseAddress());
                if (reusePort) {
                    ReusePort.enable(channel);
                }
            }
            if (options.receiveBufferSize() > 0) {
                // Set on the listener so accepted sockets inherit it before the handshake
                // fixes the TCP window scale.
                channel.setOption(StandardSocketOptions.SO_RCVBUF, options.receiveBufferSize());
            }
            channel.bind(address, options.backlog());
            server = new StreamServer(loop, group, channel, options, handlers, unixPath, live);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        try {
            loop.runOrExecute(server::register);
        } catch (RejectedExecutionException e) {
            server.closeChannel();
            throw new IllegalStateException("event loop " + loop.name() + " has terminated", e);
        }
        return server;
    }

    /** A socket file with nobody listening is left behind when a process dies; asyncio removes it too. */
    private static void removeStaleSocket(Path path) throws IOException {
        if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && !Files.isRegularFile(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && !Files.isDirectory(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && !Files.isSymbolicLink(path)) {
            // Stale only if nobody answers: deleting a live server's socket file would
            // silently take its address over and make it unreachable.
            try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                probe.connect(UnixDomainSocketAddress.of(path));
                throw new java.net.BindException("Address already in use: a server is listening on " + path);
            } catch (java.net.ConnectException refused) {
                Files.deleteIfExists(path);
            }
        }
    }

    /** The socket file's identity, so that close removes it only if it is still ours. */
    private static Object fileKey(Path path) {
        try {
            return Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    private void register() {
        if (closed) {
            return;
        }
        try {
            registration = loop.register(channel, OP_ACCEPT, acceptor);
        } catch (IOException | RuntimeException e) {
            log.warn("could not start accepting on {}", localAddress, e);
            closeChannel();
        }
    }

    /** The bound address, with the real port when bound to port 0. Any thread. */
    public SocketAddress localAddress() {
        return localAddress;
    }

    /** The bound TCP port (the real one when bound to port 0); -1 for a Unix domain socket. Any thread. */
    public int port() {
        return localAddress instanceof InetSocketAddress ? ((InetSocketAddress) localAddress).getPort() : -1;
    }

    /** The loop this server accepts on (for a group, the one of its loops that accepts). */
    public EventLoop loop() {
        return loop;
    }

    /** The options given to {@code bind}. */
    public StreamOptions options() {
        return options;
    }

    /** Connections accepted and not yet closed. */
    public int connectionCount() {
        return liveConnections.get();
    }

    /** Connections accepted since bind (by all of its listeners). */
    public long acceptedCount() {
        long n = 0;
        for (StreamServer listener : listeners) {
            n += listener.acceptedConnections.get();
        }
        return n;
    }

    /**
     * The server's listening sockets' loops: one, or with {@link GroupAccept#LISTENER_PER_LOOP}
     * each loop of the group (each accepts its own connections). Any thread.
     */
    public List<EventLoop> acceptingLoops() {
        List<EventLoop> loops = new java.util.ArrayList<>();
        for (StreamServer listener : listeners) {
            loops.add(listener.loop);
        }
        return loops;
    }

    /** True once {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Stops listening. Connections already accepted stay open (as with asyncio's
     * {@code Server.close()}); close them through their handlers, or shut the loop down.
     * Idempotent.
     *
     * @see #closeFuture()
     */
    @Override
    public void close() {
        for (StreamServer listener : listeners) {
            listener.closeListener();
        }
    }

    private void closeListener() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            loop.runOrExecute(this::closeChannel);
        } catch (RejectedExecutionException e) {
            closeChannel(); // the loop is gone, and its selector with it
        }
    }

    /** Completes when the listening socket is closed. */
    public CompletableFuture<Void> closeFuture() {
        List<StreamServer> all = listeners;
        if (all.size() == 1) {
            return closeFuture;
        }
        return CompletableFuture.allOf(all.stream().map(l -> l.closeFuture).toArray(CompletableFuture[]::new));
    }

    private void closeChannel() {
        closed = true;
        if (registration != null && loop.inEventLoop()) {
            registration.cancel();
        }
        try {
            channel.close();
        } catch (IOException e) {
            log.debug("closing server {} failed", localAddress, e);
        }
        if (unixPath != null && unixFileKey != null && unixFileKey.equals(fileKey(unixPath))) {
            try {
                Files.deleteIfExists(unixPath);
            } catch (IOException e) {
                log.debug("could not remove socket file {}", unixPath, e);
            }
        }
        if (registration != null && loop.inEventLoop() && !loop.isTerminated()) {
            // The kernel socket is released only when the selector drops the cancelled
            // key, at the start of the next select: complete after that, so that a
            // caller who waited on closeFuture finds the port really closed. (A task
            // queued with execute() here could still run before that select, in this
            // iteration's task pass.)
            loop.afterNextSelect(() -> closeFuture.complete(null));
            return;
        }
        closeFuture.complete(null);
    }

    // ------------------------------------------------------------------ accepting

    /** The listening socket's I/O handler and loop resource (so shutdown stops it first). */
    private final class Acceptor implements IoHandler, LoopResource {
        @Override
        public void ready(Registration r, int readyOps) {
            for (int i = 0; i < options.maxAcceptsPerWakeup(); i++) {
                boolean overLimit = options.maxConnections() > 0 && liveConnections.get() >= options.maxConnections();
                if (overLimit && options.overLimit() == OverLimit.WAIT) {
                    pauseAtConnectionLimit();
                    return;
                }
                SocketChannel accepted;
                try {
                    accepted = channel.accept();
                } catch (IOException e) {
                    if (!closed) {
                        backOff(e);
                    }
                    return;
                }
                if (accepted == null) {
                    return;
                }
                backoffReported = false;
                nextBackoffMillis = 0;
                if (overLimit) {
                    reject(accepted);
                    continue;
                }
                acceptedConnections.incrementAndGet();
                startConnection(accepted);
            }
        }

        @Override
        public void beginGracefulClose() {
            closeChannel();
        }

        @Override
        public void forceClose(Throwable cause) {
            if (cause != null) {
                log.error("{}: accepting failed unexpectedly; the server is closed", StreamServer.this, cause);
            }
            closeChannel();
        }

        @Override
        public boolean isClosed() {
            return !channel.isOpen();
        }
    }

    /**
     * EMFILE/ENFILE: the pending connection stays in the backlog and the listener stays
     * readable, so retrying now would spin. Stop watching it for a second instead.
     */
    private void backOff(IOException e) {
        if (backingOff) {
            return;
        }
        // Out of descriptors: a second, the time it takes connections to close. Any other
        // error that persists (ENOBUFS, ENOMEM, a message in another language) would be
        // just as much of a spin: start short and double up to that second.
        long pause = isOutOfFileDescriptors(e) ? ACCEPT_BACKOFF_MILLIS
                : Math.min(ACCEPT_BACKOFF_MILLIS, Math.max(10, nextBackoffMillis * 2));
        nextBackoffMillis = pause;
        backingOff = true;
        backoffsSinceReport++;
        if (!backoffReported) {
            log.warn("accept on {} failed: {}; pausing accepts for {} ms (further pauses logged at debug until an accept succeeds)",
                    localAddress, e.getMessage(), pause);
            backoffReported = true;
            backoffsSinceReport = 0;
        } else {
            log.debug("accept on {} still failing: {} ({} pauses)", localAddress, e.getMessage(), backoffsSinceReport);
        }
        updateAcceptInterest();
        loop.schedule(() -> {
            backingOff = false;
            updateAcceptInterest();
        }, pause, TimeUnit.MILLISECONDS);
    }

    /**
     * Leaves further peers in the listen backlog rather than accepting and closing them:
     * they are served, oldest first, as soon as a connection closes (nginx and HAProxy
     * do the same), and a peer that gives up sees a plain connect timeout.
     */
    private void pauseAtConnectionLimit() {
        if (!atConnectionLimit) {
            atConnectionLimit = true;
            connectionLimitCount++;
            connectionLimitLog.log("{}: {} connections open, the maxConnections limit; new peers wait in the listen backlog until one closes",
                    this, liveConnections.get());
            updateAcceptInterest();
            // A connection on another loop of a group may have closed between our count
            // and the flag: it saw no flag, so it queued no resume. Look once more.
            resumeBelowConnectionLimit();
        }
    }

    /** Over the limit with {@link OverLimit#REJECT}: tell the peer, if there is a message, and close. */
    private void reject(SocketChannel accepted) {
        rejectedConnections.incrementAndGet();
        countersOn(loop).rejected(); // [metrics]
        connectionLimitLog.log("{}: {} connections open, the maxConnections limit; rejecting new peers", this,
                liveConnections.get());
        byte[] message = options.overLimitMessage();
        // TLS (issue 10): plaintext would be garbage to a TLS client; it sees the close only.
        if (message.length > 0 && options.tls() == null) {
            try {
                accepted.configureBlocking(false);
                accepted.write(java.nio.ByteBuffer.wrap(message)); // a new socket's buffer takes 1 KiB at once
            } catch (IOException e) {
                log.debug("could not tell a rejected peer on {}: {}", localAddress, e.toString());
            }
        }
        closeQuietly(accepted);
    }

    /** Peers rejected over the connection limit since bind ({@link OverLimit#REJECT}). Any thread. */
    public long rejectedCount() {
        long n = 0;
        for (StreamServer listener : listeners) {
            n += listener.rejectedConnections.get();
        }
        return n;
    }

    /** A connection closed, on whichever loop it lives on. */
    private void connectionClosed() {
        liveConnections.decrementAndGet();
        for (StreamServer listener : listeners) { // the server's other listeners count the same connections
            if (listener.atConnectionLimit) {
                try {
                    listener.loop.runOrExecute(listener::resumeBelowConnectionLimit);
                } catch (RejectedExecutionException e) {
                    // the accepting loop is gone, and the listener with it
                }
            }
        }
    }

    private void resumeBelowConnectionLimit() {
        if (atConnectionLimit && liveConnections.get() < options.maxConnections()) {
            atConnectionLimit = false;
            updateAcceptInterest();
        }
    }

    private void updateAcceptInterest() {
        if (!closed && registration != null && registration.isValid()) {
            registration.interestOps(backingOff || atConnectionLimit ? 0 : OP_ACCEPT);
        }
    }

    /** Times accepting paused at maxConnections (tests). */
    long connectionLimitPauses() {
        long n = 0;
        for (StreamServer listener : listeners) {
            n += listener.connectionLimitCount;
        }
        return n;
    }

    static boolean isOutOfFileDescriptors(IOException e) {
        String message = e.getMessage();
        return message != null && message.contains("Too many open files");
    }

    private void startConnection(SocketChannel accepted) {
        Handler handler;
        try {
            StreamSockets.configure(accepted, options);
            handler = handlers.get();
        } catch (IOException e) {
            log.debug("could not set up a connection accepted on {}: {}", localAddress, e.toString());
            closeQuietly(accepted);
            return;
        } catch (RuntimeException e) {
            log.warn("handler supplier for {} threw; refusing the connection", localAddress, e);
            closeQuietly(accepted);
            return;
        } catch (Error e) {
            // Unexpected: the loop closes this server visibly. This socket is ours alone.
            closeQuietly(accepted);
            throw e;
        }
        if (handler == null) {
            log.warn("handler supplier for {} returned null; refusing the connection", localAddress);
            closeQuietly(accepted);
            return;
        }
        if (options.tls() == null) {
            handler = ProxyHeaderStage.wrap(handler, options); // PROXY protocol hook: outermost
        }
        liveConnections.incrementAndGet();
        EventLoop target = group == null ? loop : group.next();
        StreamConnection connection = new StreamConnection(target, accepted, options, handler,
                c -> connectionClosed());
        if (options.tls() != null && options.proxyProtocol() != ProxyProtocol.OFF) {
            connection.readProxyHeaderBeforeTls(); // the header precedes the TLS records on the wire
        }
        connection.counters = countersOn(target); // [metrics]
        if (target == loop) {
            connection.register();
        } else {
            handOff(target, connection, accepted);
        }
    }

    /**
     * Registers the connection on another loop of the group. The channel was never
     * registered here, so it can go to the other selector as it is.
     */
    private void handOff(EventLoop target, StreamConnection connection, SocketChannel accepted) {
        try {
            target.execute(connection::register);
        } catch (RejectedExecutionException e) {
            // That loop has terminated (the group is going down): nobody will ever serve it.
            log.debug("loop {} refused a connection accepted on {}; closing it", target.name(), localAddress);
            closeQuietly(accepted);
            connectionClosed();
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing more to do for a connection we never started
        }
    }

    // ------------------------------------------------------------------ metrics

    /**
     * A snapshot of this server's counters, summed over the loops its connections live on:
     * connections open, accepted, rejected and closed by cause, bytes and reads/writes each
     * way. Any thread; at most one loop iteration old (see {@link StreamMetrics}).
     */
    public StreamMetrics metrics() {
        for (EventLoop l : counters.keySet()) {
            l.counters.awaitPublished();
        }
        return StreamMetrics.sum(counters.values());
    }

    /** This server's counter block on {@code target}, made (and listed in that loop's totals) on first use. */
    private StreamCounters countersOn(EventLoop target) {
        return counters.computeIfAbsent(target, l -> {
            StreamCounters block = new StreamCounters(true);
            l.counters.streams.add(block);
            return block;
        });
    }

    @Override
    public String toString() {
        return "StreamServer[" + localAddress + "]";
    }
}
