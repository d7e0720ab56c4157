package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.selectloop.FramingModel.Outcome;
import io.selectloop.FramingModel.Reference;
import io.selectloop.FramingModel.Spec;
import io.selectloop.TestSupport.FakeConnection;
import io.selectloop.TestSupport.Feeder;
import io.selectloop.TestSupport.FrameRecorder;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The decoders fuzzed with Jazzer: each framing, fed arbitrary bytes cut into arbitrary
 * reads, delivers exactly the frames of {@link FramingModel.Reference}, each on the read
 * that completes it, and then ends as the reference says (clean end of input, or the same
 * {@link FramingException} on the read where the input becomes invalid); nothing is
 * delivered after a failure. Any other exception is a finding.
 *
 * <p>A plain {@code mvn verify} only replays the corpus in
 * {@code src/test/resources/io/selectloop/FramingFuzzTestInputs/<method>/}; the {@code fuzz}
 * profile of core's pom fuzzes (docs/RELIABILITY.md has the command).
 *
 * <p>An input is read as the framing's parameters, then the read sizes, then the byte
 * stream; a byte past the end reads as 0, so every input, the empty one too, is valid:
 * <pre>
 * lines           [max] [n] [n read sizes] [stream...]
 * delimited       [d] [d % 4 + 1 delimiter bytes] [max] [n] [n read sizes] [stream...]
 * lengthPrefixed  [h: header 1, 2, 4, 8 by h % 4] [max] [n] [n read sizes] [stream...]
 * </pre>
 * {@code max} is its low 6 bits (limits are then hit often), or with 0xFF the largest
 * maximum the framing allows. {@code n} is its low 4 bits; each of the n read sizes is
 * its byte + 1, used in turn; {@code n = 0} is the whole stream in one read. A hand-made layout
 * rather than a {@code FuzzedDataProvider}, so that seeds can be written and read as
 * bytes.
 */
class FramingFuzzTest {
    private static final int[] HEADER_BYTES = {1, 2, 4, 8};

    private static EventLoop loop;
    private static final ByteBuffer SCRATCH = ByteBuffer.allocateDirect(EventLoop.READ_BUFFER_SIZE);

    @BeforeAll
    static void openLoop() {
        loop = EventLoop.open(); // only its buffer pool is used, on this thread
    }

    @AfterAll
    static void closeLoop() {
        loop.close();
    }

    @FuzzTest
    void lines(byte[] input) throws Exception {
        Cursor in = new Cursor(input);
        Spec spec = Spec.lines(in.maxLength(Framing.MAX_FRAME_LENGTH - 1));
        check(spec, in);
    }

    @FuzzTest
    void delimited(byte[] input) throws Exception {
        Cursor in = new Cursor(input);
        byte[] delimiter = in.bytes(in.next() % 4 + 1);
        Spec spec = Spec.delimited(delimiter, in.maxLength(Framing.MAX_FRAME_LENGTH - delimiter.length + 1));
        check(spec, in);
    }

    @FuzzTest
    void lengthPrefixed(byte[] input) throws Exception {
        Cursor in = new Cursor(input);
        int h = HEADER_BYTES[in.next() % 4];
        int largest = h == 1 ? 255 : h == 2 ? 65535 : Framing.MAX_FRAME_LENGTH;
        Spec spec = Spec.length(h, in.maxLength(largest));
        check(spec, in);
    }

