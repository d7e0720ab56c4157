package io.selectloop.bench.jmh;

import io.selectloop.Connection;
import io.selectloop.EventLoop;
import io.selectloop.FrameHandler;
import io.selectloop.Framing;
import io.selectloop.Handler;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Decode rate of the framings, in frames per second: 64-byte payloads handed to
 * {@code framing.handler(frames).onData(connection, read)} the way the loop hands them
 * over, with no socket in between. One decoder per benchmark serves the whole run, like
 * one connection receiving an endless stream.
 *
 * <p>Each benchmark's stream is a whole number of frames and of reads, so it can be fed
 * again and again. It is written once, before the measurement, into one direct buffer (at
 * least 64 KiB, the size of the loop's read buffer), and each read is a view of the next
 * {@code readSize} bytes of it, at most 64 KiB: no copy per read, unlike a socket read.
 * The frame boundaries fall:
 * <ul>
 *   <li>{@code *WholeFrames}: one read of as many whole frames as fit in 64 KiB, so no
 *       frame is ever split (the zero-copy path only);</li>
 *   <li>{@code *Split64KiB}: full 64 KiB reads, which 68-byte frames do not divide, so
 *       16 reads in 17 end inside a frame and the decoder holds its start (the
 *       accumulation path) until the next read: once per ~1000 frames;</li>
 *   <li>{@code *Split1448}: 1448-byte reads (one TCP segment's payload with timestamps),
 *       so a split frame about every 23 frames.</li>
 * </ul>
 * The 68-byte length-prefixed frames and all the read sizes are multiples of 4, so a read
 * never ends inside a 4-byte header (the split-header path is not measured); 65-byte lines
 * end at every offset, including between a line and its {@code \n}.
 *
 * <p>The frame handler counts frames and their bytes and hands each frame's first byte to
 * the {@link Blackhole}; after every iteration both counts are checked against what was
 * fed, so a benchmark that stopped decoding, or decoded wrong lengths, fails instead of
 * reporting a rate. It is kept out of line ({@code DONT_INLINE}), as a real application's
 * handler would be: inlined, C2 sometimes (not always: it depends on compilation order,
 * differently in each JVM) also inlines {@code DirectByteBuffer.slice} and scalar-replaces
 * the frame view, and then a run measures 3x more frames/s than the next one does.
 *
 * <p>Run: {@code java -jar bench/target/bench.jar jmh FramingDecode} (see bench/README.md).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Thread)
@Fork(2)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class FramingDecode {
    /** The loop's read buffer size ({@code EventLoop.READ_BUFFER_SIZE}, package-private in core). */
    static final int READ_BUFFER_SIZE = 64 * 1024;
    static final int PAYLOAD = 64;
    /** One TCP segment's payload on a 1500-byte MTU with TCP timestamps. */
    static final int SEGMENT = 1448;

    static final int LENGTH_PREFIXED_FRAME = 4 + PAYLOAD;
    static final int LINE_FRAME = PAYLOAD + 1;

    /** 963 frames, 65,484 bytes. */
    static final int LENGTH_PREFIXED_WHOLE = READ_BUFFER_SIZE / LENGTH_PREFIXED_FRAME;
    /** lcm(65536, 68) / 68: 16,384 frames in 17 full reads. */
    static final int LENGTH_PREFIXED_SPLIT_64KIB = 16_384;
    /** lcm(1448, 68) / 68: 362 frames in 17 reads of 1448 bytes. */
    static final int LENGTH_PREFIXED_SPLIT_1448 = 362;
    /** 1008 lines, 65,520 bytes. */
    static final int LINES_WHOLE = READ_BUFFER_SIZE / LINE_FRAME;
    /** lcm(1448, 65) / 65: 1448 lines in 65 reads of 1448 bytes. */
    static final int LINES_SPLIT_1448 = 1448;

    EventLoop loop;
    DiscardingConnection connection;
    Feed lengthPrefixedWhole;
    Feed lengthPrefixedSplit64KiB;
    Feed lengthPrefixedSplit1448;
    Feed linesWhole;
    Feed linesSplit1448;

    @Setup(Level.Trial)
    public void setUp() {
        loop = EventLoop.open(); // on this thread, which thereby counts as the loop's thread
        connection = new DiscardingConnection(loop);
        Framing lengthPrefixed = Framing.lengthPrefixed(4, 1 << 20);
        Framing lines = Framing.lines(1 << 20);
        lengthPrefixedWhole = new Feed(lengthPrefixed, false, LENGTH_PREFIXED_WHOLE,
                LENGTH_PREFIXED_WHOLE * LENGTH_PREFIXED_FRAME, connection);
        lengthPrefixedSplit64KiB = new Feed(lengthPrefixed, false, LENGTH_PREFIXED_SPLIT_64KIB, READ_BUFFER_SIZE,
                connection);
        lengthPrefixedSplit1448 = new Feed(lengthPrefixed, false, LENGTH_PREFIXED_SPLIT_1448, SEGMENT, connection);
        linesWhole = new Feed(lines, true, LINES_WHOLE, LINES_WHOLE * LINE_FRAME, connection);
        linesSplit1448 = new Feed(lines, true, LINES_SPLIT_1448, SEGMENT, connection);
    }

    @Setup(Level.Iteration)
    public void checkThread() {
        if (!loop.inEventLoop()) {
            throw new IllegalStateException("the benchmark moved to another thread than the one that opened its loop");
        }
    }

    @TearDown(Level.Iteration)
    public void checkCounts() {
        for (Feed feed : feeds()) {
            feed.checkCount();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Feed feed : feeds()) {
            feed.decoder.onClose(connection, null); // gives a held accumulation buffer back
        }
        loop.close();
    }

    Feed[] feeds() {
        return new Feed[] {lengthPrefixedWhole, lengthPrefixedSplit64KiB, lengthPrefixedSplit1448, linesWhole,
                linesSplit1448};
    }

    /** {@code Framing.lengthPrefixed(4, ...)}: one 64 KiB read of 963 whole frames. */
    @Benchmark
    @OperationsPerInvocation(LENGTH_PREFIXED_WHOLE)
    public void lengthPrefixedWholeFrames(Blackhole bh) throws Exception {
        lengthPrefixedWhole.feedAll(bh);
    }

    /** {@code Framing.lengthPrefixed(4, ...)}: 17 full 64 KiB reads, 16 of them ending inside a frame. */
    @Benchmark
    @OperationsPerInvocation(LENGTH_PREFIXED_SPLIT_64KIB)
    public void lengthPrefixedSplit64KiB(Blackhole bh) throws Exception {
        lengthPrefixedSplit64KiB.feedAll(bh);
    }

    /** {@code Framing.lengthPrefixed(4, ...)}: 17 reads of 1448 bytes, 16 of them ending inside a frame. */
    @Benchmark
    @OperationsPerInvocation(LENGTH_PREFIXED_SPLIT_1448)
    public void lengthPrefixedSplit1448(Blackhole bh) throws Exception {
        lengthPrefixedSplit1448.feedAll(bh);
    }

    /** {@code Framing.lines(...)}: one 64 KiB read of 1008 whole 64-byte lines. */
    @Benchmark
    @OperationsPerInvocation(LINES_WHOLE)
    public void linesWholeFrames(Blackhole bh) throws Exception {
        linesWhole.feedAll(bh);
    }

    /** {@code Framing.lines(...)}: 65 reads of 1448 bytes, 64 of them ending inside a line. */
    @Benchmark
    @OperationsPerInvocation(LINES_SPLIT_1448)
    public void linesSplit1448(Blackhole bh) throws Exception {
        linesSplit1448.feedAll(bh);
    }

    /**
     * One decoder fed a fixed stream: {@code frames} frames of {@link #PAYLOAD} bytes cut
     * into reads of {@code readSize} bytes, consecutive views of one direct buffer.
     */
    static final class Feed implements FrameHandler {
        final Handler decoder;
        final int frames;
        final ByteBuffer[] reads;
        private final int[] readLengths;
        private final Connection connection;
        private Blackhole bh;
        /** Frames and payload bytes delivered, and complete passes over the stream: checked against each other. */
        long delivered;
        long deliveredBytes;
        long passes;

        Feed(Framing framing, boolean line, int frames, int readSize, Connection connection) {
            this.frames = frames;
            this.connection = connection;
            byte[] stream = encodeStream(framing, line, frames);
            if (stream.length % readSize != 0 || readSize > READ_BUFFER_SIZE) {
                throw new IllegalArgumentException(frames + " frames (" + stream.length
                        + " bytes) are not a whole number of reads of " + readSize);
            }
            ByteBuffer memory = ByteBuffer.allocateDirect(Math.max(stream.length, READ_BUFFER_SIZE));
            memory.put(stream);
            int count = stream.length / readSize;
            reads = new ByteBuffer[count];
            readLengths = new int[count];
            for (int i = 0; i < count; i++) {
                reads[i] = memory.slice(i * readSize, readSize);
                readLengths[i] = readSize;
            }
            decoder = framing.handler(this);
            try {
                decoder.onOpen(connection);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        /** The whole stream, once, in its reads. */
        void feedAll(Blackhole blackhole) throws Exception {
            bh = blackhole;
            ByteBuffer[] rs = reads;
            for (int i = 0; i < rs.length; i++) {
                ByteBuffer read = rs[i];
                read.limit(readLengths[i]).position(0);
                decoder.onData(connection, read);
                if (read.hasRemaining()) {
                    throw new IllegalStateException("the decoder left " + read.remaining() + " bytes of a read");
                }
            }
            passes++;
        }

        /** Not inlined into the decoder, like a real application's handler: see the class comment. */
        @Override
        @CompilerControl(CompilerControl.Mode.DONT_INLINE)
        public void onFrame(Connection c, ByteBuffer frame) {
            delivered++;
            deliveredBytes += frame.remaining();
            bh.consume(frame.get(0));
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            if (cause != null) {
                throw new IllegalStateException("the decoder closed", cause);
            }
        }

        void checkCount() {
            if (delivered != passes * frames || deliveredBytes != delivered * PAYLOAD) {
                throw new IllegalStateException(delivered + " frames (" + deliveredBytes + " bytes) delivered in "
                        + passes + " passes of " + frames + " frames of " + PAYLOAD + " bytes");
            }
        }

        /** {@code frames} encoded payloads of random bytes (random letters for lines). */
        private static byte[] encodeStream(Framing framing, boolean line, int frames) {
            Random random = new Random(42);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] payload = new byte[PAYLOAD];
            for (int f = 0; f < frames; f++) {
                for (int i = 0; i < PAYLOAD; i++) {
                    payload[i] = line ? (byte) ('a' + random.nextInt(26)) : (byte) random.nextInt(256);
                }
                ByteBuffer encoded = framing.encode(ByteBuffer.wrap(payload));
                out.write(encoded.array(), encoded.arrayOffset() + encoded.position(), encoded.remaining());
            }
            return out.toByteArray();
        }
    }
}
