package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.EventLoop;
import io.selectloop.StreamServer;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The load generator against in-process servers, good and broken. */
class LoadGeneratorTest {
    private static final Duration WARMUP = Duration.ofMillis(100);
    private static final Duration DURATION = Duration.ofMillis(300);
    private static final InetSocketAddress ANY_PORT = new InetSocketAddress("127.0.0.1", 0);

    private AutoCloseable server;

    @AfterEach
    void stopServer() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private InetSocketAddress start(EchoServerImpl impl) throws Exception {
        EchoServerImpl.RunningServer running = impl.start(ANY_PORT, EchoServerImpl.ServerSettings.defaults());
        server = running;
        return running.localAddress();
    }

    private static LoadResult run(LoadSpec spec) throws InterruptedException {
        return new LoadGenerator(spec.withProgress(false).withIoThreads(2)).run(LoadGenerator.PhaseListener.NONE);
    }

    private static void assertClean(LoadResult r) {
        assertEquals(0, r.errors(), () -> "errors: " + r.errorSamples());
        assertTrue(r.messages() > 0, "no message completed");
        assertTrue(r.latency().getTotalCount() > 0, "no latency recorded");
        assertTrue(r.measuredSeconds() > 0);
    }

    @Test
    void closedLoopWithPipeliningEchoesEveryByteIntact() throws Exception {
        InetSocketAddress address = start(new ReactorEchoServer());
        LoadResult r = run(LoadSpec.closedLoop(address, 20, 64, 16, WARMUP, DURATION));
        assertClean(r);
        assertEquals(20, r.connectionsUp());
    }

    @Test
    void messagesThatDoNotFitOneReadOrOneBufferAreReassembled() throws Exception {
        InetSocketAddress address = start(new ReactorEchoServer());
        assertClean(run(LoadSpec.closedLoop(address, 3, 13, 5, WARMUP, DURATION)));
        assertClean(run(LoadSpec.closedLoop(address, 2, 200_000, 2, WARMUP, DURATION)));
    }

    @Test
    void openLoopSendsAtTheRateAndVerifies() throws Exception {
        InetSocketAddress address = start(new ReactorEchoServer());
        LoadResult r = run(LoadSpec.closedLoop(address, 10, 64, 1, WARMUP, DURATION).withRate(2000));
        assertClean(r);
        // The generator's own send lag is measured for open loop: one value per message sent
        // in the measured interval, each no later than that message's whole latency.
        assertTrue(r.sendLag() != null && r.sendLag().getTotalCount() > 0, "send lag recorded");
        assertTrue(r.sendLag().getMaxValue() <= r.latency().getMaxValue() + 1_000_000, "send lag within the latency");
        assertEquals(null, run(LoadSpec.closedLoop(address, 2, 64, 1, WARMUP, DURATION)).sendLag(), "closed loop has none");
    }

    @Test
    void idleConnectionsAreHeldWhileAFewSend() throws Exception {
        InetSocketAddress address = start(new ReactorEchoServer());
        LoadResult r = run(LoadSpec.closedLoop(address, 60, 64, 1, WARMUP, DURATION).withActiveConnections(4));
        assertClean(r);
        assertEquals(60, r.connectionsUp());
    }

    @Test
    void churnConnectsEchoesAndClosesAgainAndAgain() throws Exception {
        InetSocketAddress address = start(new ReactorEchoServer());
        LoadResult r = run(LoadSpec.churn(address, 8, 64, WARMUP, DURATION));
        assertClean(r);
    }

    @Test
    void aFlippedByteIsAnError() throws Exception {
        InetSocketAddress address = start(new CorruptingEchoServer());
        LoadResult r = run(LoadSpec.closedLoop(address, 4, 64, 1, WARMUP, DURATION));
        assertTrue(r.errors() > 0, "a corrupting server went unnoticed");
        assertTrue(r.errorSamples().stream().anyMatch(e -> e.contains("corrupted")), r.errorSamples()::toString);
    }

    @Test
    void aServerThatHangsUpIsAnError() throws Exception {
        EventLoop loop = EventLoop.start("hang-up");
        StreamServer hangUp = StreamServer.bind(loop, ANY_PORT, () -> (c, data) -> c.close());
        server = () -> loop.shutdownGracefully(Duration.ofSeconds(1)).join();
        LoadResult r = run(LoadSpec.closedLoop((InetSocketAddress) hangUp.localAddress(), 3, 64, 1, WARMUP, DURATION));
        assertTrue(r.errors() >= 3, () -> "errors " + r.errors() + ": " + r.errorSamples());
        assertTrue(r.errorSamples().stream().anyMatch(e -> e.contains("closed by the server")), r.errorSamples()::toString);
    }

    @Test
    void nobodyListeningIsAnErrorPerConnection() throws Exception {
        InetSocketAddress address = start(new ReactorEchoServer());
        server.close();
        server = null;
        LoadResult r = run(LoadSpec.closedLoop(address, 5, 64, 1, WARMUP, DURATION));
        assertEquals(5, r.errors(), r.errorSamples()::toString);
        assertEquals(0, r.messages());
    }
}
