package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.FramingModel.Outcome;
import io.selectloop.FramingModel.Reference;
import io.selectloop.FramingModel.Spec;
import io.selectloop.TestSupport.FakeConnection;
import io.selectloop.TestSupport.Feeder;
import io.selectloop.TestSupport.FrameRecorder;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * The framing test 2: every decoder, fed random bytes in random chunks, throws
 * nothing but a {@link FramingException}, holds at most one frame's worth, gives every
 * pooled buffer back on close, consumes every read (so it cannot spin), and agrees with
 * a simple whole-input reference decoder on the frames and on how the input ends; and
 * encode-then-decode in random chunks gives back the payloads.
 */
class FramingPropertiesTest {
    /** Bytes that make delimiters, partial delimiters and small length headers likely. */
    private static final Byte[] ALPHABET = {0, 1, 2, 3, '\r', '\n', 'a', 'b', (byte) 0x80, (byte) 0xFF};

    private static EventLoop loop;

    @BeforeContainer
    static void openLoop() {
        loop = EventLoop.open(); // only its buffer pool is used, on this thread
    }

    @AfterContainer
    static void closeLoop() {
        loop.close();
    }

    // ------------------------------------------------------------------ generators

    @Provide
    Arbitrary<Spec> specs() {
        Arbitrary<Integer> max = Arbitraries.integers().between(0, 300).edgeCases(c -> c.includeOnly(0, 1, 300));
        Arbitrary<byte[]> delimiters = Arbitraries.of(ALPHABET).list().ofMinSize(1).ofMaxSize(4).map(FramingPropertiesTest::array);
        return Arbitraries.oneOf(
                max.map(Spec::lines),
                Combinators.combine(delimiters, max).as(Spec::delimited),
                Combinators.combine(Arbitraries.of(1, 2, 4, 8), max).as(Spec::length));
    }

    private static Arbitrary<byte[]> bytes(int maxSize) {
        Arbitrary<Byte> b = Arbitraries.oneOf(Arbitraries.of(ALPHABET), Arbitraries.bytes());
        return b.list().ofMaxSize(maxSize).map(FramingPropertiesTest::array);
    }

    /** A piece of input: a well-formed frame around these bytes, or the bytes raw. */
    record Piece(boolean frame, byte[] bytes) {
        @Override
        public String toString() {
            return (frame ? "frame" : "raw") + Arrays.toString(bytes);
        }
    }

    @Provide
    Arbitrary<List<Piece>> pieces() {
        return Combinators.combine(Arbitraries.integers().between(0, 3).map(n -> n > 0), bytes(400))
                .as(Piece::new).list().ofMaxSize(25);
    }

    @Provide
    Arbitrary<List<byte[]>> payloads() {
        return bytes(400).list().ofMaxSize(25);
    }

    /** Read sizes, used in turn; 1 is common, as are sizes that cut headers and delimiters. */
    @Provide
    Arbitrary<List<Integer>> chunks() {
        return Arbitraries.integers().between(1, 700).edgeCases(c -> c.includeOnly(1, 2, 3))
                .list().ofMinSize(1).ofMaxSize(12);
    }

    private static byte[] array(List<Byte> list) {
        byte[] b = new byte[list.size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = list.get(i);
        }
        return b;
    }

    // ------------------------------------------------------------------ properties

    @Property(tries = 2000)
    void anyInputInAnyChunksGivesTheReferenceFramesOrAFramingExceptionWithBoundedMemory(
            @ForAll("specs") Spec spec, @ForAll("pieces") List<Piece> pieces, @ForAll("chunks") List<Integer> chunks)
            throws Exception {
        byte[] input = render(spec, pieces);
        Reference expected = Reference.decode(spec, input);

        FrameRecorder recorder = new FrameRecorder();
        FrameDecoder decoder = (FrameDecoder) spec.framing().handler(recorder);
        FakeConnection c = new FakeConnection(loop).handler(decoder);
        Feeder feeder = new Feeder(decoder, c);
        int inUseBefore = loop.pool.accumulationInUse();
        long heldBound = (long) spec.max() + spec.overhead();
        long capacityBound = Math.max(BufferPool.MIN_ACCUMULATION_CLASS, 2 * heldBound);

        Outcome outcome = Outcome.COMPLETE;
        int at = 0;
        for (int i = 0; at < input.length; i++) {
            int n = Math.min(input.length - at, chunks.get(i % chunks.size()));
            try {
                feeder.feed(input, at, at + n); // anything but a FramingException fails the property
            } catch (FrameTooLongException e) {
                outcome = Outcome.TOO_LONG;
                break;
            } catch (CorruptFrameException e) {
                outcome = Outcome.CORRUPT;
                break;
            }
            at += n;
            assertTrue(decoder.bufferedBytes() <= heldBound, decoder.bufferedBytes() + " bytes held, bound " + heldBound);
            assertTrue(decoder.bufferCapacity() <= capacityBound, "capacity " + decoder.bufferCapacity());
            assertTrue(loop.pool.accumulationInUse() - inUseBefore <= 1, "one accumulation buffer at most");
        }
        if (outcome == Outcome.COMPLETE) {
            try {
                decoder.onEof(c);
            } catch (CorruptFrameException e) {
                outcome = Outcome.TRUNCATED;
            }
        } else {
            int delivered = recorder.frames.size();
            feeder.feed(spec.framing().encode(ByteBuffer.allocate(0)).array());
            assertEquals(delivered, recorder.frames.size(), "nothing is delivered after a decode error");
        }
        c.close();

        assertEquals(expected.outcome, outcome, "how the input ended");
        assertFramesEqual(expected.frames, recorder.frames);
        assertEquals(inUseBefore, loop.pool.accumulationInUse(), "every accumulation buffer is back after close");
    }

    @Property(tries = 2000)
    void encodeThenDecodeInAnyChunksRoundTrips(
            @ForAll("specs") Spec spec, @ForAll("payloads") List<byte[]> raw, @ForAll("chunks") List<Integer> chunks)
            throws Exception {
        List<byte[]> payloads = new ArrayList<>();
        for (byte[] r : raw) {
            payloads.add(spec.carriable(r));
        }
        byte[] input = TestSupport.encodeAll(spec.framing(), payloads);

        FrameRecorder recorder = new FrameRecorder();
        FrameDecoder decoder = (FrameDecoder) spec.framing().handler(recorder);
        FakeConnection c = new FakeConnection(loop).handler(decoder);
        int inUseBefore = loop.pool.accumulationInUse();
        int[] next = {0};
        new Feeder(decoder, c).feedInChunks(input, () -> chunks.get(next[0]++ % chunks.size()));
        decoder.onEof(c); // at a frame boundary: forwarded, and the default closes

        assertFramesEqual(payloads, recorder.frames);
        assertEquals(1, recorder.eofs.get());
        assertTrue(recorder.closed.isDone(), "closed by the default onEof");
        assertEquals(inUseBefore, loop.pool.accumulationInUse(), "no buffer kept after the last frame");
    }

    private static void assertFramesEqual(List<byte[]> expected, List<byte[]> actual) {
        assertEquals(expected.size(), actual.size(), "frame count");
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(Arrays.toString(expected.get(i)), Arrays.toString(actual.get(i)), "frame " + i);
        }
    }

    private static byte[] render(Spec spec, List<Piece> pieces) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Piece p : pieces) {
            byte[] b = p.frame() ? TestSupport.encodeAll(spec.framing(), List.of(spec.carriable(p.bytes()))) : p.bytes();
            out.write(b, 0, b.length);
        }
        return out.toByteArray();
    }
}
