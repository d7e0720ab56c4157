package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.TestSupport.FakeConnection;
import io.selectloop.TestSupport.Feeder;
import io.selectloop.TestSupport.FrameRecorder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The decoders driven directly through their {@link Handler}, the way the loop drives
 * them (one reused direct read buffer), with a {@link FakeConnection}: the issue's
 * framing test 1 and the decoder's documented behaviour. The socket-level tests are in
 * {@link FramingSocketTest}.
 */
class FramingTest {
    static final int FRAMES = 10_000;
    static final int MAX_TEST_FRAME = 64 * 1024;

    private EventLoop loop;

    @BeforeEach
    void openLoop() {
        loop = EventLoop.open(); // this thread is its loop thread; nobody runs it
    }

    @AfterEach
    void closeLoop() {
        loop.close();
    }

    // ------------------------------------------------------------------ the framings under test

    /** A framing and how to make payloads it can carry. */
    record Case(String name, Framing framing, PayloadMaker payloads) {
        @Override
        public String toString() {
            return name;
        }

        List<byte[]> randomFrames(int count) {
            Random random = new Random(name.hashCode());
            int max = Math.min(MAX_TEST_FRAME, framing.maxLength());
            List<byte[]> frames = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                frames.add(payloads.make(random, frameSize(random, max)));
            }
            return frames;
        }
    }

    interface PayloadMaker {
        byte[] make(Random random, int size);
    }

    static Stream<Case> cases() {
        byte[] overlapping = {1, 2, 1}; // "1 2 1 2 1" holds it twice, overlapping: the hard case
        return Stream.of(
                new Case("lines", Framing.lines(MAX_TEST_FRAME), FramingTest::printable),
                new Case("delimited-0x00", Framing.delimited(new byte[] {0}, MAX_TEST_FRAME),
                        (r, n) -> TestSupport.withoutDelimiter(skewed(r, n, new byte[] {0}), new byte[] {0})),
                new Case("delimited-010201", Framing.delimited(overlapping, MAX_TEST_FRAME),
                        (r, n) -> TestSupport.withoutDelimiter(skewed(r, n, overlapping), overlapping)),
                new Case("length-1", Framing.lengthPrefixed(1, 255), TestSupport::randomBytes),
                new Case("length-2", Framing.lengthPrefixed(2, 65535), TestSupport::randomBytes),
                new Case("length-4", Framing.lengthPrefixed(4, 1 << 20), TestSupport::randomBytes),
                new Case("length-8", Framing.lengthPrefixed(8, 1 << 20), TestSupport::randomBytes));
    }

    /**
     * Mostly small frames, which is what protocols carry and what keeps 10,000 frames one
     * byte at a time fast, plus sizes at the edges that matter (empty, pool size classes,
     * the read buffer, the maximum) and a uniform share up to the maximum.
     */
    static int frameSize(Random random, int max) {
        int pick = random.nextInt(100);
        int size;
        if (pick < 35) {
            size = random.nextInt(17);
        } else if (pick < 65) {
            size = 17 + random.nextInt(496);
        } else if (pick < 85) {
            size = 513 + random.nextInt(7680);
        } else if (pick < 95) {
            int[] edges = {0, 1, 2, 255, 256, 257, 4095, 4096, 4097, 16383, 16384, 16385,
                    EventLoop.READ_BUFFER_SIZE - 9, EventLoop.READ_BUFFER_SIZE - 1, EventLoop.READ_BUFFER_SIZE,
                    max - 1, max};
            size = edges[random.nextInt(edges.length)];
        } else {
            size = random.nextInt(max + 1);
        }
        return Math.max(0, Math.min(size, max));
    }

    static byte[] printable(Random random, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (0x20 + random.nextInt(0x7F - 0x20));
        }
        return b;
    }

    /** Random bytes, a quarter of them from the delimiter, so partial delimiters are common. */
    static byte[] skewed(Random random, int n, byte[] delimiter) {
        byte[] b = TestSupport.randomBytes(random, n);
        for (int i = 0; i < n; i++) {
            if (random.nextInt(4) == 0) {
                b[i] = delimiter[random.nextInt(delimiter.length)];
            }
        }
        return b;
    }

    /** Checks each frame against the expected one as it arrives, so 10,000 frames need no copies. */
    static final class ExpectFrames implements FrameHandler {
        private final List<byte[]> expected;
        private final boolean mustBeViewsOfTheReadBuffer;
        int next;

        ExpectFrames(List<byte[]> expected, boolean mustBeViewsOfTheReadBuffer) {
            this.expected = expected;
            this.mustBeViewsOfTheReadBuffer = mustBeViewsOfTheReadBuffer;
        }

        @Override
        public void onFrame(Connection c, ByteBuffer frame) {
            assertTrue(next < expected.size(), "more frames than were sent");
            byte[] want = expected.get(next);
            assertEquals(0, frame.position(), "a frame starts at position 0");
            assertEquals(want.length, frame.remaining(), "length of frame " + next);
            int mismatch = frame.mismatch(ByteBuffer.wrap(want));
            assertEquals(-1, mismatch, "frame " + next + " differs at byte " + mismatch);
            if (mustBeViewsOfTheReadBuffer) {
                assertTrue(frame.isDirect(), "frame " + next + " was copied, not a view of the read buffer");
            }
            next++;
        }
    }

    private FrameDecoder decoder(Framing framing, FrameHandler frames) {
        return (FrameDecoder) framing.handler(frames);
    }

    private void assertNothingHeld(FrameDecoder decoder) {
        assertEquals(0, decoder.bufferedBytes(), "bytes held between frames");
        assertEquals(0, loop.pool.accumulationInUse(), "accumulation buffers not given back");
    }

    // ------------------------------------------------------------------ issue test 1

    /** (a) 10,000 random frames in one read: each comes out whole, and none is copied. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void tenThousandRandomFramesInOneWrite(Case k) throws Exception {
        List<byte[]> frames = k.randomFrames(FRAMES);
        ExpectFrames check = new ExpectFrames(frames, true);
        FrameDecoder decoder = decoder(k.framing(), check);
        new Feeder(decoder, new FakeConnection(loop)).feed(TestSupport.encodeAll(k.framing(), frames));
        assertEquals(FRAMES, check.next);
        assertNothingHeld(decoder);
    }

    /** (b) The same frames one byte per read. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void tenThousandRandomFramesOneByteAtATime(Case k) throws Exception {
        List<byte[]> frames = k.randomFrames(FRAMES);
        ExpectFrames check = new ExpectFrames(frames, false);
        FrameDecoder decoder = decoder(k.framing(), check);
        byte[] stream = TestSupport.encodeAll(k.framing(), frames);
        Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
        for (int i = 0; i < stream.length; i++) {
            feeder.feed(stream, i, i + 1);
        }
        assertEquals(FRAMES, check.next);
        assertNothingHeld(decoder);
    }

    /**
     * (c) Three-frame messages cut in two at every offset, each half a read: the same
     * three frames every time, and no buffer held after the message.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void threeFrameMessagesSplitAtEveryOffset(Case k) throws Exception {
        Random random = new Random(k.name().hashCode() + 3);
        int max = Math.min(k.framing().maxLength(), 1500);
        int[][] sizes = {{0, 0, 0}, {1, 0, 2}, {max, 7, 0}, {3, random.nextInt(max + 1), random.nextInt(max + 1)}};
        for (int[] triple : sizes) {
            List<byte[]> frames = new ArrayList<>();
            for (int size : triple) {
                frames.add(k.payloads().make(random, Math.min(size, max)));
            }
            byte[] message = TestSupport.encodeAll(k.framing(), frames);
            for (int cut = 0; cut <= message.length; cut++) {
                ExpectFrames check = new ExpectFrames(frames, false);
                FrameDecoder decoder = decoder(k.framing(), check);
                Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
                feeder.feed(message, 0, cut);
                feeder.feed(message, cut, message.length);
                assertEquals(3, check.next, "frames from " + Arrays.toString(triple) + " cut at " + cut);
                assertNothingHeld(decoder);
            }
        }
    }

    // ------------------------------------------------------------------ buffers

    @Test
    void wholeFramesAreViewsOfTheReadBufferNotCopies() throws Exception {
        Framing framing = Framing.lengthPrefixed(2, 1000);
        ByteBuffer read = ByteBuffer.allocateDirect(64);
        read.put(framing.encode(ByteBuffer.wrap(new byte[] {1, 2, 3})))
                .put(framing.encode(ByteBuffer.wrap(new byte[] {4, 5}))).flip();
        List<Integer> seen = new ArrayList<>();
        Handler h = framing.handler((c, frame) -> {
            seen.add(frame.remaining());
            frame.put(0, (byte) 99); // a view writes through to the read buffer; a copy would not
        });
        h.onData(new FakeConnection(loop), read);
        assertEquals(List.of(3, 2), seen);
        assertEquals(99, read.get(2), "first frame's byte 0 is the read buffer's byte 2");
        assertEquals(99, read.get(7), "second frame's byte 0 is the read buffer's byte 7");
        assertEquals(0, loop.pool.accumulationInUse());
    }

    @Test
    void onlyThePartialRemainderIsHeldAndItsBufferGoesBackWhenTheFrameCompletes() throws Exception {
        Framing framing = Framing.lengthPrefixed(4, 1 << 20);
        FrameRecorder recorder = new FrameRecorder();
        FrameDecoder decoder = decoder(framing, recorder);
        Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
        byte[] whole = TestSupport.encodeAll(framing, List.of(new byte[100], new byte[300]));
        feeder.feed(whole, 0, 104 + 4 + 50); // one whole frame, then the header and 50 bytes of the next
        assertEquals(1, recorder.frames.size());
        assertEquals(50, decoder.bufferedBytes(), "only the partial frame's bytes are copied");
        assertEquals(1, loop.pool.accumulationInUse());
        feeder.feed(whole, 158, whole.length);
        assertEquals(2, recorder.frames.size());
        assertArrayEquals(new byte[300], recorder.frames.get(1));
        assertNothingHeld(decoder);
    }

    /** A peer that announces a big frame and trickles it holds memory for what it sent, not for what it announced. */
    @Test
    void memoryFollowsTheBytesReceivedNotTheLengthAnnounced() throws Exception {
        int big = 8 << 20;
        Framing framing = Framing.lengthPrefixed(4, big);
        FrameRecorder recorder = new FrameRecorder();
        FrameDecoder decoder = decoder(framing, recorder);
        Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
        byte[] payload = TestSupport.randomBytes(new Random(1), big);
        byte[] stream = TestSupport.encodeAll(framing, List.of(payload));
        feeder.feed(stream, 0, 4 + 100);
        assertEquals(BufferPool.MIN_ACCUMULATION_CLASS, decoder.bufferCapacity());
        int at = 104;
        while (at < stream.length) {
            int n = Math.min(EventLoop.READ_BUFFER_SIZE, stream.length - at);
            feeder.feed(stream, at, at + n);
            at += n;
            if (decoder.bufferedBytes() > 0) {
                assertTrue(decoder.bufferCapacity() <= Math.max(BufferPool.MIN_ACCUMULATION_CLASS, 2 * decoder.bufferedBytes()),
                        decoder.bufferCapacity() + " bytes reserved for " + decoder.bufferedBytes() + " held");
            }
        }
        assertEquals(1, recorder.frames.size());
        assertArrayEquals(payload, recorder.frames.get(0));
        assertNothingHeld(decoder);
    }

    @Test
    void closingGivesThePartialFramesBufferBack() throws Exception {
        for (Framing framing : List.of(Framing.lines(100), Framing.lengthPrefixed(2, 100))) {
            FrameRecorder recorder = new FrameRecorder();
            FrameDecoder decoder = decoder(framing, recorder);
            FakeConnection c = new FakeConnection(loop).handler(decoder);
            new Feeder(decoder, c).feed(new byte[] {0, 50, 'x', 'y'});
            assertEquals(1, loop.pool.accumulationInUse(), framing + " holds the partial frame");
            c.close();
            assertNull(recorder.closed.getNow(new AssertionError("onClose was not forwarded")));
            assertNothingHeld(decoder);
        }
    }

    @Test
    void accumulationBuffersComeInPowerOfTwoClassesWithBoundedFreeLists() {
        BufferPool pool = new BufferPool();
        MemoryBudget budget = new MemoryBudget(1L << 30);
        MemoryAccount account = new MemoryAccount(budget);
        assertEquals(4096, pool.takeAccumulation(0, account).capacity());
        assertEquals(4096, pool.takeAccumulation(4096, account).capacity());
        assertEquals(8192, pool.takeAccumulation(4097, account).capacity());
        assertEquals(1 << 20, pool.takeAccumulation((1 << 19) + 1, account).capacity());
        ByteBuffer huge = pool.takeAccumulation((1 << 20) + 1, account);
        assertEquals((1 << 20) + 1, huge.capacity(), "above the largest class: exactly what was asked");
        assertEquals(5, pool.accumulationInUse());
        assertEquals(4096 + 4096 + 8192 + (1 << 20) + (1 << 20) + 1, account.held(), "charged by capacity");
        assertEquals(account.held(), budget.used());
        pool.giveAccumulation(huge, account);
        assertEquals(0, pool.accumulationRetained(), "a huge buffer is left to the GC");

        MemoryAccount other = new MemoryAccount(budget);
        List<ByteBuffer> many = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            many.add(pool.takeAccumulation(100, other));
        }
        many.forEach(b -> pool.giveAccumulation(b, other));
        assertEquals(0, other.held(), "every buffer given back is released from the account");
        assertEquals(BufferPool.RETAINED_BYTES_PER_CLASS / 4096, pool.accumulationRetained());
        ByteBuffer reused = pool.takeAccumulation(10, other);
        assertEquals(0, reused.position(), "a reused buffer comes back cleared");
        assertEquals(reused.capacity(), reused.limit());
    }

    // ------------------------------------------------------------------ lines and delimiters

    @Test
    void linesAcceptCrLfAndStripOnlyTheCrBeforeTheLf() throws Exception {
        List<String> lines = decodeLines(Framing.lines(100), "a\r\nb\n\r\n\rx\r\nin\rside\n\r\r\n");
        assertEquals(List.of("a", "b", "", "\rx", "in\rside", "\r"), lines);
    }

    @Test
    void aLineMayBeExactlyMaxLongWithEitherEndingButNotOneByteMore() throws Exception {
        assertEquals(List.of("12345", "abcde"), decodeLines(Framing.lines(5), "12345\nabcde\r\n"));
        FrameTooLongException e = assertThrows(FrameTooLongException.class,
                () -> decodeLines(Framing.lines(5), "123456\n"));
        assertEquals(5, e.limit());
        assertEquals(6, e.size());
        assertThrows(FrameTooLongException.class, () -> decodeLines(Framing.lines(5), "123456\r\n"));
        // One byte at a time the decoder holds "12345\r" and waits: the \n may still come.
        assertEquals(List.of("12345"), decodeLinesByteByByte(Framing.lines(5), "12345\r\n"));
        assertThrows(FrameTooLongException.class, () -> decodeLinesByteByByte(Framing.lines(5), "12345\rx"));
    }

    @Test
    void aMultiByteDelimiterSplitAcrossReadsAtEveryPointIsFound() throws Exception {
        byte[] delimiter = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        Framing framing = Framing.delimited(delimiter, 100);
        // "\r\n" and "\r\n\r" inside frames are partial delimiters the decoder must not take for whole ones.
        String message = "GET /\r\nHost: x\r\n\r\n\r\n\r\nbody\r\n\rmore\r\n\r\n";
        List<String> expected = List.of("GET /\r\nHost: x", "", "body\r\n\rmore");
        byte[] bytes = message.getBytes(StandardCharsets.US_ASCII);
        for (int a = 0; a <= bytes.length; a++) {
            for (int b = a; b <= bytes.length; b++) {
                FrameRecorder recorder = new FrameRecorder();
                Feeder feeder = new Feeder(framing.handler(recorder), new FakeConnection(loop));
                feeder.feed(bytes, 0, a);
                feeder.feed(bytes, a, b);
                feeder.feed(bytes, b, bytes.length);
                assertEquals(expected, strings(recorder), "cut at " + a + " and " + b);
                assertEquals(0, loop.pool.accumulationInUse());
            }
        }
    }

    @Test
    void aFrameEndsAtTheFirstOccurrenceOfAnOverlappingDelimiter() throws Exception {
        Framing framing = Framing.delimited("aba".getBytes(StandardCharsets.US_ASCII), 10);
        assertEquals(List.of("x", "ba", "c"), decodeLines(framing, "xababaabacaba"));
        assertEquals(List.of("x", "ba", "c"), decodeLinesByteByByte(framing, "xababaabacaba"));
    }

    @Test
    void noDelimiterWithinTheMaximumFailsAsSoonAsThatIsCertainWithoutBufferingMore() throws Exception {
        Framing framing = Framing.delimited(new byte[] {'|', '|'}, 10);
        FrameRecorder recorder = new FrameRecorder();
        FrameDecoder decoder = decoder(framing, recorder);
        Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
        byte[] flood = new byte[1000];
        Arrays.fill(flood, (byte) 'x');
        flood[10] = '|'; // "xxxxxxxxxx|" might still become a 10-byte frame
        for (int i = 0; i < 11; i++) {
            feeder.feed(flood, i, i + 1);
        }
        assertEquals(11, decoder.bufferedBytes(), "10 bytes and the first half of a possible delimiter");
        FrameTooLongException e = assertThrows(FrameTooLongException.class, () -> feeder.feed(flood, 11, 12));
        assertEquals(10, e.limit());
        assertEquals(11, e.size(), "the frame is at least one byte over the limit");
        assertTrue(e.getMessage().contains("at least 11 bytes") && e.getMessage().contains("maximum of 10"), e.getMessage());
        assertNothingHeld(decoder);

        // In one big read: rejected after looking at maxLength + delimiter bytes, nothing copied.
        FrameDecoder other = decoder(framing, recorder);
        FrameTooLongException e2 = assertThrows(FrameTooLongException.class,
                () -> new Feeder(other, new FakeConnection(loop)).feed(flood));
        assertEquals(11, e2.size());
        assertNothingHeld(other);
        assertTrue(recorder.frames.isEmpty());
    }

    /** The delimiter may complete across reads only after the frame is already too long. */
    @Test
    void aDelimiterThatCompletesPastTheMaximumIsTooLongHoweverTheInputIsCut() throws Exception {
        Framing framing = Framing.delimited("|||".getBytes(StandardCharsets.US_ASCII), 2);
        byte[] input = "abc|||".getBytes(StandardCharsets.US_ASCII);
        for (int a = 0; a <= input.length; a++) {
            for (int b = a; b <= input.length; b++) {
                FrameRecorder recorder = new FrameRecorder();
                FrameDecoder decoder = decoder(framing, recorder);
                Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
                int[] cuts = {0, a, b, input.length};
                FrameTooLongException e = assertThrows(FrameTooLongException.class, () -> {
                    for (int i = 0; i < 3; i++) {
                        feeder.feed(input, cuts[i], cuts[i + 1]);
                    }
                }, "cut at " + a + " and " + b);
                assertEquals(2, e.limit());
                assertTrue(recorder.frames.isEmpty());
                assertNothingHeld(decoder);
            }
        }
    }

    // ------------------------------------------------------------------ length headers

    @Test
    void aLengthHeaderOverTheMaximumFailsBeforeAnyPayloadArrives() throws Exception {
        Framing framing = Framing.lengthPrefixed(4, 100);
        byte[] header = {0, 0, 0, 101};
        FrameDecoder decoder = decoder(framing, new FrameRecorder());
        Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
        feeder.feed(header, 0, 2);
        FrameTooLongException e = assertThrows(FrameTooLongException.class, () -> feeder.feed(header, 2, 4));
        assertEquals(100, e.limit());
        assertEquals(101, e.size(), "the declared length");
        assertTrue(e.getMessage().contains("101") && e.getMessage().contains("100"), e.getMessage());
        assertNothingHeld(decoder);

        // Unsigned: 0xFFFFFFFF is 4 GiB - 1, not -1.
        FrameTooLongException big = assertThrows(FrameTooLongException.class, () -> new Feeder(
                framing.handler(new FrameRecorder()), new FakeConnection(loop)).feed(new byte[] {-1, -1, -1, -1}));
        assertEquals(0xFFFF_FFFFL, big.size());
    }

    @Test
    void anEightByteLengthWithTheTopBitSetIsCorruptAndOneBeyondTheMaximumIsTooLong() throws Exception {
        Framing framing = Framing.lengthPrefixed(8, 1 << 20);
        for (byte[] header : List.of(new byte[] {(byte) 0x80, 0, 0, 0, 0, 0, 0, 0},
                new byte[] {-1, -1, -1, -1, -1, -1, -1, -1})) {
            assertThrows(CorruptFrameException.class,
                    () -> new Feeder(framing.handler(new FrameRecorder()), new FakeConnection(loop)).feed(header));
            for (int cut = 1; cut < 8; cut++) {
                FrameDecoder decoder = decoder(framing, new FrameRecorder());
                Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
                feeder.feed(header, 0, cut);
                int at = cut;
                CorruptFrameException e = assertThrows(CorruptFrameException.class, () -> feeder.feed(header, at, 8));
                assertTrue(e.getMessage().contains("top bit"), e.getMessage());
                assertNothingHeld(decoder);
            }
        }
        byte[] huge = {0, 0, 1, 0, 0, 0, 0, 0}; // 2^40: a valid long, far over the maximum
        FrameTooLongException e = assertThrows(FrameTooLongException.class,
                () -> new Feeder(framing.handler(new FrameRecorder()), new FakeConnection(loop)).feed(huge));
        assertEquals(1L << 40, e.size());
    }

    // ------------------------------------------------------------------ errors and the handler

    @Test
    void afterADecodeErrorNothingMoreIsDelivered() throws Exception {
        Framing framing = Framing.lengthPrefixed(1, 10);
        FrameRecorder recorder = new FrameRecorder();
        Handler decoder = framing.handler(recorder);
        Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
        byte[] stream = {2, 'o', 'k', 11, 1, 'x'};
        assertThrows(FrameTooLongException.class, () -> feeder.feed(stream));
        feeder.feed(new byte[] {1, 'y', 2, 'a'});
        assertEquals(List.of("ok"), strings(recorder));
        assertEquals(0, loop.pool.accumulationInUse());
    }

    @Test
    void aThrowingFrameHandlerStopsItsDecoderAndItsBufferGoesBack() throws Exception {
        Framing framing = Framing.lines(100);
        List<String> seen = new ArrayList<>();
        RuntimeException boom = new IllegalStateException("boom (expected by the test)");
        Handler decoder = framing.handler((c, frame) -> {
            String s = StandardCharsets.US_ASCII.decode(frame).toString();
            seen.add(s);
            if (s.equals("bad")) {
                throw boom;
            }
        });
        Feeder feeder = new Feeder(decoder, new FakeConnection(loop));
        feeder.feed("par".getBytes(StandardCharsets.US_ASCII));
        assertEquals(1, loop.pool.accumulationInUse());
        RuntimeException thrown = assertThrows(RuntimeException.class,
                () -> feeder.feed("tial\nbad\nlater\npartial".getBytes(StandardCharsets.US_ASCII)));
        assertSame(boom, thrown, "the handler's exception propagates unchanged, for the connection to close with");
        feeder.feed("more\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals(List.of("partial", "bad"), seen);
        assertEquals(0, loop.pool.accumulationInUse());
    }

    @Test
    void inputEndingInsideAFrameIsCorruptAndAtAFrameBoundaryIsAnOrdinaryEof() throws Exception {
        for (Framing framing : List.of(Framing.lines(100), Framing.lengthPrefixed(4, 100))) {
            FrameRecorder recorder = new FrameRecorder();
            Handler decoder = framing.handler(recorder);
            FakeConnection c = new FakeConnection(loop).handler(decoder);
            Feeder feeder = new Feeder(decoder, c);
            feeder.feed(TestSupport.encodeAll(framing, List.of("whole".getBytes(StandardCharsets.US_ASCII))));
            feeder.feed(new byte[] {0, 0});
            CorruptFrameException e = assertThrows(CorruptFrameException.class, () -> decoder.onEof(c));
            assertTrue(e.getMessage().contains("ended inside a frame"), e.getMessage());
            assertEquals(0, recorder.eofs.get());
            assertEquals(0, loop.pool.accumulationInUse());

            FrameRecorder clean = new FrameRecorder();
            Handler cleanDecoder = framing.handler(clean);
            FakeConnection c2 = new FakeConnection(loop).handler(cleanDecoder);
            new Feeder(cleanDecoder, c2).feed(TestSupport.encodeAll(framing, List.of(new byte[] {'a'})));
            cleanDecoder.onEof(c2);
            assertEquals(1, clean.eofs.get(), "forwarded");
            assertFalse(c2.isOpen(), "the default onEof closes");
        }
    }

    /**
     * The documented choice: frames already received in the read during which the handler
     * paused are still delivered; reading stops after them (the connection's business).
     */
    @Test
    void pauseReadingInsideOnFrameStillDeliversTheRestOfThatRead() throws Exception {
        Framing framing = Framing.lines(100);
        List<String> seen = new ArrayList<>();
        FakeConnection c = new FakeConnection(loop);
        Handler decoder = framing.handler((conn, frame) -> {
            seen.add(StandardCharsets.US_ASCII.decode(frame).toString());
            conn.pauseReading();
        });
        new Feeder(decoder, c).feed("one\ntwo\nthree\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals(List.of("one", "two", "three"), seen);
    }

    @Test
    void nothingIsDeliveredOnceTheHandlerHasClosedTheConnection() throws Exception {
        Framing framing = Framing.lengthPrefixed(2, 100);
        List<Integer> seen = new ArrayList<>();
        FrameRecorder closes = new FrameRecorder();
        FakeConnection c = new FakeConnection(loop);
        Handler decoder = framing.handler(new FrameHandler() {
            @Override
            public void onFrame(Connection conn, ByteBuffer frame) {
                seen.add(frame.remaining());
                conn.abort(); // closes at once: onClose runs inside this call
            }

            @Override
            public void onClose(Connection conn, Throwable cause) {
                closes.onClose(conn, cause);
            }
        });
        c.handler(decoder);
        byte[] stream = TestSupport.encodeAll(framing, List.of(new byte[1], new byte[2], new byte[3]));
        byte[] withPartial = Arrays.copyOf(stream, stream.length + 3);
        withPartial[stream.length + 1] = 50;
        new Feeder(decoder, c).feed(withPartial);
        assertEquals(List.of(1), seen);
        assertTrue(closes.closed.isDone());
        assertEquals(0, loop.pool.accumulationInUse());
    }

    @Test
    void aFramingHandlerServesOneConnection() throws Exception {
        Handler decoder = Framing.lines(10).handler((c, frame) -> { });
        decoder.onOpen(new FakeConnection(loop));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> decoder.onOpen(new FakeConnection(loop)));
        assertTrue(e.getMessage().contains("once per connection"), e.getMessage());
    }

    // ------------------------------------------------------------------ encoding

    @Test
    void encodeWritesTheHeaderOrDelimiterAroundThePayload() {
        ByteBuffer payload = ByteBuffer.wrap(new byte[] {7, 8, 9});
        assertArrayEquals(new byte[] {3, 7, 8, 9}, bytes(Framing.lengthPrefixed(1, 10).encode(payload)));
        assertEquals(0, payload.remaining(), "the payload is consumed, as by Connection.write");
        byte[] eight = bytes(Framing.lengthPrefixed(8, 1000).encode(ByteBuffer.wrap(new byte[256])));
        assertEquals(264, eight.length);
        assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, 1, 0}, Arrays.copyOf(eight, 8), "big-endian 256");
        assertArrayEquals(new byte[] {0, 0, 1, 0}, Arrays.copyOf(
                bytes(Framing.lengthPrefixed(4, 1000).encode(ByteBuffer.wrap(new byte[256]))), 4));
        assertArrayEquals("hi\n".getBytes(StandardCharsets.US_ASCII),
                bytes(Framing.lines(10).encode(ByteBuffer.wrap("hi".getBytes(StandardCharsets.US_ASCII)))));
        assertArrayEquals(new byte[] {'x', 0, 0}, bytes(Framing.delimited(new byte[] {0, 0}, 10)
                .encode(ByteBuffer.wrap(new byte[] {'x'}))));
    }

    @Test
    void writeOnTheLoopSendsTheSameBytesAsEncode() {
        for (Framing framing : List.of(Framing.lines(100), Framing.delimited(new byte[] {1, 2}, 100),
                Framing.lengthPrefixed(2, 100))) {
            FakeConnection c = new FakeConnection(loop);
            framing.write(c, "hello".getBytes(StandardCharsets.US_ASCII));
            framing.write(c, ByteBuffer.allocate(0));
            byte[] expected = TestSupport.encodeAll(framing, List.of("hello".getBytes(StandardCharsets.US_ASCII), new byte[0]));
            assertArrayEquals(expected, c.written.toByteArray(), framing.toString());
        }
    }

    @Test
    void payloadsTheFramingCannotCarryAreRejectedAtTheCall() {
        FakeConnection c = new FakeConnection(loop);
        IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                () -> Framing.lengthPrefixed(4, 10).write(c, new byte[11]));
        assertTrue(tooLong.getMessage().contains("11") && tooLong.getMessage().contains("10"), tooLong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Framing.lines(3).encode(ByteBuffer.wrap(new byte[4])));
        assertThrows(IllegalArgumentException.class, () -> Framing.lines(10).write(c, "a\nb".getBytes(StandardCharsets.US_ASCII)));
        assertThrows(IllegalArgumentException.class, () -> Framing.lines(10).write(c, "ab\r".getBytes(StandardCharsets.US_ASCII)));
        Framing aba = Framing.delimited("aba".getBytes(StandardCharsets.US_ASCII), 10);
        assertThrows(IllegalArgumentException.class, () -> aba.write(c, "xabay".getBytes(StandardCharsets.US_ASCII)));
        // "ab" + "aba" = "ababa": the reader would see the delimiter at offset 0.
        assertThrows(IllegalArgumentException.class, () -> aba.write(c, "ab".getBytes(StandardCharsets.US_ASCII)));
        aba.write(c, "ba".getBytes(StandardCharsets.US_ASCII)); // "baaba": first occurrence at the end, fine
        assertEquals(0, c.written.size() - 5, "only the accepted frame was written");
        ByteBuffer rejected = ByteBuffer.wrap(new byte[11]);
        assertThrows(IllegalArgumentException.class, () -> Framing.lengthPrefixed(4, 10).encode(rejected));
        assertEquals(11, rejected.remaining(), "a rejected payload is left untouched");
    }

    @Test
    void factoriesRejectFramingsThatCannotWork() {
        assertThrows(IllegalArgumentException.class, () -> Framing.lengthPrefixed(3, 10));
        assertThrows(IllegalArgumentException.class, () -> Framing.lengthPrefixed(1, 256));
        assertThrows(IllegalArgumentException.class, () -> Framing.lengthPrefixed(2, 65536));
        assertEquals(255, Framing.lengthPrefixed(1, 255).maxLength());
        assertThrows(IllegalArgumentException.class, () -> Framing.lines(-1));
        assertThrows(IllegalArgumentException.class, () -> Framing.delimited(new byte[0], 10));
        assertThrows(NullPointerException.class, () -> Framing.delimited(null, 10));
        byte[] delimiter = {9};
        Framing framing = Framing.delimited(delimiter, 10);
        delimiter[0] = 'x'; // the framing copied it
        assertArrayEquals(new byte[] {'x', 9}, bytes(framing.encode(ByteBuffer.wrap(new byte[] {'x'}))));
        assertEquals("Framing.delimited([09], 10)", framing.toString());
        assertEquals("Framing.lengthPrefixed(4, 1024)", Framing.lengthPrefixed(4, 1024).toString());
    }

    // ------------------------------------------------------------------ helpers

    private List<String> decodeLines(Framing framing, String input) throws Exception {
        FrameRecorder recorder = new FrameRecorder();
        new Feeder(framing.handler(recorder), new FakeConnection(loop)).feed(input.getBytes(StandardCharsets.US_ASCII));
        return strings(recorder);
    }

    private List<String> decodeLinesByteByByte(Framing framing, String input) throws Exception {
        FrameRecorder recorder = new FrameRecorder();
        Feeder feeder = new Feeder(framing.handler(recorder), new FakeConnection(loop));
        byte[] bytes = input.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < bytes.length; i++) {
            feeder.feed(bytes, i, i + 1);
        }
        return strings(recorder);
    }

    private static List<String> strings(FrameRecorder recorder) {
        List<String> out = new ArrayList<>();
        for (byte[] f : recorder.frames) {
            out.add(new String(f, StandardCharsets.US_ASCII));
        }
        return out;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
