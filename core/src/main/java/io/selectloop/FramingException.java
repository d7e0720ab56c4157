package io.selectloop;

import java.io.IOException;

/**
 * The peer sent bytes that the connection's {@link Framing} cannot turn into frames.
 * This is the peer's fault, not the application's: the framing closes that one
 * connection and passes the exception to {@link FrameHandler#onClose}; every other
 * connection carries on.
 *
 * <p>The two kinds are {@link FrameTooLongException} (a frame over the framing's
 * maximum) and {@link CorruptFrameException} (bytes that cannot be a frame at all).
 */
public abstract sealed class FramingException extends IOException
        permits FrameTooLongException, CorruptFrameException {

    FramingException(String message) {
        super(message);
    }
}
