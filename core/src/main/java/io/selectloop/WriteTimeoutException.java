package io.selectloop;

import java.io.IOException;

/**
 * A connection's output could not be delivered in time: either queued output made no
 * progress for {@link StreamOptions#writeStallTimeout()}, or a {@link Connection#close()}
 * could not finish flushing within {@link StreamOptions#closeTimeout()}. The connection
 * was aborted (reset), and its unsent output dropped.
 */
public final class WriteTimeoutException extends IOException {
    public WriteTimeoutException(String message) {
        super(message);
    }
}
