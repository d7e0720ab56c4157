package io.selectloop;

import static java.nio.channels.SelectionKey.OP_CONNECT;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.channels.UnresolvedAddressException;
import java.nio.channels.UnsupportedAddressTypeException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Outgoing stream connections: asyncio's {@code loop.create_connection}. The connect is
 * non-blocking (the loop waits for {@code OP_CONNECT}, then drops that interest), bounded
 * by a timer on the loop, and hands its channel to a {@link Connection} driven by the
 * same loop as the connections a {@link StreamServer} accepts.
 *
 * <pre>{@code
 * Connection c = StreamClient.connect(loop, new InetSocketAddress("127.0.0.1", 7007),
 *         (conn, data) -> System.out.println(StandardCharsets.UTF_8.decode(data)),
 *         Duration.ofSeconds(5)).join();
 * c.write("hello\n".getBytes());
 * }</pre>
 *
 * <p><b>Order of events.</b> As with asyncio, where {@code connection_made} runs before
 * the code awaiting {@code create_connection} resumes: once connected, the handler's
 * {@link Handler#onOpen} runs first, then the future completes, both on the loop thread.
 * With {@link StreamOptions#tls()} set, both wait for the TLS handshake, and a failed
 * handshake fails the future with its {@link javax.net.ssl.SSLException}.
 * So stages chained on the future without an executor also run on the loop thread
 * (they must not block), and data that arrives later goes to {@code onData} as usual.
 * If {@code onOpen} closed the connection or threw (then {@code onClose} received the
 * cause), the future still completes with that connection, already closed.
 *
 * <p><b>Failure.</b> Refused, unreachable, timed out ({@link ConnectTimeoutException}) or
 * the loop shutting down: the future fails with the cause, the handler is never called,
 * and nothing of the attempt stays registered or open. Cancelling the future before it
 * completes abandons the attempt the same way (the channel is closed on the loop).
 */
public final class StreamClient {
    private static final Logger log = LoggerFactory.getLogger(StreamClient.class);

    private StreamClient() {
    }

    /**
     * {@link #connect(EventLoop, SocketAddress, StreamOptions, Handler, Duration)} with
     * default options. Any thread.
     */
    public static CompletableFuture<Connection> connect(EventLoop loop, SocketAddress address, Handler handler,
                                                        Duration timeout) {
        return connect(loop, address, StreamOptions.defaults(), handler, timeout);
    }

    /**
     * Connects to {@code address} from {@code loop}. Any thread; the attempt itself starts
     * on the loop thread, never inside this call, so no callback runs before it returns.
     * The future completes on the loop thread, so never wait for it there ({@code join()}
     * on the loop thread would wait for itself): chain a stage instead.
     *
     * @param address an {@link InetSocketAddress} (IPv4 or IPv6, already resolved: name
     *     lookups block, so resolve off the loop) or a {@link UnixDomainSocketAddress}
     * @param options the connection's settings (buffer sizes are applied before the
     *     connect, so the TCP window scale can use them); server-only settings are ignored
     * @param handler the new connection's handler; called on {@code loop} only
     * @param timeout how long the connect may take; must be positive
     * @return completes with the connection after its {@code onOpen} ran, or fails with
     *     the reason it could not be made ({@link ConnectTimeoutException} for the timeout,
     *     {@link UnresolvedAddressException} for an unresolved name)
     */
    public static CompletableFuture<Connection> connect(EventLoop loop, SocketAddress address, StreamOptions options,
                                                        Handler handler, Duration timeout) {
        Objects.requireNonNull(loop, "loop");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handler, "handler");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("connect timeout must be positive, was " + timeout);
        }
        TlsOptions.check(options, true); // TLS (issue 10)
        Attempt attempt = new Attempt(loop, address, options, handler, timeout);
        if (address instanceof InetSocketAddress && ((InetSocketAddress) address).isUnresolved()) {
            attempt.future.completeExceptionally(new UnresolvedAddressException());
            return attempt.future;
        }
        attempt.future.whenComplete((connection, failure) -> {
            if (attempt.future.isCancelled()) {
                attempt.abandon();
            }
        });
        try {
            loop.execute(attempt::start);
        } catch (RejectedExecutionException e) {
            attempt.future.completeExceptionally(e);
        }
        return attempt.future;
    }

    /** Opens an unconnected channel of the address's family. */
    static SocketChannel open(SocketAddress address) throws IOException {
        if (address instanceof UnixDomainSocketAddress) {
            return SocketChannel.open(StandardProtocolFamily.UNIX);
        }
        if (address instanceof InetSocketAddress) {
            return SocketChannel.open(((InetSocketAddress) address).getAddress() instanceof Inet6Address
                    ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        }
        throw new UnsupportedAddressTypeException();
    }

    /**
     * One connect in flight: the I/O handler of the channel until the connect resolves,
     * and a loop resource so that a loop shutting down fails the attempt rather than
     * leaving its future pending forever.
     */
    private static final class Attempt implements IoHandler, LoopResource {
        final EventLoop loop;
        final SocketAddress address;
        final StreamOptions options;
        final Handler handler;
        final Duration timeout;
        final CompletableFuture<Connection> future = new CompletableFuture<>();

        // Loop thread only.
        private SocketChannel channel;
        private Registration registration;
        private TimerHandle timer;
        private boolean finished;

        Attempt(EventLoop loop, SocketAddress address, StreamOptions options, Handler handler, Duration timeout) {
            this.loop = loop;
            this.address = address;
            this.options = options;
            this.handler = handler;
            this.timeout = timeout;
        }

        void start() {
            if (future.isDone()) {
                finished = true; // cancelled before the loop got to it: nothing was opened
                return;
            }
            if (loop.isShuttingDown()) {
                fail(new IOException("event loop " + loop.name() + " is shutting down; not connecting to " + address));
                return;
            }
            try {
                channel = open(address);
                channel.configureBlocking(false);
                StreamSockets.applyBufferSizes(channel, options);
                if (channel.connect(address)) {
                    connected(); // Unix domain sockets usually connect at once
                    return;
                }
                registration = loop.register(channel, OP_CONNECT, this);
                timer = loop.schedule(this::timedOut, saturatedNanos(timeout), TimeUnit.NANOSECONDS);
            } catch (IOException e) {
                fail(withAddress(e));
            } catch (RuntimeException e) {
                fail(e);
            }
        }

        @Override
        public void ready(Registration r, int readyOps) {
            if (finished) {
                return;
            }
            try {
                if (!channel.finishConnect()) {
                    return; // not yet (a spurious wake-up)
                }
            } catch (IOException e) {
                fail(withAddress(e));
                return;
            }
            registration.interestOps(0);
            connected();
        }

        private void connected() {
            finished = true;
            cancelTimer();
            if (future.isDone()) {
                closeChannel(); // cancelled while the handshake completed
                return;
            }
            StreamConnection connection;
            try {
                StreamSockets.applyConnectedOptions(channel, options);
                connection = new StreamConnection(loop, channel, options, handler, null);
            } catch (IOException | RuntimeException e) {
                closeChannel();
                future.completeExceptionally(e);
                return;
            }
            // register() takes over the key this attempt registered: NIO cannot register a
            // channel again with a selector until the select after its key was cancelled,
            // but registering a channel whose key is still valid just re-attaches that key.
            // The future completes once onOpen has run: at once for a plain connection,
            // after the handshake for TLS (issue 10), whose failure fails the future.
            connection.whenOpened(new StreamConnection.OpenListener() {
                @Override
                public void opened(StreamConnection c) {
                    if (!future.complete(c)) {
                        c.close(); // the caller cancelled while onOpen ran: nobody will use it
                    }
                }

                @Override
                public void closedBeforeOpen(StreamConnection c, Throwable cause) {
                    future.completeExceptionally(cause != null ? cause
                            : new java.io.IOException("connection to " + address + " closed before it was opened"));
                }
            });
            connection.register();
        }

        private void timedOut() {
            if (!finished) {
                fail(new ConnectTimeoutException(address, timeout));
            }
        }

        /** The caller cancelled the future: release the channel on the loop. */
        void abandon() {
            try {
                loop.runOrExecute(() -> {
                    if (!finished) {
                        finished = true;
                        cancelTimer();
                        closeChannel();
                    }
                });
            } catch (RejectedExecutionException e) {
                // The loop has terminated, and closed every channel registered with it.
            }
        }

        private void fail(Throwable cause) {
            if (finished) {
                return;
            }
            finished = true;
            cancelTimer();
            closeChannel();
            log.debug("connect to {} failed: {}", address, cause.toString());
            future.completeExceptionally(cause);
        }

        private void cancelTimer() {
            if (timer != null) {
                timer.cancel();
            }
        }

        private void closeChannel() {
            if (registration != null) {
                registration.cancel();
            }
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException e) {
                    log.debug("closing the channel of a failed connect to {} failed", address, e);
                }
            }
        }

        private static long saturatedNanos(Duration d) {
            try {
                return d.toNanos();
            } catch (ArithmeticException e) {
                return Long.MAX_VALUE; // centuries: the loop caps it
            }
        }

        /** The JDK's messages ("Connection refused") do not say to what. */
        private IOException withAddress(IOException e) {
            String message = e.getMessage() + ": " + address;
            IOException annotated;
            if (e.getClass() == ConnectException.class) {
                annotated = new ConnectException(message);
            } else if (e.getClass() == NoRouteToHostException.class) {
                annotated = new NoRouteToHostException(message);
            } else if (e.getClass() == SocketException.class) {
                annotated = new SocketException(message); // e.g. a Unix path with no socket
            } else {
                return e;
            }
            annotated.initCause(e);
            return annotated;
        }

        // ---- LoopResource: a shutting-down loop ends attempts still in flight

        @Override
        public void beginGracefulClose() {
            fail(new IOException("event loop " + loop.name() + " shut down before the connection to "
                    + address + " was established"));
        }

        @Override
        public void forceClose(Throwable cause) {
            if (cause == null) {
                beginGracefulClose();
            } else {
                fail(cause);
            }
        }

        @Override
        public boolean isClosed() {
            return finished;
        }

        @Override
        public String toString() {
            return "connect to " + address;
        }
    }
}
