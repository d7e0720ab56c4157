package io.selectloop;

import java.net.ConnectException;
import java.net.SocketAddress;
import java.time.Duration;

/**
 * A {@link StreamClient#connect} did not complete within its timeout: typically the peer's
 * host dropped the SYN (a firewall, or a listener whose accept queue is full). A
 * {@link ConnectException}, so code that handles "could not connect" handles this too.
 */
public final class ConnectTimeoutException extends ConnectException {
    private final SocketAddress address;
    private final Duration timeout;

    public ConnectTimeoutException(SocketAddress address, Duration timeout) {
        super("connect to " + address + " timed out after " + timeout.toMillis() + " ms");
        this.address = address;
        this.timeout = timeout;
    }

    /** The address that did not answer in time. */
    public SocketAddress address() {
        return address;
    }

    /** The timeout that expired. */
    public Duration timeout() {
        return timeout;
    }
}
