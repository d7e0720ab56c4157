package io.selectloop.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.SSLContext;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;

/**
 * An event-driven load generator for echo servers: one or two selector threads drive all
 * connections (so one process holds close to its file-descriptor limit of connections),
 * and every echoed byte is compared with what was sent.
 *
 * <p>A run goes through phases: connect everything (stream mode), warm up, measure, then
 * drain (stop sending, wait for the echoes still owed) and close. Churn mode skips the
 * connect phase: connecting is its workload.
 *
 * <pre>{@code
 * LoadResult r = new LoadGenerator(LoadSpec.closedLoop(address, 100, 64, 16,
 *         Duration.ofSeconds(3), Duration.ofSeconds(10))).run(LoadGenerator.PhaseListener.NONE);
 * }</pre>
 */
public final class LoadGenerator {
    /** Latencies above this (an hour) are recorded as this. */
    static final long HIGHEST_LATENCY_NANOS = TimeUnit.HOURS.toNanos(1);
    /** How long the echoes still owed after the measurement may take to arrive. */
    static final long DRAIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Connects in progress per generator thread, so a connect storm does not overflow listen backlogs. */
    static final int CONNECTS_IN_FLIGHT_PER_THREAD = 128;
    /** Connections per loopback source address before the next one is used. */
    static final int CONNECTIONS_PER_SOURCE_ADDRESS = 16_000;
    /**
     * Source addresses churn rotates over by default: one, left to the kernel. Binding a
     * source address explicitly makes the kernel pick the port at bind() without knowing the
     * destination, which gets very slow once tens of thousands of TIME_WAIT sockets exist
     * (measured here: ~300 connections/s instead of ~10,000), whereas the port chosen at
     * connect() may reuse a loopback TIME_WAIT port (net.ipv4.tcp_tw_reuse=2, the default).
     * The spare addresses are still tried when the kernel runs out of ports.
     */
    static final int CHURN_SOURCE_ADDRESSES = 1;
    /** Extra source addresses tried when connecting fails for want of a local port. */
    static final int SPARE_SOURCE_ADDRESSES = 8;
    static final int MAX_SOURCE_ADDRESSES = 250;
    private static final int MAX_ERROR_SAMPLES = 10;
    private static final int READ_BUFFER_SIZE = 64 * 1024;
    private static final int MAX_OUT_BUFFER = 64 * 1024;
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    private static final int CONNECTING = 0, RUNNING = 1, DRAINING = 2, CLOSING = 3;

    /** Called by the generator at the edges of the measured interval (compare samples the server there). */
    public interface PhaseListener {
        PhaseListener NONE = new PhaseListener() { };

        default void measurementStarted() {
        }

        /** Called while the connections are still open. */
        default void measurementEnded() {
        }
    }

    private final LoadSpec spec;
    private final PrintStream progressOut;
    private final InetAddress[] sources;
    private final int sourcesInRotation;
    private volatile int phase = CONNECTING;
    private volatile long runStartNanos;
    private final AtomicLong errors = new AtomicLong();
    private final AtomicInteger errorSamplesTaken = new AtomicInteger();
    private final ConcurrentLinkedQueue<String> errorSamples = new ConcurrentLinkedQueue<>();
    private final AtomicInteger sourceRotation = new AtomicInteger();
    /** The client side of every TLS connection; null without TLS. */
    private final SSLContext tlsContext;
    /** Protocol and cipher suite of the first TLS handshake, for the progress lines. */
    private volatile String tlsNegotiated;
    // -- reconnecting when the server closes cleanly (issue 12: zero-downtime restarts)
    private volatile boolean reconnectWhenClosed;
    private final AtomicLong reconnects = new AtomicLong();

    public LoadGenerator(LoadSpec spec) {
        this(spec, System.err);
    }

    LoadGenerator(LoadSpec spec, PrintStream progressOut) {
        this.spec = spec;
        this.progressOut = progressOut;
        this.sources = sourceAddresses(spec);
        this.sourcesInRotation = Math.min(sources.length, defaultSourceCount(spec));
        if (spec.tls()) {
            BenchTls.offerOnlyX25519();
        }
        try {
            this.tlsContext = spec.tls() ? BenchTls.clientContext() : null;
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("no TLS client context: " + e, e);
        }
    }

