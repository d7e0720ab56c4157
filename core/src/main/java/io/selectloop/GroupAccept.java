package io.selectloop;

/**
 * How a server bound to an {@link EventLoopGroup} spreads connections over the loops:
 * see {@link StreamOptions.Builder#groupAccept}. bench/README.md has the measurements
 * behind the default.
 */
public enum GroupAccept {
    /**
     * One listening socket per loop, all on the same port with SO_REUSEPORT: the kernel
     * spreads connections over them, and each loop accepts its own, so no connection
     * crosses threads. Where it cannot apply (a Unix domain socket, a platform without
     * SO_REUSEPORT) the server uses {@link #HAND_OFF}.
     *
     * <p>The listeners carry SO_REUSEPORT, so while the server runs, another socket of
     * the same user that also sets it could join the port; {@code bind} still fails if
     * the port is taken when it is called, as it does without SO_REUSEPORT. Use
     * {@link #HAND_OFF} where that matters.
     */
    LISTENER_PER_LOOP,
    /**
     * One listening socket on one loop of the group, which hands each accepted connection
     * to the group's next loop, round-robin ({@link EventLoop#execute}). The default: at 2
     * loops it sustained more connect-echo-close cycles per second in most measured rounds,
     * and the same throughput within the noise (bench/README.md, "Scale-out").
     */
    HAND_OFF
}
