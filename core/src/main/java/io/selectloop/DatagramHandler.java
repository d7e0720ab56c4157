package io.selectloop;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;

/**
 * What a {@link DatagramEndpoint} does with its events: asyncio's
 * {@code DatagramProtocol}. Every method is called on the endpoint's loop thread, one at
 * a time.
 *
 * <p>Only {@link #onDatagram} is abstract, so a UDP echo server is one lambda:
 * <pre>{@code DatagramEndpoint.bind(loop, address, (endpoint, sender, data) -> endpoint.send(data, sender));}</pre>
 *
 * <p>An endpoint serves every peer through one socket, so an exception thrown by
 * {@code onDatagram} does not close it (that would punish every peer for one bad
 * datagram): it is counted in {@link DatagramEndpoint#handlerErrorCount()} and logged
 * (the first at WARN, the rest at DEBUG), and the endpoint goes on.
 */
@FunctionalInterface
public interface DatagramHandler {

    /** The endpoint is registered with its loop and receiving. If this throws, the endpoint is closed. */
    default void onOpen(DatagramEndpoint endpoint) throws Exception {
    }

    /**
     * A datagram arrived. {@code data} holds exactly the datagram (never a truncated one:
     * see {@link DatagramOptions.Builder#maxDatagramSize}) and is a view of just those
     * bytes in the loop's shared read buffer (its capacity is the datagram's length, so
     * no other peer's bytes are within reach), valid only during this call; {@link DatagramEndpoint#send}
     * copies what it cannot send at once, so echoing it straight back is fine.
     */
    void onDatagram(DatagramEndpoint endpoint, SocketAddress sender, ByteBuffer data) throws Exception;

    /**
     * A send or receive failed without ending the endpoint: asyncio's
     * {@code error_received}. Typically a {@link java.net.PortUnreachableException} on a
     * connected endpoint (the peer's host answered with ICMP port unreachable), or a
     * datagram the network refused ("Message too long"). The datagram concerned is lost.
     */
    default void onError(DatagramEndpoint endpoint, IOException error) {
    }

    /**
     * The endpoint is closed; called exactly once, last.
     *
     * @param cause null for {@link DatagramEndpoint#close()} or a graceful loop shutdown;
     *     otherwise what closed it (an exception from {@link #onOpen}, or a loop shutdown
     *     that had to drop queued datagrams)
     */
    default void onClose(DatagramEndpoint endpoint, Throwable cause) {
    }
}
