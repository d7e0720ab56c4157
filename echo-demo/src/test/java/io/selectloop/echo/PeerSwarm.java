package io.selectloop.echo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Thousands of real TCP peers on loopback driven by one thread and one selector, so a
 * test can be ten thousand hostile clients without ten thousand threads. Each peer
 * follows a {@link Plan}: what to send, how fast, whether it reads, how it ends. The
 * driver thread runs until {@link #close()} or until its lifetime is over, whichever
 * comes first, so a swarm stops by itself even if its test dies; the test thread
 * watches the peers' counters meanwhile.
 */
final class PeerSwarm implements AutoCloseable {

    /** What a peer sends: a deterministic stream, so the same position always has the same bytes. */
    @FunctionalInterface
    interface ByteSource {
        /** Between 1 and {@code max} bytes of the stream from {@code position}, in a buffer the caller may consume. */
        ByteBuffer read(long position, int max);

        /** The same byte forever. */
        static ByteSource repeat(byte b) {
            return cycle(new byte[] {b});
        }

        /**
         * {@code pattern} over and over, served from one shared buffer, so that a flood
         * costs the driver no copying. The pattern's length must divide 64 KiB.
         */
        static ByteSource cycle(byte[] pattern) {
            int size = 64 * 1024;
            if (size % pattern.length != 0) {
                throw new IllegalArgumentException("a pattern of " + pattern.length + " bytes does not divide " + size);
            }
            ByteBuffer shared = ByteBuffer.allocateDirect(size);
            while (shared.hasRemaining()) {
                shared.put(pattern);
            }
            return (position, max) -> {
                int from = (int) (position % size);
                return shared.duplicate().limit(from + Math.min(max, size - from)).position(from);
            };
        }

        static ByteSource of(byte[] bytes) {
            return (position, max) -> ByteBuffer.wrap(bytes, (int) position, (int) Math.min(max, bytes.length - position));
        }
    }

    /** What a peer does with what the server sends back. */
    enum Reading {
        /** Never reads: its receive window fills and stays full. */
        NONE,
        /** Reads and counts, only to notice when the server ends the connection. */
        DISCARD,
        /** Checks every byte against its own {@link ByteSource}: the echo must be the input. */
        VERIFY,
        /** Keeps every byte, for an oracle to judge afterwards. */
        RECORD
    }

    /** What a peer does once it has sent all its bytes. */
    enum Finish { HOLD, SHUTDOWN_OUTPUT, RESET }

    /** How a peer's connection ended. */
    enum End {
        /** The server closed: a clean end of stream. */
        EOF,
        /** The server reset the connection (ECONNRESET). */
        RESET,
        /** Another socket error (EPIPE, say): the peer was told something went wrong. */
        ERROR,
        CONNECT_FAILED,
        /** This side closed it: a RESET finish, the swarm's close, or its lifetime ending. */
        CLOSED_HERE;

        /** The peer learned from the socket itself that the server did not take everything. */
        boolean toldOfFailure() {
            return this == RESET || this == ERROR;
        }
    }

    /**
     * One peer's behaviour.
     *
     * @param bytes       how much to send in all
     * @param chunk       most bytes per write
     * @param interval    zero: write as fast as the socket takes; else one chunk per interval (a trickle)
     * @param maxUnechoed most bytes sent and not yet received back; the frame size makes a
     *                    well-behaved request/response client, {@link Long#MAX_VALUE} a stream
     */
    record Plan(ByteSource source, long bytes, int chunk, Duration interval, long maxUnechoed, Reading reading, Finish finish) {
        static Plan send(ByteSource source, long bytes) {
            return new Plan(source, bytes, 64 * 1024, Duration.ZERO, Long.MAX_VALUE, Reading.DISCARD, Finish.HOLD);
        }

        Plan trickle(int bytesPerInterval, Duration every) {
            return new Plan(source, bytes, bytesPerInterval, every, maxUnechoed, reading, finish);
        }

        Plan unechoedAtMost(long limit) {
            return new Plan(source, bytes, chunk, interval, limit, reading, finish);
        }

        Plan reading(Reading how) {
            return new Plan(source, bytes, chunk, interval, maxUnechoed, how, finish);
        }

        Plan then(Finish how) {
            return new Plan(source, bytes, chunk, interval, maxUnechoed, reading, how);
        }
    }

    /** One peer; its counters are written by the driver thread and read by anyone. */
    static final class Peer {
        final int index;
        final Plan plan;
        private SocketChannel channel;
        private SelectionKey key;
        private volatile boolean connected;
        private volatile long sent;
        private volatile long received;
        private volatile End end;
        private volatile String endDetail;
        private volatile long firstMismatch = -1;
        private final ByteArrayOutputStream recorded = new ByteArrayOutputStream();
        private long nextSendNanos;
        /** A trickling peer between two chunks: it sits in the trickle queue until its time. */
        private boolean waitingForTurn;
        private boolean outputFinished;
        private boolean waitingForWritable;

        Peer(int index, Plan plan) {
            this.index = index;
            this.plan = plan;
        }

        boolean connected() {
            return connected;
        }

        long sent() {
            return sent;
        }

        long received() {
            return received;
        }

        /** Null while the connection is open. */
        End end() {
            return end;
        }

        /** Stream position of the first echoed byte that differed from what was sent, or -1. */
        long firstMismatch() {
            return firstMismatch;
        }

        boolean sentEverything() {
            return sent == plan.bytes;
        }

        byte[] recorded() {
            synchronized (recorded) {
                return recorded.toByteArray();
            }
        }

        @Override
        public String toString() {
            return "peer " + index + " (sent " + sent + ", received " + received + ", end " + end
                    + (endDetail == null ? "" : " " + endDetail) + (firstMismatch < 0 ? "" : ", mismatch at " + firstMismatch) + ")";
        }
    }

    /** Most connects in flight at once: a connect storm beyond the listen backlog only makes SYNs retransmit. */
    private static final int CONNECT_WINDOW = 512;
    private static final long MAX_SELECT_MILLIS = 50;

    private final InetSocketAddress server;
    private final List<Peer> peers;
    private final Selector selector;
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(64 * 1024);
    private final PriorityQueue<Peer> trickling = new PriorityQueue<>((a, b) -> Long.compare(a.nextSendNanos, b.nextSendNanos));
    /** Held by the driver for each pass, so that {@link #sentWhile} sees the counters stand still. */
    private final ReentrantLock pass = new ReentrantLock(true);
    private final long deadlineNanos;
    private final Thread driver;
    private volatile boolean stopping;
    private volatile boolean sendingStopped;
    private volatile long lastProgressNanos = System.nanoTime();
    private volatile Throwable driverFailure;
    private int nextToConnect;
    private int connecting;

    private PeerSwarm(InetSocketAddress server, List<Plan> plans, Duration lifetime) throws IOException {
        this.server = server;
        List<Peer> list = new ArrayList<>(plans.size());
        for (Plan plan : plans) {
            list.add(new Peer(list.size(), plan));
        }
        this.peers = Collections.unmodifiableList(list);
        this.selector = Selector.open();
        this.deadlineNanos = System.nanoTime() + lifetime.toNanos();
        this.driver = new Thread(this::drive, "peer-swarm");
        driver.setDaemon(true);
    }

    /** Connects every peer (a bounded number at a time) and runs them until {@link #close()} or {@code lifetime}. */
    static PeerSwarm start(InetSocketAddress server, List<Plan> plans, Duration lifetime) throws IOException {
        PeerSwarm swarm = new PeerSwarm(server, plans, lifetime);
        swarm.driver.start();
        return swarm;
    }

    /** {@code count} peers that all follow {@code plan}. */
    static List<Plan> times(int count, Plan plan) {
        return Collections.nCopies(count, plan);
    }

    List<Peer> peers() {
        return peers;
    }

    // ------------------------------------------------------------------ what the test watches

    long connectedCount() {
        return peers.stream().filter(Peer::connected).count();
    }

    /** Peers that have connected, or found they cannot: nothing more to wait for on the connect side. */
    long settledCount() {
        return peers.stream().filter(p -> p.connected || p.end == End.CONNECT_FAILED).count();
    }

    long endedCount(Set<End> kinds) {
        return peers.stream().filter(p -> p.end != null && kinds.contains(p.end)).count();
    }

    /** Peers the server ended (closed or reset), as opposed to ones this side closed. */
    long endedByServerCount() {
        return endedCount(EnumSet.of(End.EOF, End.RESET, End.ERROR));
    }

    long openCount() {
        return peers.stream().filter(p -> p.connected && p.end == null).count();
    }

    long totalSent() {
        return peers.stream().mapToLong(Peer::sent).sum();
    }

    /** True if no peer has connected, sent or received anything for {@code quiet}. */
    boolean quietFor(Duration quiet) {
        return System.nanoTime() - lastProgressNanos >= quiet.toNanos();
    }

    /**
     * True once the attack is in place: every peer has connected (or failed to) and no
     * byte has moved for {@code quiet}; or nothing at all has happened for {@code stuck},
     * which is as far in place as an attack on a server that stopped accepting gets.
     */
    boolean inPlace(Duration quiet, Duration stuck) {
        return (settledCount() == peers.size() && quietFor(quiet)) || quietFor(stuck);
    }

    /**
     * Runs {@code action} with the driver stopped between two passes and returns each
     * peer's bytes sent at that moment: nothing more is sent until the action has returned,
     * so the counts are exactly what was sent before whatever the action does (a SIGTERM).
     */
    long[] sentWhile(ThrowingRunnable action) throws Exception {
        selector.wakeup();
        pass.lock();
        try {
            long[] sent = peers.stream().mapToLong(Peer::sent).toArray();
            action.run();
            return sent;
        } finally {
            pass.unlock();
        }
    }

    /** From now on peers only read: what they sent can still come back, and nothing more goes out. */
    void stopSending() {
        sendingStopped = true;
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Stops the driver and closes every peer's socket (an orderly close: FIN, or RST over unread data). */
    @Override
    public void close() throws InterruptedException {
        stopping = true;
        selector.wakeup();
        driver.join(TimeUnit.SECONDS.toMillis(60));
        if (driver.isAlive()) {
            throw new AssertionError("the peer swarm's driver did not stop within 60 s");
        }
        if (driverFailure != null) {
            throw new AssertionError("the peer swarm's driver failed", driverFailure);
        }
    }

    // ------------------------------------------------------------------ the driver thread

    private void drive() {
        try {
            while (!stopping && System.nanoTime() - deadlineNanos < 0) {
                pass.lock();
                try {
                    connectMore();
                    selector.select(this::ready, selectMillis());
                    sendDueTrickles();
                } finally {
                    pass.unlock();
                }
            }
        } catch (Throwable t) {
            driverFailure = t;
        } finally {
            for (Peer p : peers) {
                if (p.channel != null && p.end == null) {
                    ended(p, End.CLOSED_HERE, "closed by the swarm");
                }
            }
            try {
                selector.close();
            } catch (IOException ignored) {
                // the channels are closed already
            }
        }
    }

    private long selectMillis() {
        Peer next = trickling.peek();
        if (next == null) {
            return MAX_SELECT_MILLIS;
        }
        long untilDue = TimeUnit.NANOSECONDS.toMillis(next.nextSendNanos - System.nanoTime());
        return Math.max(1, Math.min(MAX_SELECT_MILLIS, untilDue + 1));
    }

    private void connectMore() {
        while (connecting < CONNECT_WINDOW && nextToConnect < peers.size()) {
            Peer p = peers.get(nextToConnect++);
            try {
                p.channel = SocketChannel.open();
                p.channel.configureBlocking(false);
                p.channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                if (p.plan.reading() == Reading.NONE) {
                    // A peer that never reads needs no window; a small one keeps what it is owed
                    // on the server (where the scenario measures it) instead of in our kernel
                    // buffers, which on loopback can absorb megabytes per socket.
                    p.channel.setOption(StandardSocketOptions.SO_RCVBUF, 8 * 1024);
                }
                if (p.channel.connect(server)) {
                    p.key = p.channel.register(selector, 0, p);
                    connected(p);
                } else {
                    p.key = p.channel.register(selector, SelectionKey.OP_CONNECT, p);
                    connecting++;
                }
            } catch (IOException e) {
                ended(p, End.CONNECT_FAILED, e.toString());
            }
        }
    }

    private void ready(SelectionKey key) {
        Peer p = (Peer) key.attachment();
        if (!key.isValid() || p.end != null) {
            return;
        }
        if (key.isConnectable()) {
            connecting--;
            try {
                p.channel.finishConnect();
            } catch (IOException e) {
                ended(p, End.CONNECT_FAILED, e.toString());
                return;
            }
            connected(p);
            return;
        }
        if (key.isReadable()) {
            read(p);
        }
        if (p.end == null && key.isValid() && key.isWritable()) {
            send(p);
        }
    }

    private void connected(Peer p) {
        p.connected = true;
        progress();
        send(p);
    }

    private void read(Peer p) {
        readBuffer.clear();
        int n;
        try {
            n = p.channel.read(readBuffer);
        } catch (IOException e) {
            ended(p, classify(e), e.getMessage());
            return;
        }
        if (n < 0) {
            ended(p, End.EOF, null);
            return;
        }
        if (n == 0) {
            return;
        }
        readBuffer.flip();
        if (p.plan.reading == Reading.VERIFY) {
            verify(p, readBuffer.duplicate());
        } else if (p.plan.reading == Reading.RECORD) {
            byte[] copy = new byte[n];
            readBuffer.duplicate().get(copy);
            synchronized (p.recorded) {
                p.recorded.writeBytes(copy);
            }
        }
        p.received += n;
        progress();
        send(p); // the echo may have opened the window
    }

    private static void verify(Peer p, ByteBuffer got) {
        if (p.firstMismatch >= 0) {
            return;
        }
        long position = p.received;
        while (got.hasRemaining()) {
            ByteBuffer expected = p.plan.source.read(position, got.remaining());
            int n = expected.remaining();
            for (int i = 0; i < n; i++) {
                if (expected.get() != got.get()) {
                    p.firstMismatch = position + i;
                    return;
                }
            }
            position += n;
        }
    }

    /** Writes what the plan allows now; asks for OP_WRITE only while the socket is full. */
    private void send(Peer p) {
        if (p.end != null) {
            return;
        }
        p.waitingForWritable = false;
        long now = System.nanoTime();
        boolean trickle = !p.plan.interval.isZero();
        while (!p.outputFinished && !sendingStopped && p.sent < p.plan.bytes) {
            if (trickle && p.waitingForTurn) {
                break;
            }
            long room = p.plan.maxUnechoed - (p.sent - p.received);
            if (room <= 0) {
                break; // wait for the echo
            }
            int wanted = (int) Math.min(p.plan.chunk, Math.min(p.plan.bytes - p.sent, room));
            ByteBuffer bytes = p.plan.source.read(p.sent, wanted);
            int offered = bytes.remaining();
            int written;
            try {
                written = p.channel.write(bytes);
            } catch (IOException e) {
                ended(p, classify(e), e.getMessage());
                return;
            }
            if (written > 0) {
                p.sent += written;
                progress();
            }
            if (written < offered) {
                p.waitingForWritable = true;
                break;
            }
            if (trickle) {
                p.waitingForTurn = true;
                p.nextSendNanos = now + p.plan.interval.toNanos();
                trickling.add(p);
                break;
            }
        }
        if (!p.outputFinished && p.sent == p.plan.bytes) {
            finishOutput(p);
        }
        if (p.end == null) {
            int ops = (p.plan.reading != Reading.NONE ? SelectionKey.OP_READ : 0)
                    | (p.waitingForWritable ? SelectionKey.OP_WRITE : 0);
            if (p.key.interestOps() != ops) {
                p.key.interestOps(ops);
            }
        }
    }

    private void finishOutput(Peer p) {
        p.outputFinished = true;
        try {
            switch (p.plan.finish) {
                case SHUTDOWN_OUTPUT:
                    p.channel.shutdownOutput();
                    break;
                case RESET:
                    p.channel.setOption(StandardSocketOptions.SO_LINGER, 0);
                    ended(p, End.CLOSED_HERE, "reset by the peer");
                    break;
                default:
                    break;
            }
        } catch (IOException e) {
            ended(p, classify(e), e.getMessage());
        }
    }

    private void sendDueTrickles() {
        long now = System.nanoTime();
        Peer p;
        while ((p = trickling.peek()) != null && now - p.nextSendNanos >= 0) {
            trickling.poll();
            p.waitingForTurn = false;
            send(p); // a peer that has ended meanwhile is skipped here rather than searched for in the queue
        }
    }

    private static End classify(IOException e) {
        String message = String.valueOf(e.getMessage());
        return message.contains("reset") ? End.RESET : End.ERROR;
    }

    private void ended(Peer p, End how, String detail) {
        if (p.end != null) {
            return;
        }
        p.endDetail = detail;
        p.end = how;
        try {
            if (p.channel != null) {
                p.channel.close();
            }
        } catch (IOException ignored) {
            // closed either way
        }
        progress();
    }

    private void progress() {
        lastProgressNanos = System.nanoTime();
    }

    /** One line per kind of ending, for figures and failure messages. */
    String summary() {
        long[] counts = new long[End.values().length];
        long open = 0;
        for (Peer p : peers) {
            if (p.end == null) {
                open++;
            } else {
                counts[p.end.ordinal()]++;
            }
        }
        StringBuilder s = new StringBuilder("open=").append(open);
        for (End e : End.values()) {
            s.append(' ').append(e.name().toLowerCase(java.util.Locale.ROOT)).append('=').append(counts[e.ordinal()]);
        }
        return s.toString();
    }
}
