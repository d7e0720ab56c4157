package io.selectloop;

/**
 * The peer sent bytes that cannot be a frame: a length header no valid frame can have
 * (an 8-byte length with its top bit set), or an end of input in the middle of a frame.
 */
public final class CorruptFrameException extends FramingException {

    CorruptFrameException(String message) {
        super(message);
    }
}
