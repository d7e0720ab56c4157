package io.selectloop;

import java.nio.ByteBuffer;

/**
 * {@link Framing#delimited} and {@link Framing#lines}: each payload is followed by the
 * delimiter, and a frame ends at the delimiter's first occurrence.
 */
final class DelimitedFraming extends Framing {
    private final byte[] delimiter;
    /** Lines: a {@code \r} before the {@code \n} belongs to the line ending, not the frame. */
    private final boolean stripCr;
    /** Longest run of frame bytes before the delimiter: one more for lines, for the {@code \r}. */
    private final int maxRaw;
    /**
     * Most bytes held without a delimiter: the longest frame plus all but the last byte
     * of its delimiter. One byte more and the frame is certainly too long.
     */
    private final int maxHeld;

    DelimitedFraming(byte[] delimiter, int maxLength, boolean stripCr) {
        super(maxLength);
        this.delimiter = delimiter;
        this.stripCr = stripCr;
        long raw = maxLength + (stripCr ? 1L : 0L);
        long held = raw + delimiter.length - 1;
        if (held > MAX_FRAME_LENGTH) {
            throw new IllegalArgumentException("maxLength " + maxLength + " with a " + delimiter.length
                    + "-byte delimiter is over the maximum of " + MAX_FRAME_LENGTH);
        }
        this.maxRaw = (int) raw;
        this.maxHeld = (int) held;
    }

    @Override
    public Handler handler(FrameHandler frames) {
        return new Decoder(frames);
    }

    @Override
    void checkContent(ByteBuffer payload) {
        int from = payload.position();
        int length = payload.remaining();
        if (stripCr) {
            for (int i = 0; i < length; i++) {
                if (payload.get(from + i) == '\n') {
                    throw new IllegalArgumentException("a line must not contain \\n (found at offset " + i + ")");
                }
            }
            if (length > 0 && payload.get(from + length - 1) == '\r') {
                throw new IllegalArgumentException("a line must not end with \\r: the reader would strip it");
            }
            return;
        }
        // An occurrence may also start inside the payload and end inside the delimiter that
        // follows it (payload "ab" then delimiter "aba" reads as "" + "aba" + "ba").
        for (int i = 0; i < length; i++) {
            if (payload.get(from + i) == delimiter[0] && delimiterStartsAt(payload, from, length, i)) {
                throw new IllegalArgumentException("the payload contains the delimiter " + hex(delimiter)
                        + " (starting at offset " + i + "), so the reader would end the frame there");
            }
        }
    }

    /** Whether the delimiter occurs at {@code i} in the payload followed by the delimiter. */
    private boolean delimiterStartsAt(ByteBuffer payload, int from, int length, int i) {
        for (int k = 0; k < delimiter.length; k++) {
            int at = i + k;
            byte b = at < length ? payload.get(from + at) : delimiter[at - length];
            if (b != delimiter[k]) {
                return false;
            }
        }
        return true;
    }

    @Override
    ByteBuffer prefix(int length) {
        return null;
    }

    @Override
    ByteBuffer suffix(int length) {
        return ByteBuffer.wrap(delimiter).asReadOnlyBuffer();
    }

    @Override
    public String toString() {
        return stripCr ? "Framing.lines(" + maxLength() + ")"
                : "Framing.delimited(" + hex(delimiter) + ", " + maxLength() + ")";
    }