    /**
     * The loopback addresses to connect from. Entry 0 is null: let the kernel choose
     * (127.0.0.1 for a 127.0.0.1 target, with its TIME_WAIT reuse on loopback). The others
     * are 127.0.0.2, 127.0.0.3, ..., each with its own range of ephemeral ports.
     */
    private static InetAddress[] sourceAddresses(LoadSpec spec) {
        InetAddress target = spec.target().getAddress();
        // Other sources are only known to reach an IPv4 loopback target. Beyond the ones
        // used in rotation, keep a few spare addresses for when one runs out of ports.
        int total = target instanceof Inet4Address && target.isLoopbackAddress()
                ? Math.min(MAX_SOURCE_ADDRESSES, defaultSourceCount(spec) + SPARE_SOURCE_ADDRESSES) : 1;
        InetAddress[] addresses = new InetAddress[total];
        for (int i = 1; i < total; i++) {
            try {
                addresses[i] = InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) (i + 1)});
            } catch (UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }
        return addresses;
    }

    private static int defaultSourceCount(LoadSpec spec) {
        int count = spec.sourceAddresses();
        if (count <= 0) {
            count = spec.mode() == LoadSpec.Mode.CHURN ? CHURN_SOURCE_ADDRESSES
                    : (spec.connections() + CONNECTIONS_PER_SOURCE_ADDRESS - 1) / CONNECTIONS_PER_SOURCE_ADDRESS;
        }
        return Math.max(1, Math.min(count, MAX_SOURCE_ADDRESSES));
    }

    /**
     * Stream mode: when the server ends a connection cleanly (end of stream, as a server
     * that is restarting does after its last echo), open a new one and resend what was
     * not answered, from the first message not echoed in full. Churn mode: a cycle whose
     * connection ends cleanly before its echo starts again (its latency is the retry's). Counted in
     * {@link #reconnects()}, not as an error; a reset or a failed reconnect is still an
     * error. Call before {@link #run}.
     */
    public LoadGenerator reconnectWhenClosed(boolean on) {
        reconnectWhenClosed = on;
        return this;
    }

    /** Connections reopened after the server closed them cleanly ({@link #reconnectWhenClosed}). */
    public long reconnects() {
        return reconnects.get();
    }

    /** Runs the whole load and returns what was measured. */
    public LoadResult run(PhaseListener listener) throws InterruptedException {
        int threadCount = Math.min(spec.ioThreads(), spec.connections());
        IoThread[] threads = new IoThread[threadCount];
        for (int t = 0; t < threadCount; t++) {
            threads[t] = new IoThread(t, threadCount);
        }
        for (IoThread t : threads) {
            t.start();
        }
        Measured measured;
        try {
            measured = drive(threads, listener);
        } finally {
            phase = CLOSING;
            for (IoThread t : threads) {
                t.selector.wakeup();
            }
            for (IoThread t : threads) {
                t.join();
            }
        }
        return new LoadResult(spec, measured.messages, measured.seconds, measured.latency, errors.get(),
                List.copyOf(errorSamples), measured.connectionsUp, measured.cpuSeconds,
                spec.openLoop() && spec.mode() == LoadSpec.Mode.STREAM ? measured.sendLag : null);
    }

    /** What the measured interval saw. */
    private record Measured(long messages, double seconds, Histogram latency, int connectionsUp, double cpuSeconds,
                            Histogram sendLag) {
    }

    /** CPU time this whole process has used (every generator thread, GC and JIT included), in nanoseconds. */
    private static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    private Measured drive(IoThread[] threads, PhaseListener listener) throws InterruptedException {
        long second = TimeUnit.SECONDS.toNanos(1);
        if (spec.mode() == LoadSpec.Mode.STREAM) {
            long connectStart = System.nanoTime();
            long tick = connectStart + second;
            while (connectsFinished(threads) < spec.connections() && allAlive(threads)) {
                parkUntil(Math.min(tick, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(10)));
                if (System.nanoTime() >= tick) {
                    progress(String.format(Locale.ROOT, "connecting %.0fs: %d/%d up, errors %d",
                            (System.nanoTime() - connectStart) / 1e9, connectionsUp(threads), spec.connections(), errors.get()));
                    tick += second;
                }
            }
        }
        if (spec.mode() == LoadSpec.Mode.STREAM && connectionsUp(threads) == 0) {
            progress("no connection could be made; nothing to measure");
            return new Measured(0, 0, newHistogram(), 0, 0, newHistogram());
        }
        if (tlsNegotiated != null) {
            progress("TLS: " + tlsNegotiated);
        }
        long start = System.nanoTime();
        runStartNanos = start;
        setPhase(RUNNING, threads);

        long warmupEnd = start + spec.warmup().toNanos();
        long end = warmupEnd + spec.duration().toNanos();
        Histogram phaseLatency = newHistogram();
        Histogram phaseSendLag = newHistogram();
        long measureStart = 0;
        long cpuAtMeasureStart = 0;
        long messagesAtMeasureStart = 0;
        long lastMessages = 0;
        long lastTick = start;
        long tick = start + second;
        boolean measuring = spec.warmup().isZero();
        if (measuring) {
            listener.measurementStarted();
            measureStart = start;
            cpuAtMeasureStart = processCpuNanos();
        }
        while (true) {
            long now = System.nanoTime();
            long next = Math.min(tick, measuring ? end : warmupEnd);
            if (now < next) {
                parkUntil(next);
                continue;
            }
            collect(threads, phaseLatency, phaseSendLag);
            long messages = messagesDone(threads);
            if (now >= tick) {
                // Report the second that just ended before any phase change resets the figures.
                double rate = (messages - lastMessages) / ((now - lastTick) / 1e9);
                String stage = measuring
                        ? String.format(Locale.ROOT, "measure %.0f/%.0fs", (now - measureStart) / 1e9, spec.duration().toMillis() / 1e3)
                        : String.format(Locale.ROOT, "warmup %.0f/%.0fs", (now - start) / 1e9, spec.warmup().toMillis() / 1e3);
                progress(String.format(Locale.ROOT, "%s: %,.0f msgs/s, p99 %s, %d connections up, errors %d",
                        stage, rate, micros(phaseLatency.getValueAtPercentile(99)), connectionsUp(threads), errors.get()));
                lastMessages = messages;
                lastTick = now;
                tick += second;
            }
            if (!measuring && now >= warmupEnd) {
                measuring = true;
                phaseLatency.reset();
                phaseSendLag.reset();
                messagesAtMeasureStart = messages;
                measureStart = now;
                cpuAtMeasureStart = processCpuNanos();
                listener.measurementStarted();
            } else if (measuring && now >= end) {
                long messageCount = messages - messagesAtMeasureStart;
                double seconds = (now - measureStart) / 1e9;
                int up = connectionsUp(threads);
                long cpuNow = processCpuNanos();
                double cpuSeconds = cpuNow < 0 || cpuAtMeasureStart < 0 ? -1 : (cpuNow - cpuAtMeasureStart) / 1e9;
                listener.measurementEnded();
                progress(String.format(Locale.ROOT, "done: %,.0f msgs/s, p99 %s, %d connections up, errors %d",
                        messageCount / seconds, micros(phaseLatency.getValueAtPercentile(99)), up, errors.get()));
                drain(threads);
                return new Measured(messageCount, seconds, phaseLatency, up, cpuSeconds, phaseSendLag);
            }
        }
    }

    /** Stop sending, let the echoes still owed arrive, and close; count what never came back. */
    private void drain(IoThread[] threads) {
        setPhase(DRAINING, threads);
        long deadline = System.nanoTime() + DRAIN_TIMEOUT_NANOS;
        while (System.nanoTime() < deadline) {
            boolean all = true;
            for (IoThread t : threads) {
                all &= t.drained;
            }
            if (all) {
                return;
            }
            parkUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(5));
        }
        // The threads count each connection still owed bytes when they see CLOSING.
    }

    private void setPhase(int newPhase, IoThread[] threads) {
        phase = newPhase;
        for (IoThread t : threads) {
            t.selector.wakeup();
        }
    }

    private static void parkUntil(long deadlineNanos) {
        long wait = deadlineNanos - System.nanoTime();
        if (wait > 0) {
            LockSupport.parkNanos(wait);
        }
    }

    private void collect(IoThread[] threads, Histogram latency, Histogram sendLag) {
        for (IoThread t : threads) {
            t.intervalHistogram = t.recorder.getIntervalHistogram(t.intervalHistogram);
            latency.add(t.intervalHistogram);
            t.intervalSendLag = t.sendLagRecorder.getIntervalHistogram(t.intervalSendLag);
            sendLag.add(t.intervalSendLag);
        }
    }

    private static boolean allAlive(IoThread[] threads) {
        for (IoThread t : threads) {
            if (!t.isAlive()) {
                return false;
            }
        }
        return true;
    }

    private static long connectsFinished(IoThread[] threads) {
        long n = 0;
        for (IoThread t : threads) {
            n += t.connectsFinished;
        }
        return n;
    }

    private static int connectionsUp(IoThread[] threads) {
        int n = 0;
        for (IoThread t : threads) {
            n += t.connectionsUp;
        }
        return n;
    }

    private static long messagesDone(IoThread[] threads) {
        long n = 0;
        for (IoThread t : threads) {
            n += t.messagesDone;
        }
        return n;
    }

    private void progress(String line) {
        if (spec.progress()) {
            progressOut.println("load: " + line);
        }
    }

    static String micros(long nanos) {
        return String.format(Locale.ROOT, "%.1fus", nanos / 1000.0);
    }

    static Histogram newHistogram() {
        return new Histogram(1, HIGHEST_LATENCY_NANOS, 3);
    }

    void error(String description) {
        errors.incrementAndGet();
        if (errorSamplesTaken.getAndIncrement() < MAX_ERROR_SAMPLES) {
            errorSamples.add(description);
            if (spec.progress()) {
                progressOut.println("load: error: " + description);
            }
        }
    }

    private static boolean isAddressExhaustion(IOException e) {
        String message = String.valueOf(e.getMessage());
        return e instanceof java.net.BindException || message.contains("Cannot assign requested address")
                || message.contains("Address already in use");
    }

    // ------------------------------------------------------------------ per connection

    /** One connection's state; owned by one generator thread. */
    private static final class Conn {
        final int id;
        final long seed;
        final boolean active;
        final int slot; // open loop: index among this thread's active connections
        SocketChannel channel;
        SelectionKey key;
        TlsClientSession tls; // null without TLS
        boolean connected; // and, with TLS, the handshake done
        boolean closed;
        long connectStartNanos;

        long filledBytes;   // generated into out so far
        long sentBytes;     // written to the socket
        long receivedBytes; // echoed back and checked
        long messagesReceived;
        long messagesAllowed; // open loop: due by the schedule
        boolean currentMessageCorrupt;
        boolean reconnecting;
        /** After a reconnect: bytes below this were sent before, and their messages keep their first send time. */
        long resentUntil;
        ByteBuffer out;
        long[] sendTimes;

        Conn(int id, long seed, boolean active, int slot) {
            this.id = id;
            this.seed = seed;
            this.active = active;
            this.slot = slot;
        }

        boolean owesEcho() {
            return receivedBytes < filledBytes;
        }

        /** Bytes generated but not written, or (TLS) records wrapped but not written. */
        boolean hasPendingOutput() {
            return (out != null && out.hasRemaining()) || (tls != null && tls.wantsWrite());
        }
    }

    /** One selector and the connections it drives. */
    private final class IoThread extends Thread {
        final Selector selector;
        final List<Conn> conns = new ArrayList<>();
        final Conn[] slots; // the active connections, in open-loop schedule order (churn: one per concurrent cycle)
        Conn[] churnConns; // churn: the cycle each slot is in now
        // TLS: plaintext is unwrapped into a heap buffer (the JDK's ciphers work on arrays).
        final ByteBuffer readBuffer = spec.tls() ? ByteBuffer.allocate(READ_BUFFER_SIZE) : ByteBuffer.allocateDirect(READ_BUFFER_SIZE);
        final SingleWriterRecorder recorder = new SingleWriterRecorder(1, HIGHEST_LATENCY_NANOS, 3);
        Histogram intervalHistogram; // owned by the driving thread, recycled between intervals
        /** Open loop: how late each message left after its intended time (the generator's own lag). */
        final SingleWriterRecorder sendLagRecorder = new SingleWriterRecorder(1, HIGHEST_LATENCY_NANOS, 3);
        Histogram intervalSendLag;

        volatile long connectsFinished;
        volatile int connectionsUp;
        volatile long messagesDone;
        volatile boolean drained;

        int nextToConnect;
        int connectsInFlight;
        int reconnectsInFlight;
        long churnGeneration;
        OpenLoopSchedule schedule;
        long nextEvent;
        long nextHousekeeping;

        IoThread(int index, int threadCount) {
            super("load-" + index);
            setDaemon(true);
            try {
                selector = Selector.open();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            int slot = 0;
            for (int id = index; id < spec.connections(); id += threadCount) {
                boolean active = id < spec.activeConnections();
                conns.add(new Conn(id, seedFor(id, 0), active, active ? slot++ : -1));
            }
            slots = new Conn[slot];
            for (Conn c : conns) {
                if (c.active) {
                    slots[c.slot] = c;
                }
            }
        }

        long seedFor(int id, long generation) {
            return ByteStream.word(spec.seed(), ((long) id << 32) ^ generation);
        }

        @Override
        public void run() {
            try {
                loop();
            } catch (Throwable t) {
                error("generator thread " + getName() + " failed: " + t);
            } finally {
                for (Conn c : conns) {
                    if (!c.closed && c.channel != null) {
                        if (spec.mode() == LoadSpec.Mode.STREAM && (c.owesEcho() || !c.connected)) {
                            error("connection " + c.id + " still owed " + (c.filledBytes - c.receivedBytes)
                                    + " echoed bytes when the run ended");
                        }
                        close(c);
                    }
                }
                if (churnConns != null) {
                    for (Conn c : churnConns) {
                        if (c != null && !c.closed) {
                            close(c);
                        }
                    }
                }
                try {
                    selector.close();
                } catch (IOException ignored) {
                    // closing at the end; nothing to add
                }
                drained = true;
            }
        }

        private void loop() throws IOException {
            int seen = -1;
            while (true) {
                int current = phase;
                if (current != seen) {
                    seen = current;
                    if (current == CLOSING) {
                        return;
                    }
                    enterPhase(current);
                }
                long now = System.nanoTime();
                if (current == CONNECTING && spec.mode() == LoadSpec.Mode.STREAM) {
                    startConnects(now);
                }
                if (schedule != null && current == RUNNING) {
                    advanceSchedule(now);
                }
                if (now >= nextHousekeeping) {
                    expireConnects(now);
                    nextHousekeeping = now + TimeUnit.MILLISECONDS.toNanos(100);
                }
                waitForIo(current, now);
                if (current == DRAINING && !drained) {
                    drained = allQuiet();
                }
            }
        }

        private void enterPhase(int newPhase) {
            long now = System.nanoTime();
            if (newPhase == RUNNING) {
                if (spec.mode() == LoadSpec.Mode.CHURN) {
                    churnConns = new Conn[slots.length == 0 ? conns.size() : slots.length];
                    for (int s = 0; s < churnConns.length; s++) {
                        startChurnCycle(s, now);
                    }
                    return;
                }
                if (spec.openLoop()) {
                    if (slots.length > 0) {
                        double share = (double) slots.length / spec.activeConnections();
                        schedule = new OpenLoopSchedule(runStartNanos, spec.rate() * share, slots.length);
                    }
                } else {
                    for (Conn c : slots) {
                        pump(c, now);
                    }
                }
            } else if (newPhase == DRAINING) {
                drained = allQuiet();
            }
        }

        private boolean allQuiet() {
            if (spec.mode() == LoadSpec.Mode.CHURN) {
                for (Conn c : churnConns) {
                    if (c != null && !c.closed) {
                        return false;
                    }
                }
                return true;
            }
            for (Conn c : conns) {
                if (!c.closed) {
                    if (c.connected && !c.owesEcho() && !c.hasPendingOutput()) {
                        close(c); // everything sent came back: close in order
                    } else {
                        return false;
                    }
                }
            }
            return true;
        }

        private void waitForIo(int current, long now) throws IOException {
            if (schedule == null || current != RUNNING) {
                selector.select(this::onReady, 100);
                return;
            }
            long wait = schedule.eventTime(nextEvent) - now;
            if (wait <= 0) {
                selector.selectNow(this::onReady);
            } else if (wait >= TimeUnit.MILLISECONDS.toNanos(2)) {
                // Wake a millisecond early: select's timeout is coarse, the short wait below is not.
                selector.select(this::onReady, wait / 1_000_000 - 1);
            } else if (selector.selectNow(this::onReady) == 0) {
                // Under 2 ms to the next send: sleep in short steps rather than a whole
                // millisecond, so sends leave near their intended time without spinning a CPU.
                LockSupport.parkNanos(Math.min(wait, TimeUnit.MICROSECONDS.toNanos(50)));
            }
        }

        // ---------------------------------------------------------------- connecting

        private void startConnects(long now) {
            while (connectsInFlight < CONNECTS_IN_FLIGHT_PER_THREAD && nextToConnect < conns.size()) {
                Conn c = conns.get(nextToConnect++);
                connectsInFlight++;
                if (!connect(c, c.id, now)) {
                    connectsInFlight--;
                    connectsFinished++;
                }
            }
        }

        /** Starts a non-blocking connect; false (with the error counted) if it failed at once. */
        private boolean connect(Conn c, long sourceHint, long now) {
            c.connectStartNanos = now;
            IOException last = null;
            int first = (int) Math.floorMod(sourceHint, (long) sourcesInRotation);
            for (int attempt = 0; attempt < sources.length; attempt++) {
                InetAddress source = sources[(first + attempt) % sources.length];
                SocketChannel channel = null;
                try {
                    channel = SocketChannel.open();
                    channel.configureBlocking(false);
                    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    if (source != null) {
                        // Ports held by this address's own TIME_WAIT sockets may be taken again.
                        channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                        channel.bind(new InetSocketAddress(source, 0));
                    }
                    c.channel = channel;
                    boolean done = channel.connect(spec.target());
                    c.key = channel.register(selector, done ? SelectionKey.OP_READ : SelectionKey.OP_CONNECT, c);
                    if (done) {
                        transportConnected(c, now);
                    }
                    return true;
                } catch (IOException e) {
                    last = e;
                    closeQuietly(channel);
                    c.channel = null;
                    if (!isAddressExhaustion(e)) {
                        break;
                    }
                }
            }
            c.closed = true;
            error("connect " + c.id + " to " + spec.target() + " failed: " + last);
            return false;
        }

        private void finishConnect(Conn c) {
            try {
                if (!c.channel.finishConnect()) {
                    return;
                }
            } catch (IOException e) {
                error("connect " + c.id + " to " + spec.target() + " failed: " + e);
                close(c);
                connectFailed(c);
                return;
            }
            c.key.interestOps(SelectionKey.OP_READ);
            transportConnected(c, System.nanoTime());
        }

        /** TCP is up: connected, or with TLS, the handshake starts (it counts as part of connecting). */
        private void transportConnected(Conn c, long now) {
            if (tlsContext == null) {
                connected(c, now);
                return;
            }
            try {
                c.tls = new TlsClientSession(tlsContext);
            } catch (IOException e) {
                handshakeFailed(c, e);
                return;
            }
            handshake(c);
        }

        private void handshake(Conn c) {
            boolean done;
            try {
                done = c.tls.handshake(c.channel, readBuffer);
            } catch (IOException | RuntimeException e) {
                handshakeFailed(c, e);
                return;
            }
            if (!done) {
                c.key.interestOps(SelectionKey.OP_READ | (c.tls.wantsWrite() ? SelectionKey.OP_WRITE : 0));
                return;
            }
            c.key.interestOps(SelectionKey.OP_READ);
            if (tlsNegotiated == null) {
                tlsNegotiated = c.tls.negotiated();
            }
            connected(c, System.nanoTime());
        }

        private void handshakeFailed(Conn c, Exception e) {
            error("TLS handshake " + c.id + " with " + spec.target() + " failed: " + e);
            close(c);
            connectFailed(c);
        }

        private void connected(Conn c, long now) {
            c.connected = true;
            connectionsUp++;
            if (c.reconnecting) {
                c.reconnecting = false;
                reconnectsInFlight--;
                pump(c, now);
                return;
            }
            if (spec.mode() == LoadSpec.Mode.CHURN) {
                pump(c, now);
                return;
            }
            connectsInFlight--;
            connectsFinished++;
            if (phase == RUNNING && c.active && schedule == null) {
                pump(c, now); // connected after the start (a slow connect): join the closed loop now
            }
        }

        private void connectFailed(Conn c) {
            if (c.reconnecting) {
                c.reconnecting = false;
                reconnectsInFlight--;
                return;
            }
            if (spec.mode() == LoadSpec.Mode.CHURN) {
                restartChurnSlot(c);
                return;
            }
            connectsInFlight--;
            connectsFinished++;
        }

        private void expireConnects(long now) {
            long timeout = spec.connectTimeout().toNanos();
            if (spec.mode() == LoadSpec.Mode.CHURN) {
                if (churnConns != null) {
                    for (Conn c : churnConns) {
                        if (c != null && !c.closed && !c.connected && now - c.connectStartNanos > timeout) {
                            error("connect " + c.id + " timed out after " + spec.connectTimeout().toMillis() + " ms");
                            close(c);
                            restartChurnSlot(c);
                        }
                    }
                }
                return;
            }
            if (connectsInFlight == 0 && reconnectsInFlight == 0) {
                return;
            }
            for (int i = 0; i < nextToConnect; i++) {
                Conn c = conns.get(i);
                if (!c.closed && !c.connected && now - c.connectStartNanos > timeout) {
                    error("connect " + c.id + " timed out after " + spec.connectTimeout().toMillis() + " ms");
                    close(c);
                    connectFailed(c);
                }
            }
        }

        // ---------------------------------------------------------------- churn

        private void startChurnCycle(int slot, long now) {
            long generation = churnGeneration++;
            Conn c = new Conn(slot, seedFor(slot, generation), true, slot);
            churnConns[slot] = c;
            int hint = sourceRotation.getAndIncrement();
            if (!connect(c, hint, now)) {
                restartChurnSlot(c);
            }
        }

        private void restartChurnSlot(Conn finished) {
            if (phase == RUNNING) {
                startChurnCycle(finished.slot, System.nanoTime());
            }
        }

        // ---------------------------------------------------------------- I/O

        private void onReady(SelectionKey key) {
            Conn c = (Conn) key.attachment();
            if (c.closed || !key.isValid()) {
                return;
            }
            int ready = key.readyOps();
            if ((ready & SelectionKey.OP_CONNECT) != 0) {
                finishConnect(c);
                return;
            }
            if (c.tls != null && !c.tls.handshakeDone()) {
                handshake(c);
                return;
            }
            long now = System.nanoTime();
            if ((ready & SelectionKey.OP_WRITE) != 0) {
                pump(c, now);
            }
            if ((ready & SelectionKey.OP_READ) != 0 && !c.closed) {
                read(c);
            }
        }

        /** Generates and writes whatever this connection may send now. */
        private void pump(Conn c, long now) {
            if (c.closed || !c.connected) {
                return;
            }
            int size = spec.messageSize();
            long allowedMessages;
            if (spec.mode() == LoadSpec.Mode.CHURN) {
                allowedMessages = 1;
            } else if (phase != RUNNING || !c.active) {
                allowedMessages = c.filledBytes / size + (c.filledBytes % size == 0 ? 0 : 1); // finish what was begun
            } else if (schedule != null) {
                allowedMessages = Math.min(c.messagesAllowed, c.messagesReceived + spec.maxInFlight());
            } else {
                allowedMessages = c.messagesReceived + spec.pipeline();
            }
            long allowedBytes = allowedMessages * size;
            try {
                while (true) {
                    if (c.hasPendingOutput()) {
                        c.sentBytes += c.tls == null ? c.channel.write(c.out)
                                : c.tls.write(c.channel, c.out != null ? c.out : EMPTY);
                        if (c.hasPendingOutput()) {
                            setWriteInterest(c, true);
                            return;
                        }
                    }
                    if (c.filledBytes >= allowedBytes) {
                        setWriteInterest(c, false);
                        return;
                    }
                    fill(c, allowedBytes, now);
                }
            } catch (IOException e) {
                connectionFailed(c, "write failed: " + e);
            }
        }

        private void fill(Conn c, long allowedBytes, long now) {
            int size = spec.messageSize();
            if (c.out == null) {
                long perConnection = spec.openLoop() ? (long) size * Math.min(spec.maxInFlight(), 16) : (long) size * spec.pipeline();
                int capacity = (int) Math.max(1, Math.min(MAX_OUT_BUFFER, perConnection));
                c.out = c.tls != null ? ByteBuffer.allocate(capacity) : ByteBuffer.allocateDirect(capacity);
                c.out.limit(0);
                if (schedule == null && spec.mode() == LoadSpec.Mode.STREAM) {
                    c.sendTimes = new long[spec.pipeline()];
                }
            }
            int length = (int) Math.min(c.out.capacity(), allowedBytes - c.filledBytes);
            if (c.sendTimes != null) {
                // A message's clock starts when its first byte is generated, just before the write
                // (a message resent after a reconnect keeps its first clock).
                long first = (Math.max(c.filledBytes, c.resentUntil) + size - 1) / size;
                long last = (c.filledBytes + length - 1) / size;
                for (long m = first; m <= last; m++) {
                    c.sendTimes[(int) (m % spec.pipeline())] = now;
                }
            }
            if (schedule != null && phase == RUNNING && c.active) {
                // Each message that starts in this fill: how late it leaves after its intended time.
                long first = (Math.max(c.filledBytes, c.resentUntil) + size - 1) / size;
                long last = (c.filledBytes + length - 1) / size;
                for (long m = first; m <= last; m++) {
                    sendLagRecorder.recordValue(Math.max(0, Math.min(now - schedule.intendedTime(c.slot, m),
                            HIGHEST_LATENCY_NANOS)));
                }
            }
            c.out.clear();
            ByteStream.fill(c.seed, c.filledBytes, c.out, length);
            c.out.flip();
            c.filledBytes += length;
        }

        private void setWriteInterest(Conn c, boolean on) {
            int ops = SelectionKey.OP_READ | (on ? SelectionKey.OP_WRITE : 0);
            if (c.key.interestOps() != ops) {
                c.key.interestOps(ops);
            }
        }

        private void read(Conn c) {
            ByteBuffer buffer = readBuffer;
            // TLS: no cap on reads: records already read from the socket into the session
            // would not make the socket readable again.
            int maxReads = c.tls == null ? 16 : Integer.MAX_VALUE;
            for (int reads = 0; reads < maxReads && !c.closed; reads++) {
                buffer.clear();
                int n;
                try {
                    n = c.tls == null ? c.channel.read(buffer) : c.tls.read(c.channel, buffer);
                } catch (IOException e) {
                    connectionFailed(c, "read failed: " + e);
                    return;
                }
                if (n < 0) {
                    if (reconnectWhenClosed && spec.mode() == LoadSpec.Mode.STREAM
                            && (phase == RUNNING || c.owesEcho())) {
                        reconnect(c);
                    } else if (reconnectWhenClosed && spec.mode() == LoadSpec.Mode.CHURN) {
                        // Closed cleanly before the echo: the cycle starts again on a new connection.
                        reconnects.incrementAndGet();
                        close(c);
                        restartChurnSlot(c);
                    } else {
                        connectionFailed(c, "closed by the server");
                    }
                    return;
                }
                if (n == 0) {
                    break;
                }
                buffer.flip();
                if (!checkEcho(c, buffer)) {
                    return;
                }
                if (c.tls == null && n < buffer.capacity()) {
                    break;
                }
            }
            pump(c, System.nanoTime());
        }

        /** Compares echoed bytes with what was sent; false if the connection is closed now. */
        private boolean checkEcho(Conn c, ByteBuffer buffer) {
            long now = System.nanoTime();
            int size = spec.messageSize();
            int n = buffer.remaining();
            if (c.receivedBytes + n > c.sentBytes) {
                connectionFailed(c, "server sent " + (c.receivedBytes + n - c.sentBytes) + " bytes more than it was sent");
                return false;
            }
            while (buffer.hasRemaining()) {
                int intoMessage = (int) (c.receivedBytes % size);
                int segment = Math.min(buffer.remaining(), size - intoMessage);
                if (ByteStream.countMismatches(c.seed, c.receivedBytes, buffer, segment) != 0) {
                    c.currentMessageCorrupt = true;
                }
                c.receivedBytes += segment;
                if (c.receivedBytes % size == 0) {
                    messageEchoed(c, now);
                    if (c.closed) {
                        return false;
                    }
                }
            }
            return true;
        }

        private void messageEchoed(Conn c, long now) {
            long message = c.messagesReceived++;
            long started;
            if (spec.mode() == LoadSpec.Mode.CHURN) {
                started = c.connectStartNanos;
            } else if (schedule != null) {
                started = schedule.intendedTime(c.slot, message);
            } else {
                started = c.sendTimes[(int) (message % spec.pipeline())];
            }
            recorder.recordValue(Math.max(0, Math.min(now - started, HIGHEST_LATENCY_NANOS)));
            messagesDone++;
            if (c.currentMessageCorrupt) {
                c.currentMessageCorrupt = false;
                error("connection " + c.id + ": message " + message + " came back corrupted");
            }
            if (spec.mode() == LoadSpec.Mode.CHURN) {
                close(c);
                restartChurnSlot(c);
            }
        }

        private void advanceSchedule(long now) {
            long due = schedule.eventsDue(now);
            if (due <= nextEvent) {
                return;
            }
            if (due - nextEvent >= schedule.slots()) {
                for (Conn c : slots) {
                    c.messagesAllowed = schedule.messagesDue(c.slot, now);
                    pump(c, now);
                }
            } else {
                for (long e = nextEvent; e < due; e++) {
                    Conn c = slots[schedule.slotOf(e)];
                    c.messagesAllowed = schedule.messageOf(e) + 1;
                    pump(c, now);
                }
            }
            nextEvent = due;
        }

        private void connectionFailed(Conn c, String why) {
            boolean expected = spec.mode() == LoadSpec.Mode.CHURN ? false : (phase >= DRAINING && !c.owesEcho());
            if (!expected) {
                error("connection " + c.id + " (" + c.receivedBytes + " bytes echoed): " + why);
            }
            close(c);
            if (spec.mode() == LoadSpec.Mode.CHURN) {
                restartChurnSlot(c);
            }
        }

        /**
         * The server closed cleanly: reopen and resend from the first message it did not
         * echo in full. The byte stream is a function of the offset, so the same bytes go again.
         */
        private void reconnect(Conn c) {
            if (c.connected) {
                connectionsUp--;
            }
            c.connected = false;
            if (c.key != null) {
                c.key.cancel();
            }
            closeQuietly(c.channel);
            c.channel = null;
            c.key = null;
            long size = spec.messageSize();
            c.resentUntil = Math.max(c.resentUntil, c.filledBytes);
            c.receivedBytes = c.messagesReceived * size;
            c.sentBytes = c.receivedBytes;
            c.filledBytes = c.receivedBytes;
            c.currentMessageCorrupt = false;
            if (c.out != null) {
                c.out.limit(0);
            }
            c.reconnecting = true;
            reconnectsInFlight++;
            reconnects.incrementAndGet();
            if (!connect(c, c.id, System.nanoTime())) {
                c.reconnecting = false;
                reconnectsInFlight--;
            }
        }

        private void close(Conn c) {
            if (c.closed) {
                return;
            }
            c.closed = true;
            if (c.connected) {
                connectionsUp--;
            }
            if (c.key != null) {
                c.key.cancel();
            }
            if (c.tls != null && c.channel != null && c.channel.isOpen()) {
                c.tls.closeOutbound(c.channel); // close_notify, as a well-behaved client ends
            }
            closeQuietly(c.channel);
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing to do about a failed close
            }
        }
    }
}
