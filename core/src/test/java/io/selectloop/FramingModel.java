package io.selectloop;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The framing rules as a plain model, shared by the framing property and fuzz tests: a
 * framing with what a reference decoder needs to know about it, and that reference
 * decoder.
 */
final class FramingModel {
    private FramingModel() {
    }

    /** A framing, with what a reference decoder needs to know about it. */
    record Spec(Framing framing, int headerBytes, byte[] delimiter, boolean lines) {
        static Spec lines(int max) {
            return new Spec(Framing.lines(max), 0, new byte[] {'\n'}, true);
        }

        static Spec delimited(byte[] delimiter, int max) {
            return new Spec(Framing.delimited(delimiter, max), 0, delimiter, false);
        }

        static Spec length(int headerBytes, int max) {
            return new Spec(Framing.lengthPrefixed(headerBytes, headerBytes == 1 ? Math.min(max, 255) : max),
                    headerBytes, null, false);
        }

        int max() {
            return framing.maxLength();
        }

        /** Header or delimiter bytes around a payload (a line may end in \r\n). */
        int overhead() {
            return headerBytes > 0 ? headerBytes : delimiter.length + (lines ? 1 : 0);
        }

        /** {@code raw} cut to the maximum and cleaned so that this framing can carry it. */
        byte[] carriable(byte[] raw) {
            byte[] p = Arrays.copyOf(raw, Math.min(raw.length, max()));
            if (lines) {
                for (int i = 0; i < p.length; i++) {
                    if (p[i] == '\n') {
                        p[i] = 'x';
                    }
                }
                if (p.length > 0 && p[p.length - 1] == '\r') {
                    p[p.length - 1] = 'x';
                }
                return p;
            }
            return delimiter == null ? p : TestSupport.withoutDelimiter(p, delimiter);
        }

        @Override
        public String toString() {
            return framing.toString();
        }
    }

    enum Outcome { COMPLETE, TRUNCATED, TOO_LONG, CORRUPT }

    /**
     * The framing rules applied to the whole input at once, written as plainly as
     * possible and independently of the decoders, which must agree with it however
     * the input is cut.
     */
    static final class Reference {
        final List<byte[]> frames = new ArrayList<>();
        /** For each frame, the input offset just past its last byte (delimiter included). */
        final List<Integer> ends = new ArrayList<>();
        Outcome outcome = Outcome.COMPLETE;
        /**
         * For {@code TOO_LONG} and {@code CORRUPT}, how many input bytes it takes to know the
         * input is invalid: the decoder must fail on the read that brings the byte at
         * {@code invalidAt - 1}, not earlier and not later. Otherwise the input's length.
         */
        int invalidAt;

        static Reference decode(Spec spec, byte[] in) {
            Reference r = new Reference();
            r.invalidAt = in.length;
            int pos = 0;
            while (pos < in.length) {
                if (spec.headerBytes() > 0) {
                    int h = spec.headerBytes();
                    if (in.length - pos < h) {
                        r.outcome = Outcome.TRUNCATED;
                        return r;
                    }
                    long length = 0;
                    for (int i = 0; i < h; i++) {
                        length = length << 8 | (in[pos + i] & 0xFF);
                    }
                    if (length < 0) {
                        r.outcome = Outcome.CORRUPT;
                        r.invalidAt = pos + h;
                        return r;
                    }
                    if (length > spec.max()) {
                        r.outcome = Outcome.TOO_LONG;
                        r.invalidAt = pos + h;
                        return r;
                    }
                    if (in.length - pos - h < length) {
                        r.outcome = Outcome.TRUNCATED;
                        return r;
                    }
                    r.frames.add(Arrays.copyOfRange(in, pos + h, pos + h + (int) length));
                    pos += h + (int) length;
                    r.ends.add(pos);
                } else {
                    byte[] d = spec.delimiter();
                    int rawMax = spec.max() + (spec.lines() ? 1 : 0);
                    int found = -1;
                    for (int i = pos; i + d.length <= in.length && found < 0; i++) {
                        if (Arrays.equals(in, i, i + d.length, d, 0, d.length)) {
                            found = i;
                        }
                    }
                    if (found < 0) {
                        // No delimiter yet: fatal only once no valid frame could still end.
                        r.outcome = in.length - pos > rawMax + d.length - 1 ? Outcome.TOO_LONG : Outcome.TRUNCATED;
                        if (r.outcome == Outcome.TOO_LONG) {
                            r.invalidAt = pos + rawMax + d.length;
                        }
                        return r;
                    }
                    int end = found;
                    if (spec.lines() && end > pos && in[end - 1] == '\r') {
                        end--;
                    }
                    if (found - pos > rawMax || end - pos > spec.max()) {
                        r.outcome = Outcome.TOO_LONG;
                        // Too far for the delimiter to end a valid frame: known as soon as the
                        // bytes that could have held one are in; otherwise only at the delimiter
                        // (a line one byte over, whose last byte is not \r).
                        r.invalidAt = found - pos > rawMax ? pos + rawMax + d.length : found + d.length;
                        return r;
                    }
                    r.frames.add(Arrays.copyOfRange(in, pos, end));
                    pos = found + d.length;
                    r.ends.add(pos);
                }
            }
            return r;
        }
    }
}
