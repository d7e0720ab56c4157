package io.selectloop.bench.jmh;

import io.selectloop.EventLoop;
import io.selectloop.Framing;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Encode rate of the framings, in frames per second (one frame per operation): a 64-byte
 * heap payload through {@code framing.write(connection, payload)} on the loop thread, to a
 * connection that counts and drops what it is given (so the copy into the connection's
 * output chunks, which a real write does, is not included), and through
 * {@code framing.encode(payload)}, which builds a new heap buffer per frame.
 *
 * <p>Run: {@code java -jar bench/target/bench.jar jmh FramingEncode} (see bench/README.md).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Thread)
@Fork(2)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class FramingEncode {
    EventLoop loop;
    DiscardingConnection connection;
    Framing lengthPrefixed;
    Framing lines;
    ByteBuffer payload;
    ByteBuffer linePayload;

    @Setup(Level.Trial)
    public void setUp() {
        loop = EventLoop.open(); // on this thread, which thereby counts as the loop's thread
        connection = new DiscardingConnection(loop);
        lengthPrefixed = Framing.lengthPrefixed(4, 1 << 20);
        lines = Framing.lines(1 << 20);
        byte[] bytes = new byte[FramingDecode.PAYLOAD];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 31 + 7);
        }
        payload = ByteBuffer.wrap(bytes);
        byte[] line = new byte[FramingDecode.PAYLOAD];
        Arrays.fill(line, (byte) 'x');
        linePayload = ByteBuffer.wrap(line);
    }

    @Setup(Level.Iteration)
    public void checkThread() {
        if (!loop.inEventLoop()) {
            throw new IllegalStateException("the benchmark moved to another thread than the one that opened its loop");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loop.close();
    }

    /** {@code Framing.lengthPrefixed(4, ...).write}: header then payload, each to {@code Connection.write}. */
    @Benchmark
    public long lengthPrefixedWrite() {
        lengthPrefixed.write(connection, payload.clear());
        return connection.writtenBytes;
    }

    /** {@code Framing.lengthPrefixed(4, ...).encode}: one new 68-byte heap buffer per frame. */
    @Benchmark
    public ByteBuffer lengthPrefixedEncode() {
        return lengthPrefixed.encode(payload.clear());
    }

    /** {@code Framing.lines(...).write}: scans the payload for {@code \n}, then payload and {@code \n}. */
    @Benchmark
    public long linesWrite() {
        lines.write(connection, linePayload.clear());
        return connection.writtenBytes;
    }
}
