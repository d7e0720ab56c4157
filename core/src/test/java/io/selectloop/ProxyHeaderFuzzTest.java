package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The PROXY header parser fuzzed with Jazzer, as {@link FramingFuzzTest} fuzzes the
 * decoders: arbitrary bytes, arriving in arbitrary reads, are parsed again after each read
 * as {@link ProxyHeaderStage} does. Whatever the bytes, the parser only ever answers "need
 * more", "no header", a header, or a {@link ProxyProtocolException}; it never changes its
 * mind as bytes arrive (a header is found on the read that completes it, with the same
 * length and fields as from the whole input; a failure is never followed by success), and
 * it leaves the buffer's position and limit alone. Any other exception is a finding.
 *
 * <p>A plain {@code mvn verify} replays the corpus in
 * {@code src/test/resources/io/selectloop/ProxyHeaderFuzzTestInputs/parse/}; the {@code fuzz}
 * profile of core's pom fuzzes. An input is {@code [flags] [n] [n read sizes] [stream...]}:
 * flags bit 0 set means a header is required; n is its low 4 bits, each read size its byte
 * + 1; n = 0 is the whole stream in one read.
 */
class ProxyHeaderFuzzTest {

    @FuzzTest
    void parse(byte[] input) throws Exception {
        int at = 0;
        boolean required = input.length > at && (input[at++] & 1) == 1;
        int n = input.length > at ? input[at++] & 0x0F : 0;
        int[] reads = new int[n];
        for (int i = 0; i < n; i++) {
            reads[i] = (input.length > at ? input[at++] & 0xFF : 0) + 1;
        }
        byte[] stream = Arrays.copyOfRange(input, Math.min(at, input.length), input.length);
        String what = (required ? "required" : "optional") + ", reads " + Arrays.toString(reads) + ", " + stream.length + " bytes";

        ProxyHeaderParser.Result whole;
        ProxyProtocolException wholeFailure = null;
        try {
            whole = parseChecked(stream, 0, stream.length, required);
        } catch (ProxyProtocolException e) {
            whole = null;
            wholeFailure = e;
        }
        if (whole != null && whole.header != null) {
            assertTrue(whole.length > 0 && whole.length <= stream.length, what + ": length " + whole.length);
            assertTrue(whole.length <= ProxyHeaderParser.MAX_HEADER_BYTES, what);
        }
        if (whole == ProxyHeaderParser.Result.NO_HEADER) {
            assertTrue(!required, what + ": no header where one is required is a failure");
        }

        int received = 0;
        for (int i = 0; received < stream.length; i++) {
            received = Math.min(stream.length, received + (reads.length == 0 ? stream.length : reads[i % reads.length]));
            ProxyHeaderParser.Result now;
            try {
                now = parseChecked(stream, 0, received, required);
            } catch (ProxyProtocolException e) {
                if (wholeFailure == null) {
                    fail(what + ": failed after " + received + " bytes (" + e.getMessage() + ") but not on the whole input: " + whole);
                }
                return; // the stage closes the connection here
            }
            if (now == ProxyHeaderParser.Result.NEED_MORE) {
                if (whole != null && whole.header != null) {
                    assertTrue(received < whole.length, what + ": header of " + whole.length + " bytes not found with "
                            + received + " in");
                }
                continue;
            }
            if (now == ProxyHeaderParser.Result.NO_HEADER) {
                assertSame(ProxyHeaderParser.Result.NO_HEADER, whole, what);
                return;
            }
            assertNotSame(null, whole, what + ": a header after " + received + " bytes, a failure on all: " + wholeFailure);
            assertEquals(whole.length, now.length, what);
            assertEquals(whole.header, now.header, what);
            return;
        }
        if (stream.length > 0 || whole != ProxyHeaderParser.Result.NEED_MORE) {
            assertSame(ProxyHeaderParser.Result.NEED_MORE, whole, what + ": every read asked for more");
        }
    }

    /** Parses bytes [from, to) placed inside a larger buffer, and checks the buffer is left alone. */
    private static ProxyHeaderParser.Result parseChecked(byte[] stream, int from, int to, boolean required)
            throws ProxyProtocolException {
        ByteBuffer buffer = ByteBuffer.allocate(to - from + 4);
        buffer.position(2).put(stream, from, to - from).put(new byte[] {'P', 0x0D}); // bytes beyond the limit
        buffer.position(2).limit(2 + to - from);
        ProxyHeaderParser.Result r = ProxyHeaderParser.parse(buffer, required);
        assertEquals(2, buffer.position(), "position");
        assertEquals(2 + to - from, buffer.limit(), "limit");
        return r;
    }
}
