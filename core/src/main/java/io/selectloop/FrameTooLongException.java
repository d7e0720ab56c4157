package io.selectloop;

/**
 * A frame was longer than the framing's maximum. Thrown as soon as that is known (a
 * length header over the maximum, or more bytes than the maximum without a delimiter),
 * before the frame is buffered, so a peer cannot make the server hold more than the
 * maximum for it.
 */
public final class FrameTooLongException extends FramingException {
    private final long limit;
    private final long size;

    FrameTooLongException(long limit, long size, String message) {
        super(message);
        this.limit = limit;
        this.size = size;
    }

    /** The framing's maximum payload length in bytes. */
    public long limit() {
        return limit;
    }

    /**
     * The size seen: for a length-prefixed framing the length the header declared; for
     * a delimited one the bytes received without a delimiter when the decoder gave up
     * (or the length of a frame whose delimiter came too late).
     */
    public long size() {
        return size;
    }
}
