package io.selectloop;

import java.io.IOException;

/**
 * A connection's PROXY protocol header was malformed, too long, missing where required,
 * or too slow to arrive: that connection is closed with this cause (see
 * {@link ProxyProtocol}); every other connection carries on.
 */
public final class ProxyProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    public ProxyProtocolException(String message) {
        super(message);
    }
}
