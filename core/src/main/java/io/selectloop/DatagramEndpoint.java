package io.selectloop;

import static java.nio.channels.SelectionKey.OP_READ;
import static java.nio.channels.SelectionKey.OP_WRITE;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.AlreadyConnectedException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.NotYetConnectedException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.channels.UnsupportedAddressTypeException;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A UDP socket on one loop: asyncio's {@code DatagramTransport}. Datagrams arrive at a
 * {@link DatagramHandler}; {@link #send(ByteBuffer, SocketAddress)} sends from any
 * thread.
 *
 * <pre>{@code
 * DatagramEndpoint echo = DatagramEndpoint.bind(loop, new InetSocketAddress("127.0.0.1", 0),
 *         (endpoint, sender, data) -> endpoint.send(data, sender));
 * System.out.println("listening on udp://" + echo.localAddress());
 * }</pre>
 *
 * <p><b>Sending.</b> {@code send} has copy semantics: the caller may reuse its buffer as
 * soon as it returns. On the loop thread a datagram goes straight to the socket when
 * nothing waits ahead of it; from another thread it is copied and handed over. Datagrams
 * that cannot go out yet (handed over and not yet sent, or waiting for room in a full
 * socket buffer) wait in a queue bounded by {@link DatagramOptions#sendQueueCapacity()}.
 * Past it a datagram is dropped, {@code send} returns false, and the drop is counted in
 * {@link #droppedSendCount()} and logged once per endpoint: UDP makes no delivery
 * promise, and a heap that grows without bound would be worse than a lost datagram.
 * Datagrams sent from one thread leave in the order they were sent.
 *
 * <p><b>Receiving.</b> The endpoint receives into the loop's read buffer with room for one
 * byte more than {@link DatagramOptions#maxDatagramSize()}. A datagram that fills that
 * byte was larger than allowed (the kernel truncated it): it is counted in
 * {@link #oversizedCount()} and dropped, never delivered cut short.
 *
 * <p><b>Threading.</b> {@code bind}, {@code send}, {@code connect}, {@code close}, the
 * addresses and every counter may be used from any thread; the handler is called on the
 * loop thread only.
 */
public final class DatagramEndpoint implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DatagramEndpoint.class);

    private static final int OPEN = 0, CLOSING = 1, CLOSED = 2;

    /** A datagram waiting to be sent: its own copy of the bytes, and where to. */
    private static final class Outbound {
        final ByteBuffer data;
        final SocketAddress target;

        Outbound(ByteBuffer data, SocketAddress target) {
            this.data = data;
            this.target = target;
        }
    }

    private final EventLoop loop;
    private final MemoryBudget budget;
    private final DatagramChannel channel;
    private final DatagramOptions options;
    private final DatagramHandler handler;
    private final SocketAddress localAddress;
    private final AtomicReference<SocketAddress> remoteAddress = new AtomicReference<>();
    private final Io io = new Io();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();

    // Sending. handedOver: from other threads, drained by one task at a time on the loop.
    private final ConcurrentLinkedQueue<Outbound> handedOver = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final Runnable drainHandedOver = this::drainHandedOver;
    /** Datagrams in {@link #handedOver} or {@link #waiting}: the bounded part. */
    private final AtomicInteger queued = new AtomicInteger();
    private final ArrayDeque<Outbound> waiting = new ArrayDeque<>(); // loop only: the socket was full

    // Loop thread only.
    private Registration registration;
    private int registeredOps = -1;
    private int state = OPEN;
    private volatile boolean open = true;

    // Counters: written by the loop thread only, except droppedSends.
    private volatile long received;
    private volatile long sent;
    private volatile long oversized;
    private volatile long sendErrors;
    private volatile long handlerErrors;
    private final AtomicLong droppedSends = new AtomicLong();
    private final AtomicBoolean dropReported = new AtomicBoolean();

    /** Sends that pretend the socket buffer is full, since loopback UDP never fills one (tests). Loop thread only. */
    int refuseSendsForTests;

    private DatagramEndpoint(EventLoop loop, DatagramChannel channel, DatagramOptions options, DatagramHandler handler)
            throws IOException {
        this.loop = loop;
        this.budget = loop.memoryBudget();
        this.channel = channel;
        this.options = options;
        this.handler = handler;
        this.localAddress = channel.getLocalAddress();
    }

    /** {@link #bind(EventLoop, SocketAddress, DatagramOptions, DatagramHandler)} with default options. */
    public static DatagramEndpoint bind(EventLoop loop, SocketAddress local, DatagramHandler handler)
            throws IOException {
        return bind(loop, local, DatagramOptions.defaults(), handler);
    }

    /**
     * Binds at once (so {@link #localAddress()} is known on return, and a port in use fails
     * here) and starts receiving on {@code loop}. Any thread.
     *
     * @param local an {@link InetSocketAddress}, IPv4 or IPv6 (port 0 picks a free port)
     * @param handler called on the loop thread: {@code onOpen} once registered, then every datagram
     */
    public static DatagramEndpoint bind(EventLoop loop, SocketAddress local, DatagramOptions options,
                                        DatagramHandler handler) throws IOException {
        Objects.requireNonNull(loop, "loop");
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handler, "handler");
        if (!(local instanceof InetSocketAddress)) {
            throw new UnsupportedAddressTypeException();
        }
        if (((InetSocketAddress) local).isUnresolved()) {
            throw new UnresolvedAddressException();
        }
        DatagramChannel channel = DatagramChannel.open(((InetSocketAddress) local).getAddress() instanceof Inet6Address
                ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        DatagramEndpoint endpoint;
        try {
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.SO_REUSEADDR, options.reuseAddress());
            if (options.receiveBufferSize() > 0) {
                channel.setOption(StandardSocketOptions.SO_RCVBUF, options.receiveBufferSize());
            }
            if (options.sendBufferSize() > 0) {
                channel.setOption(StandardSocketOptions.SO_SNDBUF, options.sendBufferSize());
            }
            channel.bind(local);
            endpoint = new DatagramEndpoint(loop, channel, options, handler);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        try {
            loop.execute(endpoint::register);
        } catch (RejectedExecutionException e) {
            channel.close();
            throw new IllegalStateException("event loop " + loop.name() + " has terminated", e);
        }
        return endpoint;
    }

    /**
     * Always a task, never inside {@code bind}, so no callback runs before bind returns. A
     * {@code close()} that came first only marked the endpoint closing: it still opens,
     * then flushes and closes, so the handler sees onOpen before onClose either way.
     */
    private void register() {
        if (state == CLOSED) {
            return;
        }
        try {
            registration = loop.register(channel, 0, io);
        } catch (IOException | RuntimeException e) {
            log.warn("could not register datagram endpoint {}", localAddress, e);
            doClose(e);
            return;
        }
        updateInterest();
        try {
            handler.onOpen(this);
        } catch (Throwable t) {
            EventLoop.rethrowIfFatal(t);
            log.warn("{}: handler onOpen threw; closing the endpoint", this, t);
            doClose(t);
            return;
        }
        flushWaiting();
    }

    // ------------------------------------------------------------------ sending

    /**
     * Sends all remaining bytes of {@code data} as one datagram to {@code target} (its
     * position moves to its limit). Any thread; copy semantics.
     *
     * @return false if the datagram was dropped: the send queue was full (counted in
     *     {@link #droppedSendCount()}), the endpoint is closed, or (on the loop thread) the
     *     socket refused it at once (counted in {@link #sendErrorCount()}, reported to
     *     {@link DatagramHandler#onError}). True means sent or queued, not delivered.
     * @throws IllegalArgumentException if the endpoint is connected to another address,
     *     or {@code target} is not a resolved {@link InetSocketAddress}
     */
    public boolean send(ByteBuffer data, SocketAddress target) {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(target, "target");
        if (!(target instanceof InetSocketAddress) || ((InetSocketAddress) target).isUnresolved()) {
            // A local bug, so the caller hears about it here, not some loop task later.
            throw new IllegalArgumentException("cannot send a datagram to " + target
                    + ": a resolved InetSocketAddress is needed (name lookups block: resolve off the loop)");
        }
        SocketAddress peer = remoteAddress.get();
        if (peer != null && !peer.equals(target)) {
            throw new IllegalArgumentException("endpoint " + localAddress + " is connected to " + peer
                    + "; it cannot send to " + target);
        }
        return loop.inEventLoop() ? sendOnLoop(data, target) : handOver(data, target);
    }

    /**
     * Sends to the address given to {@link #connect(SocketAddress)}. Any thread.
     *
     * @throws NotYetConnectedException if {@code connect} was not called
     * @see #send(ByteBuffer, SocketAddress)
     */
    public boolean send(ByteBuffer data) {
        SocketAddress peer = remoteAddress.get();
        if (peer == null) {
            throw new NotYetConnectedException();
        }
        return send(data, peer);
    }

    /** Another thread's datagram: copy it and queue it for the loop, if the bound allows. */
    private boolean handOver(ByteBuffer data, SocketAddress target) {
        if (!open) {
            data.position(data.limit());
            return false;
        }
        if (!reserve(data)) {
            return false;
        }
        ByteBuffer copy = ByteBuffer.allocate(data.remaining());
        copy.put(data).flip();
        handedOver.offer(new Outbound(copy, target));
        if (drainScheduled.compareAndSet(false, true)) {
            try {
                loop.execute(drainHandedOver);
            } catch (RejectedExecutionException e) {
                // The loop has terminated (and may have closed the endpoint before this
                // offer), or its task queue is full: nobody will drain what waits here, so
                // give back its places and budget, and let a later send schedule again.
                Outbound o;
                while ((o = handedOver.poll()) != null) {
                    dequeued(o);
                }
                drainScheduled.set(false);
                return false;
            }
        }
        return true;
    }

    private boolean sendOnLoop(ByteBuffer data, SocketAddress target) {
        if (state != OPEN) {
            data.position(data.limit());
            return false;
        }
        if (waiting.isEmpty() && registration != null) {
            int result = trySend(data, target);
            if (result != 0) {
                return result > 0;
            }
        }
        // The socket is full, or datagrams from this thread already wait ahead of this one.
        if (!reserve(data)) {
            return false;
        }
        ByteBuffer copy = ByteBuffer.allocate(data.remaining());
        copy.put(data).flip();
        waiting.addLast(new Outbound(copy, target));
        updateInterest();
        return true;
    }

    /**
     * Takes a place in the send queue for a copy of {@code data}, if the queue has room
     * and the loop's memory budget is not exceeded; otherwise drops the datagram (UDP
     * promises no delivery; an unbounded heap would be worse).
     */
    private boolean reserve(ByteBuffer data) {
        if (queued.incrementAndGet() > options.sendQueueCapacity() || budget.exceeded()) {
            queued.decrementAndGet();
            data.position(data.limit());
            dropped();
            return false;
        }
        budget.charge(data.remaining());
        return true;
    }

    /** A queued datagram left the queue: sent, or dropped by a close. */
    private void dequeued(Outbound o) {
        queued.decrementAndGet();
        budget.release(o.data.capacity());
    }

    /** Runs on the loop: moves handed-over datagrams to the socket, or behind those already waiting. */
    private void drainHandedOver() {
        // Cleared before polling: a datagram offered after this line schedules another drain.
        drainScheduled.set(false);
        Outbound o;
        while ((o = handedOver.poll()) != null) {
            if (state == CLOSED) {
                dequeued(o);
                continue;
            }
            if (waiting.isEmpty() && registration != null && trySend(o.data, o.target) != 0) {
                dequeued(o);
                continue;
            }
            waiting.addLast(o);
        }
        updateInterest();
        maybeFinishClosing();
    }

    /** Sends the waiting datagrams in order until the socket is full again. Loop thread only. */
    private void flushWaiting() {
        Outbound o;
        while ((o = waiting.peekFirst()) != null && state != CLOSED) {
            if (trySend(o.data, o.target) == 0) {
                break;
            }
            dequeued(waiting.pollFirst());
        }
        updateInterest();
        maybeFinishClosing();
    }

    /**
     * One send system call. Returns 1 if sent, 0 if the socket buffer is full (the datagram
     * is untouched, to be retried), -1 if the socket refused it (dropped and reported).
     */
    private int trySend(ByteBuffer data, SocketAddress target) {
        int length = data.remaining();
        try {
            int n;
            if (refuseSendsForTests > 0) {
                refuseSendsForTests--;
                n = 0;
            } else {
                n = channel.send(data, target);
            }
            if (n == 0 && length > 0) {
                return 0;
            }
            sent++;
            loop.counters.datagramSent(); // [metrics] trySend runs on the loop thread
            return 1;
        } catch (ClosedChannelException e) {
            data.position(data.limit());
            return -1;
        } catch (IOException e) {
            data.position(data.limit());
            sendErrors++;
            reportError("send to " + target, e);
            return -1;
        } catch (RuntimeException e) {
            // The JDK's unchecked refusals (a target of the wrong family; a datagram queued
            // for one peer before connect() fixed another): that datagram fails, the
            // endpoint goes on.
            data.position(data.limit());
            sendErrors++;
            reportError("send to " + target, new IOException(e.toString(), e));
            return -1;
        }
    }

    private void dropped() {
        droppedSends.incrementAndGet();
        loop.counters.datagramsDropped.incrementAndGet(); // [metrics]
        if (dropReported.compareAndSet(false, true)) {
            log.warn("{}: send queue full ({} datagrams); dropping datagrams and counting them in "
                    + "droppedSendCount() (reported once)", this, options.sendQueueCapacity());
        }
    }

    // ------------------------------------------------------------------ receiving

    /** The channel's I/O handler and loop resource; a separate object keeps these methods off the public API. */
    private final class Io implements IoHandler, LoopResource {
        @Override
        public void ready(Registration r, int readyOps) {
            try {
                if ((readyOps & OP_WRITE) != 0) {
                    flushWaiting();
                }
                if ((readyOps & OP_READ) != 0 && state == OPEN) {
                    receive();
                }
            } catch (RuntimeException | Error e) {
                // Not the peer, not the handler (both are caught where they happen): close
                // through doClose, so onClose runs and isOpen() and closeFuture stay true.
                log.error("{}: unexpected failure; closing the endpoint", DatagramEndpoint.this, e);
                doClose(e);
            }
        }

        @Override
        public void beginGracefulClose() {
            closeOnLoop();
        }

        @Override
        public void forceClose(Throwable cause) {
            int unsent = queued.get();
            doClose(cause != null || unsent == 0 ? cause
                    : new IOException("closed by event loop shutdown with " + unsent + " datagrams unsent"));
        }

        @Override
        public boolean isClosed() {
            return state == CLOSED;
        }
    }

    private void receive() {
        ByteBuffer buffer = loop.readBuffer;
        int room = options.maxDatagramSize() + 1;
        for (int i = 0; i < options.maxReceivesPerWakeup() && state == OPEN; i++) {
            buffer.clear().limit(room);
            SocketAddress sender;
            try {
                sender = channel.receive(buffer);
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                // On a connected endpoint: the peer's ICMP error for an earlier send.
                reportError("receive", e);
                return;
            }
            if (sender == null) {
                return; // drained
            }
            int length = buffer.position();
            if (length == room) {
                oversized++;
                if (oversized == 1) {
                    log.warn("{}: a datagram from {} is larger than maxDatagramSize {}; dropped and counted in "
                            + "oversizedCount() (reported once)", this, sender, options.maxDatagramSize());
                }
                continue;
            }
            received++;
            loop.counters.datagramReceived(); // [metrics]
            try {
                // A view of exactly this datagram: the rest of the shared buffer may hold
                // bytes another peer sent, which this handler must never reach.
                handler.onDatagram(this, sender, buffer.flip().slice());
            } catch (Throwable t) {
                EventLoop.rethrowIfFatal(t);
                handlerErrors++;
                if (handlerErrors == 1) {
                    log.warn("{}: handler onDatagram threw; the endpoint goes on (further errors at DEBUG, "
                            + "counted in handlerErrorCount())", this, t);
                } else {
                    log.debug("{}: handler onDatagram threw", this, t);
                }
            }
        }
    }

    private void reportError(String what, IOException e) {
        log.debug("{}: {} failed: {}", this, what, e.toString());
        try {
            handler.onError(this, e);
        } catch (Throwable t) {
            EventLoop.rethrowIfFatal(t);
            handlerErrors++;
            log.warn("{}: handler onError threw", this, t);
        }
    }

    private void updateInterest() {
        if (state == CLOSED || registration == null) {
            return;
        }
        int ops = (state == OPEN ? OP_READ : 0) | (waiting.isEmpty() ? 0 : OP_WRITE);
        if (ops != registeredOps) {
            registeredOps = ops;
            registration.interestOps(ops);
        }
    }

    // ------------------------------------------------------------------ connecting

    /**
     * Fixes the peer, like {@code connect(2)} on a UDP socket: from then on only that
     * peer's datagrams are received, {@link #send(ByteBuffer)} sends to it, and sending
     * elsewhere is refused. ICMP errors for it (port unreachable) reach
     * {@link DatagramHandler#onError}. Any thread: the peer is fixed for {@code send} at
     * once, the socket is connected on the loop (at once when called there). To talk to
     * a fixed peer from the start, call it in {@link DatagramHandler#onOpen}: onOpen runs
     * on the loop as soon as the endpoint is registered, possibly before a {@code connect}
     * from the thread that called {@code bind} has taken effect.
     *
     * @return completes once the socket is connected, or fails (the peer is then unset again)
     * @throws AlreadyConnectedException if a peer was already set
     */
    public CompletableFuture<Void> connect(SocketAddress remote) {
        Objects.requireNonNull(remote, "remote");
        if (remote instanceof InetSocketAddress && ((InetSocketAddress) remote).isUnresolved()) {
            throw new UnresolvedAddressException();
        }
        if (!remoteAddress.compareAndSet(null, remote)) {
            throw new AlreadyConnectedException();
        }
        CompletableFuture<Void> connected = new CompletableFuture<>();
        Runnable connect = () -> {
            if (state == CLOSED) {
                remoteAddress.compareAndSet(remote, null);
                connected.completeExceptionally(new ClosedChannelException());
                return;
            }
            try {
                channel.connect(remote);
                connected.complete(null);
            } catch (IOException | RuntimeException e) {
                remoteAddress.compareAndSet(remote, null);
                connected.completeExceptionally(e);
            }
        };
        try {
            loop.runOrExecute(connect);
        } catch (RejectedExecutionException e) {
            remoteAddress.compareAndSet(remote, null);
            connected.completeExceptionally(new ClosedChannelException());
        }
        return connected;
    }

    // ------------------------------------------------------------------ closing

    /**
     * Stops receiving, sends the datagrams still queued (as far as the socket takes them),
     * then closes. Sends after this are dropped. Idempotent. Any thread.
     *
     * @see #closeFuture()
     */
    @Override
    public void close() {
        try {
            loop.runOrExecute(this::closeOnLoop);
        } catch (RejectedExecutionException e) {
            // The loop has terminated, and closed the endpoint with it.
        }
    }

    private void closeOnLoop() {
        if (state != OPEN) {
            return;
        }
        state = CLOSING;
        open = false;
        drainHandedOver();
        if (state == CLOSING) {
            flushWaiting();
        }
    }

    private void maybeFinishClosing() {
        if (state == CLOSING && registration != null && waiting.isEmpty() && handedOver.isEmpty()) {
            doClose(null);
        }
    }

    private void doClose(Throwable cause) {
        if (state == CLOSED) {
            return;
        }
        state = CLOSED;
        open = false;
        boolean wasRegistered = registration != null;
        if (wasRegistered) {
            registration.cancel();
        }
        try {
            channel.close();
        } catch (IOException e) {
            log.debug("closing {} failed", this, e);
        }
        Outbound o;
        while ((o = waiting.pollFirst()) != null) {
            dequeued(o);
        }
        while ((o = handedOver.poll()) != null) {
            dequeued(o);
        }
        try {
            handler.onClose(this, cause);
        } catch (Throwable t) {
            EventLoop.rethrowIfFatal(t);
            log.warn("{}: handler onClose threw", this, t);
        }
        if (wasRegistered && !loop.isTerminated()) {
            // The port is released only when the selector drops the cancelled key, at the
            // next select: complete after that.
            loop.afterNextSelect(() -> closeFuture.complete(null));
            return;
        }
        closeFuture.complete(null);
    }

    /** Completes when the socket is closed and its port released. Any thread. */
    public CompletableFuture<Void> closeFuture() {
        return closeFuture;
    }

    // ------------------------------------------------------------------ accessors

    /** The loop this endpoint's handler runs on. Any thread. */
    public EventLoop loop() {
        return loop;
    }

    /** The bound address, with the real port when bound to port 0. Any thread. */
    public SocketAddress localAddress() {
        return localAddress;
    }

    /** The peer given to {@link #connect(SocketAddress)}, or null. Any thread. */
    public SocketAddress remoteAddress() {
        return remoteAddress.get();
    }

    /** The options given to {@code bind}. Any thread. */
    public DatagramOptions options() {
        return options;
    }

    /** True until {@link #close()} or the loop's shutdown. Any thread. */
    public boolean isOpen() {
        return open;
    }

    /** Datagrams delivered to {@code onDatagram}. Any thread. */
    public long receivedCount() {
        return received;
    }

    /** Datagrams handed to the socket. Any thread. */
    public long sentCount() {
        return sent;
    }

    /** Datagrams dropped because the send queue was full. Any thread. */
    public long droppedSendCount() {
        return droppedSends.get();
    }

    /** Datagrams received larger than {@code maxDatagramSize}, dropped undelivered. Any thread. */
    public long oversizedCount() {
        return oversized;
    }

    /** Datagrams the socket refused to send (each also reported to {@code onError}). Any thread. */
    public long sendErrorCount() {
        return sendErrors;
    }

    /** Exceptions thrown by the handler's {@code onDatagram} or {@code onError}. Any thread. */
    public long handlerErrorCount() {
        return handlerErrors;
    }

    /** Datagrams waiting to be sent (handed over by other threads, or waiting for room). Any thread. */
    public int queuedSendCount() {
        return queued.get();
    }

    @Override
    public String toString() {
        SocketAddress peer = remoteAddress.get();
        return "DatagramEndpoint[" + localAddress + (peer == null ? "" : " -> " + peer) + "]";
    }
}
