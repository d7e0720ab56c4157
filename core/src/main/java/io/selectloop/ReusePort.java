package io.selectloop;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;

/** SO_REUSEPORT for listening sockets: several listeners on one port. Any thread. */
final class ReusePort {
    private static final boolean SUPPORTED = probe();

    private ReusePort() {
    }

    private static boolean probe() {
        try (ServerSocketChannel ch = ServerSocketChannel.open()) {
            return ch.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    static boolean supported() {
        return SUPPORTED;
    }

    /** Sets SO_REUSEPORT, or fails clearly where the platform has no such option. */
    static void enable(ServerSocketChannel channel) throws IOException {
        if (!channel.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT)) {
            throw new UnsupportedOperationException("SO_REUSEPORT (StreamOptions.reusePort) is not supported on "
                    + System.getProperty("os.name") + " by this JDK");
        }
        channel.setOption(StandardSocketOptions.SO_REUSEPORT, true);
    }

    /**
     * Listeners that set SO_REUSEPORT themselves could silently join a port that another
     * SO_REUSEPORT server already serves. Where the user did not ask to share the port,
     * bind it once without the option first, so that a port in use fails as it always did.
     */
    static void requirePortFree(InetSocketAddress address, boolean reuseAddress) throws IOException {
        try (ServerSocketChannel probe = ServerSocketChannel.open()) {
            probe.setOption(StandardSocketOptions.SO_REUSEADDR, reuseAddress);
            probe.socket().bind(address, 1);
        }
    }
}
