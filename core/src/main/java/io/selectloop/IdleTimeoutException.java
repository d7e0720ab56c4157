package io.selectloop;

import java.io.IOException;

/**
 * A connection was closed because it stayed idle past its timeout while it could not
 * be closed gracefully (its pending output was not being taken by the peer).
 */
public final class IdleTimeoutException extends IOException {
    public IdleTimeoutException(String message) {
        super(message);
    }
}