    private static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder("[");
        for (byte b : bytes) {
            s.append(s.length() > 1 ? " " : "").append(String.format("%02x", b & 0xFF));
        }
        return s.append(']').toString();
    }

    /**
     * {@code seen} bytes arrived without a delimiter. Reported as the frame's length so
     * far: what was seen, less what may yet turn out to be the start of the delimiter
     * (and of a line's {@code \r}), which is exactly one more than the maximum.
     */
    private FrameTooLongException noDelimiter(long seen) {
        long frameAtLeast = seen - (delimiter.length - 1) - (stripCr ? 1 : 0);
        return new FrameTooLongException(maxLength(), frameAtLeast, "a frame of at least " + frameAtLeast
                + " bytes (no delimiter yet), over the maximum of " + maxLength());
    }

    /** The payload length of {@code raw} bytes before the delimiter, checked against the maximum. */
    private int payloadLength(int raw, boolean endsWithCr) throws FrameTooLongException {
        int length = stripCr && endsWithCr ? raw - 1 : raw;
        if (length > maxLength()) {
            throw new FrameTooLongException(maxLength(), length, "a frame of " + length
                    + " bytes is over the maximum of " + maxLength());
        }
        return length;
    }

    /** One connection's state: the bytes of a frame whose delimiter has not arrived yet. */
    private final class Decoder extends FrameDecoder {
        private final int dlen = delimiter.length;

        Decoder(FrameHandler frames) {
            super(frames);
        }

        @Override
        void decode(Connection c, ByteBuffer data) throws Exception {
            if (held() > 0 && !completeHeld(c, data)) {
                return;
            }
            while (data.hasRemaining()) {
                int start = data.position();
                int limit = data.limit();
                // A delimiter beginning past maxRaw would end a frame that is too long, so
                // look no further: a flood without delimiters is rejected after maxHeld + 1 bytes.
                int windowEnd = (int) Math.min(limit, (long) start + maxHeld + 1);
                int at = indexOf(data, start, windowEnd);
                if (at < 0) {
                    int seen = windowEnd - start;
                    if (seen > maxHeld) {
                        throw noDelimiter(seen);
                    }
                    hold(data, seen, maxHeld);
                    return;
                }
                int raw = at - start;
                int length = payloadLength(raw, raw > 0 && data.get(at - 1) == '\r');
                data.position(at + dlen);
                if (!deliver(c, data.slice(start, length))) {
                    return;
                }
            }
        }

        /**
         * Continues the frame begun in earlier reads. Returns true when it was delivered and
         * decoding goes on with the rest of {@code data}; false when {@code data} was used
         * up (or the connection closed).
         */
        private boolean completeHeld(Connection c, ByteBuffer data) throws Exception {
            int held = held();
            // A delimiter that began in the held bytes and ends in this read. The held bytes
            // contain no whole delimiter, so only their last dlen - 1 can start one.
            for (int p = Math.max(0, held - dlen + 1); p < held; p++) {
                int inHeld = held - p;
                int inData = dlen - inHeld;
                if (inData > data.remaining()) {
                    break; // undecided until more arrives; a later start needs even more
                }
                if (heldMatch(p, inHeld) && dataMatch(data, inHeld, inData)) {
                    data.position(data.position() + inData);
                    return deliverHeld(c, payloadLength(p, p > 0 && heldByte(p - 1) == '\r'));
                }
            }
            int start = data.position();
            int windowEnd = (int) Math.min(data.limit(), (long) start + maxHeld + 1 - held);
            int at = indexOf(data, start, windowEnd);
            if (at < 0) {
                long seen = (long) held + (windowEnd - start);
                if (seen > maxHeld) {
                    throw noDelimiter(seen);
                }
                hold(data, windowEnd - start, maxHeld);
                return false;
            }
            int raw = held + (at - start);
            boolean endsWithCr = at > start ? data.get(at - 1) == '\r' : heldByte(held - 1) == '\r';
            int length = payloadLength(raw, endsWithCr);
            hold(data, at - start, maxHeld);
            data.position(at + dlen);
            return deliverHeld(c, length);
        }

        private boolean heldMatch(int from, int count) {
            for (int k = 0; k < count; k++) {
                if (heldByte(from + k) != delimiter[k]) {
                    return false;
                }
            }
            return true;
        }

        private boolean dataMatch(ByteBuffer data, int delimiterOffset, int count) {
            int at = data.position();
            for (int k = 0; k < count; k++) {
                if (data.get(at + k) != delimiter[delimiterOffset + k]) {
                    return false;
                }
            }
            return true;
        }

        /** The first index in [from, to - dlen] where the whole delimiter occurs, or -1. */
        private int indexOf(ByteBuffer data, int from, int to) {
            byte first = delimiter[0];
            int last = to - dlen;
            for (int i = from; i <= last; i++) {
                if (data.get(i) == first && wholeMatch(data, i)) {
                    return i;
                }
            }
            return -1;
        }

        private boolean wholeMatch(ByteBuffer data, int at) {
            for (int k = 1; k < dlen; k++) {
                if (data.get(at + k) != delimiter[k]) {
                    return false;
                }
            }
            return true;
        }

        @Override
        boolean holdsPartialFrame() {
            return held() > 0;
        }

        @Override
        String describePartialFrame() {
            return held() + " bytes without a delimiter";
        }

        @Override
        void resetPartialFrame() {
            // the held bytes are the whole state
        }
    }
}
