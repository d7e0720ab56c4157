package io.selectloop;

import java.nio.ByteBuffer;

/** {@link Framing#lengthPrefixed}: a big-endian unsigned payload length, then the payload. */
final class LengthPrefixedFraming extends Framing {
    private final int headerBytes;

    LengthPrefixedFraming(int headerBytes, int maxLength) {
        super(maxLength);
        if (headerBytes != 1 && headerBytes != 2 && headerBytes != 4 && headerBytes != 8) {
            throw new IllegalArgumentException("headerBytes must be 1, 2, 4 or 8, was " + headerBytes);
        }
        long expressible = headerBytes == 8 ? Long.MAX_VALUE : (1L << (8 * headerBytes)) - 1;
        if (maxLength > expressible) {
            throw new IllegalArgumentException("a " + headerBytes + "-byte header can express at most " + expressible
                    + ", so maxLength " + maxLength + " cannot be reached");
        }
        this.headerBytes = headerBytes;
    }

    int headerBytes() {
        return headerBytes;
    }

    @Override
    public Handler handler(FrameHandler frames) {
        return new Decoder(frames);
    }

    @Override
    void checkContent(ByteBuffer payload) {
        // any bytes will do
    }

    @Override
    ByteBuffer prefix(int length) {
        ByteBuffer header = ByteBuffer.allocate(headerBytes);
        long value = length;
        for (int shift = 8 * (headerBytes - 1); shift >= 0; shift -= 8) {
            header.put((byte) (value >>> shift));
        }
        return header.flip();
    }

    @Override
    ByteBuffer suffix(int length) {
        return null;
    }

    @Override
    public String toString() {
        return "Framing.lengthPrefixed(" + headerBytes + ", " + maxLength() + ")";
    }

    /** The length, checked against the maximum before a single payload byte is kept. */
    private int checkedLength(long declared) throws FramingException {
        if (declared < 0) {
            throw new CorruptFrameException("the " + headerBytes + "-byte length header 0x" + Long.toHexString(declared)
                    + " has its top bit set: no frame is that long");
        }
        if (declared > maxLength()) {
            throw new FrameTooLongException(maxLength(), declared, "the length header declares a frame of " + declared
                    + " bytes, over the maximum of " + maxLength());
        }
        return (int) declared;
    }

    /** One connection's state: a partial header, or a known length and part of the payload. */
    private final class Decoder extends FrameDecoder {
        /** Header bytes received so far of a header split across reads (0 between frames). */
        private int headerSeen;
        private long headerValue;
        /** Payload length of the frame being accumulated, or -1. */
        private int frameLength = -1;

        Decoder(FrameHandler frames) {
            super(frames);
        }

        @Override
        void decode(Connection c, ByteBuffer data) throws Exception {
            if ((headerSeen > 0 || frameLength >= 0) && !completePartial(c, data)) {
                return;
            }
            int h = headerBytes;
            while (data.remaining() >= h) {
                int start = data.position();
                int length = checkedLength(readHeader(data, start));
                if (data.remaining() - h < length) {
                    data.position(start + h);
                    frameLength = length;
                    holdPayload(data, data.remaining());
                    return;
                }
                data.position(start + h + length);
                if (!deliver(c, data.slice(start + h, length))) {
                    return;
                }
            }
            while (data.hasRemaining()) {
                headerValue = headerValue << 8 | (data.get() & 0xFF);
                headerSeen++;
            }
        }

        /**
         * Continues the frame begun in an earlier read. Returns true when it was delivered
         * and decoding goes on with the rest of {@code data}; false when {@code data} was
         * used up (or the connection closed).
         */
        private boolean completePartial(Connection c, ByteBuffer data) throws Exception {
            if (frameLength < 0) {
                while (headerSeen < headerBytes && data.hasRemaining()) {
                    headerValue = headerValue << 8 | (data.get() & 0xFF);
                    headerSeen++;
                }
                if (headerSeen < headerBytes) {
                    return false;
                }
                int length = checkedLength(headerValue);
                headerSeen = 0;
                headerValue = 0;
                if (data.remaining() >= length) {
                    // Only the header was split: the payload is whole in this read, no copy.
                    int start = data.position();
                    data.position(start + length);
                    return deliver(c, data.slice(start, length));
                }
                frameLength = length;
                holdPayload(data, data.remaining());
                return false;
            }
            int missing = frameLength - held();
            if (held() == 0 && data.remaining() >= missing) {
                // The header came alone and the payload is whole in this read: no copy.
                int start = data.position();
                data.position(start + missing);
                frameLength = -1;
                return deliver(c, data.slice(start, missing));
            }
            if (data.remaining() < missing) {
                holdPayload(data, data.remaining());
                return false;
            }
            holdPayload(data, missing);
            int length = frameLength;
            frameLength = -1;
            return deliverHeld(c, length);
        }

        private void holdPayload(ByteBuffer data, int count) {
            hold(data, count, frameLength);
        }

        private long readHeader(ByteBuffer data, int at) {
            long value = 0;
            for (int i = 0; i < headerBytes; i++) {
                value = value << 8 | (data.get(at + i) & 0xFF);
            }
            return value;
        }

        @Override
        boolean holdsPartialFrame() {
            return headerSeen > 0 || frameLength >= 0;
        }

        @Override
        String describePartialFrame() {
            return frameLength >= 0 ? held() + " of " + frameLength + " payload bytes received"
                    : headerSeen + " of " + headerBytes + " header bytes received";
        }

        @Override
        void resetPartialFrame() {
            headerSeen = 0;
            headerValue = 0;
            frameLength = -1;
        }
    }
}
