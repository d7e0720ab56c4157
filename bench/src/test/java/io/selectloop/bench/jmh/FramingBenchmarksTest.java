package io.selectloop.bench.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Runs each benchmark method's body a few times, without JMH, and checks it decodes (or
 * writes) what its score claims: a benchmark that silently measured nothing would pass
 * JMH and report a fine rate.
 */
class FramingBenchmarksTest {
    private static Blackhole blackhole() {
        return new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
    }

    @Test
    void eachDecodeBenchmarkDeliversTheFramesItsScoreCounts() throws Exception {
        FramingDecode bench = new FramingDecode();
        bench.setUp();
        try {
            bench.checkThread();
            Blackhole bh = blackhole();
            int benchmarks = 0;
            for (Method m : FramingDecode.class.getDeclaredMethods()) {
                if (!m.isAnnotationPresent(Benchmark.class)) {
                    continue;
                }
                benchmarks++;
                FramingDecode.Feed feed = feedOf(bench, m.getName());
                int perInvocation = m.getAnnotation(OperationsPerInvocation.class).value();
                assertEquals(feed.frames, perInvocation, m.getName() + ": frames fed per invocation");
                for (int pass = 1; pass <= 3; pass++) {
                    m.invoke(bench, bh);
                    assertEquals((long) pass * perInvocation, feed.delivered, m.getName() + " after pass " + pass);
                    assertEquals(feed.delivered * FramingDecode.PAYLOAD, feed.deliveredBytes, m.getName() + " bytes");
                }
                boolean split = m.getName().contains("Split");
                assertEquals(split, feed.reads.length > 1, m.getName() + " splits the stream into several reads");
                for (ByteBuffer read : feed.reads) {
                    assertTrue(read.isDirect());
                    assertTrue(read.limit() <= FramingDecode.READ_BUFFER_SIZE, "a read fits the loop's read buffer");
                    if (split) {
                        int frameBytes = m.getName().startsWith("lines")
                                ? FramingDecode.LINE_FRAME : FramingDecode.LENGTH_PREFIXED_FRAME;
                        assertTrue(read.limit() % frameBytes != 0, m.getName() + ": reads end inside frames");
                    }
                }
            }
            assertEquals(5, benchmarks);
            bench.checkCounts();
        } finally {
            bench.tearDown();
        }
        assertTrue(bench.loop.isTerminated());
    }

    private static FramingDecode.Feed feedOf(FramingDecode bench, String benchmark) {
        switch (benchmark) {
            case "lengthPrefixedWholeFrames": return bench.lengthPrefixedWhole;
            case "lengthPrefixedSplit64KiB": return bench.lengthPrefixedSplit64KiB;
            case "lengthPrefixedSplit1448": return bench.lengthPrefixedSplit1448;
            case "linesWholeFrames": return bench.linesWhole;
            case "linesSplit1448": return bench.linesSplit1448;
            default: throw new AssertionError("no feed known for benchmark " + benchmark);
        }
    }

    @Test
    void encodeBenchmarksProduceWholeFrames() {
        FramingEncode bench = new FramingEncode();
        bench.setUp();
        try {
            bench.checkThread();
            for (int i = 0; i < 10; i++) {
                bench.lengthPrefixedWrite();
            }
            assertEquals(10 * (4 + FramingDecode.PAYLOAD), bench.connection.writtenBytes);
            for (int i = 0; i < 10; i++) {
                bench.linesWrite();
            }
            assertEquals(10 * (4 + FramingDecode.PAYLOAD) + 10 * (FramingDecode.PAYLOAD + 1),
                    bench.connection.writtenBytes);
            ByteBuffer frame = bench.lengthPrefixedEncode();
            assertEquals(4 + FramingDecode.PAYLOAD, frame.remaining());
            assertEquals(FramingDecode.PAYLOAD, frame.getInt(0));
        } finally {
            bench.tearDown();
        }
    }
}
