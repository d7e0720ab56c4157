package io.selectloop.echo;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * The well-behaved peer that stays connected through a whole attack: one frame at a time
 * (the next only once the last has come back), a few dozen a second, each echo checked
 * byte for byte. What it sent and never got back is what the attack made the server lose.
 * Its own swarm, so that the attackers' quiet is not disturbed by its traffic.
 */
final class SteadyClient implements AutoCloseable {
    private static final Duration PACE = Duration.ofMillis(20);
    /** Round trips that must complete to count as "served": more than one, so a lucky one does not count. */
    private static final int PROOF_OF_SERVICE = 3;

    private final Wire wire;
    private final PeerSwarm swarm;
    private final PeerSwarm.Peer peer;

    private SteadyClient(Wire wire, PeerSwarm swarm) {
        this.wire = wire;
        this.swarm = swarm;
        this.peer = swarm.peers().get(0);
    }

    static SteadyClient start(InetSocketAddress server, Wire wire, Duration lifetime) throws Exception {
        PeerSwarm.Plan plan = PeerSwarm.Plan.send(wire.wellBehavedStream(), Long.MAX_VALUE)
                .trickle(wire.frameSize(), PACE)
                .unechoedAtMost(wire.frameSize())
                .reading(PeerSwarm.Reading.VERIFY);
        SteadyClient client = new SteadyClient(wire, PeerSwarm.start(server, List.of(plan), lifetime));
        if (!client.servedWithin(HostileScale.patience())) {
            client.close();
            throw new AssertionError("the steady client was not served before any attack: " + client.peer);
        }
        return client;
    }

    long roundTrips() {
        return peer.received() / wire.frameSize();
    }

    /** True if a few more round trips complete within {@code atMost}: the server is serving it now. */
    boolean servedWithin(Duration atMost) {
        long target = roundTrips() + PROOF_OF_SERVICE;
        try {
            Awaitility.await().atMost(atMost).pollInterval(Duration.ofMillis(20))
                    .until(() -> roundTrips() >= target || peer.end() != null);
        } catch (ConditionTimeoutException e) {
            return false;
        }
        return roundTrips() >= target;
    }

    /**
     * Stops sending, waits for the echoes still owed, and returns the bytes that never came
     * back (0 when nothing was lost). A wrong byte counts as everything from it on.
     */
    long stopAndCountLost(Duration atMost) {
        swarm.stopSending();
        try {
            Awaitility.await().atMost(atMost).pollInterval(Duration.ofMillis(20))
                    .until(() -> peer.received() >= peer.sent() || peer.end() != null);
        } catch (ConditionTimeoutException e) {
            // what is still missing is counted below
        }
        long correct = peer.firstMismatch() >= 0 ? peer.firstMismatch() : peer.received();
        return peer.sent() - correct;
    }

    /** For failure messages. */
    String describe() {
        return peer.toString() + ", " + roundTrips() + " round trips";
    }

    @Override
    public void close() throws InterruptedException {
        swarm.close();
    }
}