    private static void check(Spec spec, Cursor in) throws Exception {
        int[] reads = in.readSizes();
        byte[] stream = in.rest();
        Reference expected = Reference.decode(spec, stream);
        String what = spec + ", reads " + Arrays.toString(reads) + ", " + stream.length + " bytes";

        FrameRecorder recorder = new FrameRecorder();
        FrameDecoder decoder = (FrameDecoder) spec.framing().handler(recorder);
        FakeConnection c = new FakeConnection(loop).handler(decoder);
        Feeder feeder = new Feeder(decoder, c, SCRATCH);
        long heldBound = (long) spec.max() + spec.overhead();
        decoder.onOpen(c);

        FramingException failure = null;
        int at = 0;
        for (int i = 0; at < stream.length; i++) {
            int n = reads.length == 0 ? stream.length - at : Math.min(stream.length - at, reads[i % reads.length]);
            try {
                feeder.feed(stream, at, at + n); // only a FramingException is caught: anything else is a finding
            } catch (FramingException e) {
                failure = e;
                // Detection is promised on the read that makes the input invalid: not
                // before (a valid prefix rejected), not after (invalid bytes buffered).
                assertTrue(at < expected.invalidAt && expected.invalidAt <= at + n, what + ": " + e
                        + " on the read of [" + at + ", " + (at + n) + "), but the input is invalid once "
                        + expected.invalidAt + " bytes are in");
                at += n;
                break;
            }
            at += n;
            // A frame is delivered on the read that completes it, not held back for more.
            assertEquals(completeBy(expected.ends, at), recorder.frames.size(), what + ": frames delivered by " + at);
            assertTrue(decoder.bufferedBytes() <= heldBound, what + ": " + decoder.bufferedBytes() + " bytes held");
        }

        Outcome outcome;
        if (failure == null) {
            outcome = Outcome.COMPLETE;
            try {
                decoder.onEof(c);
                assertEquals(1, recorder.eofs.get(), what + ": a clean end of input is passed on");
            } catch (CorruptFrameException e) {
                outcome = Outcome.TRUNCATED;
                assertEquals(0, recorder.eofs.get(), what + ": a cut frame is no clean end of input");
            }
        } else {
            outcome = failure instanceof FrameTooLongException ? Outcome.TOO_LONG : Outcome.CORRUPT;
            if (failure instanceof FrameTooLongException e) {
                assertEquals(spec.max(), e.limit(), what + ": limit");
                assertTrue(e.size() > e.limit(), what + ": size " + e.size() + " is over the limit " + e.limit());
            }
            int delivered = recorder.frames.size();
            feeder.feed(stream, at, stream.length);
            feeder.feed(spec.framing().encode(ByteBuffer.allocate(0)).array());
            assertEquals(delivered, recorder.frames.size(), what + ": nothing is delivered after a decode error");
        }
        c.close();

        assertEquals(expected.outcome, outcome, what + ": how the input ended");
        assertFramesEqual(what, expected.frames, recorder.frames);
        assertTrue(recorder.closed.isDone(), what + ": onClose was passed on");
    }

    private static int completeBy(List<Integer> ends, int offset) {
        int n = 0;
        while (n < ends.size() && ends.get(n) <= offset) {
            n++;
        }
        return n;
    }

    private static void assertFramesEqual(String what, List<byte[]> expected, List<byte[]> actual) {
        assertEquals(expected.size(), actual.size(), what + ": frame count");
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(Arrays.toString(expected.get(i)), Arrays.toString(actual.get(i)), what + ": frame " + i);
        }
    }

    /** Reads the fuzz input front to back; past its end every byte reads as 0. */
    private static final class Cursor {
        private final byte[] input;
        private int at;

        Cursor(byte[] input) {
            this.input = input;
        }

        int next() {
            return at < input.length ? input[at++] & 0xFF : 0;
        }

        byte[] bytes(int n) {
            byte[] b = new byte[n];
            for (int i = 0; i < n; i++) {
                b[i] = (byte) next();
            }
            return b;
        }

        int maxLength(int largest) {
            int b = next();
            return b == 0xFF ? largest : b & 0x3F;
        }

        int[] readSizes() {
            int[] sizes = new int[next() & 0x0F];
            for (int i = 0; i < sizes.length; i++) {
                sizes[i] = next() + 1;
            }
            return sizes;
        }

        byte[] rest() {
            return Arrays.copyOfRange(input, at, input.length);
        }
    }
}
