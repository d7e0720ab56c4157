package io.selectloop;

/**
 * Whether a server expects the PROXY protocol header (HAProxy's
 * {@code proxy-protocol.txt}, versions 1 and 2) at the start of each accepted connection:
 * see {@link StreamOptions.Builder#proxyProtocol}.
 *
 * <p>With a header, the handler is opened only once the whole header has arrived; then
 * {@link Connection#remoteAddress()} and {@link Connection#localAddress()} are the
 * addresses it carries (for {@code UNKNOWN} / {@code LOCAL} headers, the socket's own), and
 * {@link Connection#proxyHeader()} holds the header with its v2 TLVs. The bytes after the
 * header reach {@link Handler#onData} untouched, in the same read. A malformed or
 * oversized header, or one not complete within {@link StreamOptions#proxyHeaderTimeout()},
 * closes that connection with a {@link ProxyProtocolException}: the handler is then never
 * opened, but its {@link Handler#onClose} is called with that cause.
 *
 * <p>Only a trusted balancer may send the header (it sets the address a handler sees):
 * listen where only the balancer can connect.
 */
public enum ProxyProtocol {
    /** No header is expected; bytes are the application's from the first. The default. */
    OFF,
    /**
     * A header may come: a connection whose first bytes are a v1 or v2 signature must
     * carry a valid header; any other first bytes are the application's, delivered as they
     * came. A connection that sends nothing within the header timeout is opened without a
     * header (so protocols where the server speaks first still work, a timeout late).
     */
    OPTIONAL,
    /** Every connection must start with a header (v1 or v2); anything else is closed. */
    REQUIRED
}
