package io.selectloop.bench;

import java.net.InetSocketAddress;

/**
 * An impl that can never run, for the tests: it proves the "unavailable" exit status on
 * every JDK, where {@code virtual} proves it only below 21. Registered through
 * {@code META-INF/services}.
 */
public final class UnavailableEchoServer implements EchoServerImpl {

    @Override
    public String name() {
        return "never-available";
    }

    @Override
    public String unavailableReason() {
        return "this test impl never runs";
    }

    @Override
    public RunningServer start(InetSocketAddress address, ServerSettings settings) {
        throw new IllegalStateException("unavailable: must not be started");
    }
}
