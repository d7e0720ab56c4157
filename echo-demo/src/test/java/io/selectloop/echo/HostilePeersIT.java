package io.selectloop.echo;

import static io.selectloop.echo.HostileScale.FULL;
import static io.selectloop.echo.HostileScale.patience;
import static io.selectloop.echo.HostileScale.pick;
import static io.selectloop.echo.ProcessProbe.mebibytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.echo.PeerSwarm.ByteSource;
import io.selectloop.echo.PeerSwarm.End;
import io.selectloop.echo.PeerSwarm.Finish;
import io.selectloop.echo.PeerSwarm.Peer;
import io.selectloop.echo.PeerSwarm.Plan;
import io.selectloop.echo.PeerSwarm.Reading;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The hostile-peer suite: the echo demo in a child JVM against peers that try to exhaust
 * its memory, hold its connections forever, or break its framing. Every scenario checks
 * the same four things once its attack is in place: the server is alive and serves a
 * fresh client during and after the attack, a well-behaved client connected throughout
 * ({@link SteadyClient}) keeps being served and loses nothing, peak resident memory stays
 * under the budget plus a fixed overhead ({@link DemoUnderAttack#memoryLimit}), and the
 * server's descriptor count is back at its idle baseline once the attackers are gone.
 * Each prints one {@code HOSTILE scenario=...} line before asserting.
 *
 * <p>Smoke sizes by default; {@code -Phostile} runs the sizes ({@link HostileScale}).
 */
class HostilePeersIT {
    /** Each swarm stops by itself after this, even if its test never closes it. */
    private static final Duration SWARM_LIFETIME = Duration.ofMinutes(20);
    /** No byte moving for this long means the attackers have pushed all the server takes. */
    private static final Duration ATTACK_QUIET = Duration.ofSeconds(2);
    /** Nothing at all happening for this long: the server has stopped taking connections too. */
    private static final Duration ATTACK_STUCK = Duration.ofSeconds(10);
    /**
     * How long to keep waiting for the steady client once the server has been seen not to
     * serve a fresh one: the scenario has failed already, and the run should not spend
     * another minute proving it.
     */
    private static final Duration NOT_SERVING_ANYWAY = Duration.ofSeconds(2);
    /** Most time an attack may take to get in place: connecting thousands and pushing gigabytes. */
    private static final Duration ATTACK_SETUP = pick(Duration.ofMinutes(1), Duration.ofMinutes(10));
    /**
     * The heap given to servers in scenarios that do not run on the demo's defaults: small
     * in the smoke run, so that 200 peers can offer more than the heap and the default
     * budget (a quarter of it) is known to the test even from a server that prints none.
     */
    private static final List<String> HEAP = List.of(pick("-Xmx128m", "-Xmx1g"));
    private static final List<String> JVM_DEFAULTS = List.of();
    /** A line a never-reading peer asks to have echoed: 1 KiB, dividing the swarm's 64 KiB pattern buffer. */
    private static final byte[] KIB_LINE = kibLine();

    // ------------------------------------------------------------------ partial-frame flood

    /**
     * Peers each send up to --max-frame bytes of one line and never finish it: the server
     * must hold at most its budget for them (pausing, then shedding the biggest holders)
     * instead of buffering every one until the heap runs out. Full size: 10,000 peers
     * against the demo on its defaults, port aside.
     */
    @Test
    void partialFrameFlood() throws Exception {
        partialFrameFlood(pick(200, 10_000), FULL ? JVM_DEFAULTS : HEAP);
    }

    private void partialFrameFlood(int peers, List<String> jvmArgs, String... flags) throws Exception {
        try (DemoUnderAttack server = DemoUnderAttack.start(Wire.LINE, jvmArgs, flags);
             SteadyClient steady = SteadyClient.start(server.address, Wire.LINE, SWARM_LIFETIME)) {
            Plan unfinishedLine = Plan.send(ByteSource.repeat((byte) 'x'), server.maxFrame);
            AttackReport report = new AttackReport(server, steady, peers);
            long pushed;
            long shed;
            try (PeerSwarm attack = PeerSwarm.start(server.address, PeerSwarm.times(peers, unfinishedLine), SWARM_LIFETIME)) {
                report.attackInPlace(attack);
                report.duringAttack();
                pushed = attack.totalSent();
                shed = attack.endedByServerCount();
                report.afterAttack(attack);
            }
            Figure figure = Figure.of("partial-frame-flood").with("peers", peers).with("frame", server.maxFrame)
                    .with("settings", settings(jvmArgs, flags)).with("pushed_mb", mebibytes(pushed)).with("shed", shed);
            report.print(figure);
            report.assertServerHeld();
            assertTrue(server.reportedBudget().isPresent(), "the server prints its memory budget after 'listening on'; stdout: " + server.demo.stdout);
        }
    }

    // ------------------------------------------------------------------ never-reading peers

    /**
     * Peers send line after line and never read a byte of the echo: the server owes each
     * of them --owed bytes it cannot deliver. Every one must be closed once its output has
     * made no progress for the stall timeout, and memory stays bounded meanwhile.
     */
    @Test
    void neverReadingPeers() throws Exception {
        neverReadingPeers(pick(200, 1_000), pick(4L << 20, 32L << 20), HEAP, pick(2, 5));
    }

    /**
     * The same on the demo's defaults: the 60 s stall timeout, so only in the full run
     * (the default build excludes the tag; -Phostile includes it).
     */
    @Test
    @org.junit.jupiter.api.Tag("hostile-full")
    void neverReadingPeersOnDefaults() throws Exception {
        neverReadingPeers(1_000, 32L << 20, JVM_DEFAULTS, 0);
    }

    /** @param stallTimeoutSeconds passed as --stall-timeout; 0 leaves the demo's default of 60 s */
    private void neverReadingPeers(int peers, long owed, List<String> jvmArgs, int stallTimeoutSeconds) throws Exception {
        String[] flags = stallTimeoutSeconds > 0 ? new String[] {"--stall-timeout", String.valueOf(stallTimeoutSeconds)} : new String[0];
        Duration stall = Duration.ofSeconds(stallTimeoutSeconds > 0 ? stallTimeoutSeconds : 60);
        try (DemoUnderAttack server = DemoUnderAttack.start(Wire.LINE, jvmArgs, flags);
             SteadyClient steady = SteadyClient.start(server.address, Wire.LINE, SWARM_LIFETIME)) {
            Plan neverReads = Plan.send(ByteSource.cycle(KIB_LINE), owed).reading(Reading.NONE);
            AttackReport report = new AttackReport(server, steady, peers);
            boolean allClosed;
            long secondsToClose;
            long told;
            try (PeerSwarm attack = PeerSwarm.start(server.address, PeerSwarm.times(peers, neverReads), SWARM_LIFETIME)) {
                report.attackInPlace(attack);
                long inPlace = System.nanoTime();
                report.duringAttack();
                // Closed means closed on the server: its descriptors are back to the baseline
                // (plus the steady client) while the peers still hold their ends open.
                allClosed = awaitQuietly(() -> server.probe.openFileDescriptors() <= server.fileDescriptorBaseline() + 1,
                        stall.plus(patience()));
                secondsToClose = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - inPlace);
                told = attack.endedByServerCount();
                report.afterAttack(attack);
            }
            Figure figure = Figure.of("never-reading-peers").with("peers", peers).with("owed_mb", mebibytes(owed))
                    .with("settings", settings(jvmArgs, flags)).with("all_closed_by_server", allClosed)
                    .with("s_from_in_place_to_all_closed", allClosed ? secondsToClose : "never").with("peers_told", told);
            report.print(figure);
            assertTrue(allClosed, "every never-reading peer is closed within the stall timeout of " + stall.toSeconds()
                    + " s (+ " + patience().toSeconds() + " s of patience); the server still held "
                    + report.fileDescriptorsAtEnd() + " descriptors after the attack, baseline " + server.fileDescriptorBaseline());
            report.assertServerHeld();
        }
    }

    // ------------------------------------------------------------------ slowloris

    /** Peers trickling one byte of an endless line every few seconds, with no idle timeout: held, and harmless. */
    @Test
    void slowloris() throws Exception {
        slowloris(pick(200, 15_000), pick(Duration.ofSeconds(1), Duration.ofSeconds(3)), pick(3, 4), 0);
    }

    /** The same with an idle timeout shorter than the trickle's pace: every one of them is reaped. */
    @Test
    void slowlorisWithIdleTimeout() throws Exception {
        slowloris(pick(200, 15_000), pick(Duration.ofSeconds(1), Duration.ofSeconds(3)), pick(3, 4), pick(0.5, 2.0));
    }

    private void slowloris(int peers, Duration every, int bytesEach, double idleTimeoutSeconds) throws Exception {
        String[] flags = idleTimeoutSeconds > 0 ? new String[] {"--idle-timeout", String.valueOf(idleTimeoutSeconds)} : new String[0];
        try (DemoUnderAttack server = DemoUnderAttack.start(Wire.LINE, HEAP, flags);
             SteadyClient steady = SteadyClient.start(server.address, Wire.LINE, SWARM_LIFETIME)) {
            Plan trickle = Plan.send(ByteSource.repeat((byte) 's'), bytesEach).trickle(1, every);
            AttackReport report = new AttackReport(server, steady, peers);
            Duration trickling = every.multipliedBy(bytesEach).plus(patience());
            boolean reapedOrDone;
            long held;
            try (PeerSwarm attack = PeerSwarm.start(server.address, PeerSwarm.times(peers, trickle), SWARM_LIFETIME)) {
                awaitQuietly(() -> attack.settledCount() == peers, ATTACK_SETUP);
                report.duringAttack();
                reapedOrDone = idleTimeoutSeconds > 0
                        ? awaitQuietly(() -> attack.endedByServerCount() == attack.connectedCount(), trickling)
                        : awaitQuietly(() -> attack.peers().stream().allMatch(p -> p.sentEverything() || p.end() != null), trickling);
                held = attack.openCount();
                report.afterAttack(attack);
            }
            Figure figure = Figure.of(idleTimeoutSeconds > 0 ? "slowloris-idle-timeout" : "slowloris").with("peers", peers)
                    .with("byte_every_s", every.toMillis() / 1000.0).with("bytes_each", bytesEach)
                    .with("settings", settings(HEAP, flags)).with("held_at_end", held)
                    .with(idleTimeoutSeconds > 0 ? "all_reaped" : "all_trickled", reapedOrDone);
            report.print(figure);
            assertTrue(reapedOrDone, idleTimeoutSeconds > 0
                    ? "every peer slower than the idle timeout is closed by the server; " + held + " were still open"
                    : "every peer could trickle its bytes (the driver was not held up)");
            report.assertServerHeld();
        }
    }

    // ------------------------------------------------------------------ RST storm

    /** Peers connect, send two lines and half of a third, and reset the connection without reading the answers. */
    @Test
    void rstStorm() throws Exception {
        int peers = pick(2_000, 20_000);
        byte[] linesAndAHalf = "first line\nsecond line\nhalf a th".getBytes(StandardCharsets.US_ASCII);
        try (DemoUnderAttack server = DemoUnderAttack.start(Wire.LINE, HEAP);
             SteadyClient steady = SteadyClient.start(server.address, Wire.LINE, SWARM_LIFETIME)) {
            Plan resetAfterSending = Plan.send(ByteSource.of(linesAndAHalf), linesAndAHalf.length).then(Finish.RESET);
            AttackReport report = new AttackReport(server, steady, peers);
            long reset;
            long failedToConnect;
            int logLinesBefore = server.demo.stderr.size();
            try (PeerSwarm attack = PeerSwarm.start(server.address, PeerSwarm.times(peers, resetAfterSending), SWARM_LIFETIME)) {
                awaitQuietly(() -> attack.endedCount(EnumSet.allOf(End.class)) == peers, ATTACK_SETUP);
                report.duringAttack();
                reset = attack.endedCount(EnumSet.of(End.CLOSED_HERE));
                failedToConnect = attack.endedCount(EnumSet.of(End.CONNECT_FAILED));
                report.afterAttack(attack);
            }
            Figure figure = Figure.of("rst-storm").with("peers", peers).with("settings", settings(HEAP))
                    .with("reset_by_peer", reset).with("connect_failed", failedToConnect)
                    .with("server_log_lines", server.demo.stderr.size() - logLinesBefore);
            report.print(figure);
            assertEquals(peers, reset, "every peer connected, sent and reset");
            report.assertServerHeld();
        }
    }

    // ------------------------------------------------------------------ garbage

    /**
     * Random bytes, and bytes built to hurt each framing, from many peers at once: each
     * peer must get back exactly what the framing can echo of its input (every good frame
     * before the first bad one), and then the end of the connection; nothing else.
     */
    @ParameterizedTest
    @EnumSource(Wire.class)
    void garbage(Wire wire) throws Exception {
        int peers = pick(100, 2_000);
        int noise = pick(16 * 1024, 64 * 1024);
        int maxFrame = 4096; // small, so that random lines and announced lengths overrun it too
        try (DemoUnderAttack server = DemoUnderAttack.start(wire, HEAP, "--max-frame", String.valueOf(maxFrame));
             SteadyClient steady = SteadyClient.start(server.address, wire, SWARM_LIFETIME)) {
            List<Plan> plans = new ArrayList<>();
            List<byte[]> inputs = new ArrayList<>();
            for (int seed = 0; seed < peers; seed++) {
                byte[] input = wire.garbage(seed, maxFrame, noise);
                inputs.add(input);
                plans.add(Plan.send(ByteSource.of(input), input.length).reading(Reading.RECORD).then(Finish.SHUTDOWN_OUTPUT));
            }
            AttackReport report = new AttackReport(server, steady, peers);
            int wrongEchoes = 0;
            long lostBytes = 0;
            String firstWrong = null;
            try (PeerSwarm attack = PeerSwarm.start(server.address, plans, SWARM_LIFETIME)) {
                awaitQuietly(() -> attack.endedCount(EnumSet.allOf(End.class)) == peers, ATTACK_SETUP);
                report.duringAttack();
                for (Peer p : attack.peers()) {
                    byte[] expected = wire.expectedEcho(inputs.get(p.index), maxFrame);
                    byte[] got = p.recorded();
                    if (!Arrays.equals(expected, got)) {
                        wrongEchoes++;
                        int same = Arrays.mismatch(expected, got);
                        lostBytes += expected.length - Math.max(0, same);
                        if (firstWrong == null) {
                            firstWrong = "peer " + p.index + " expected " + expected.length + " bytes back, got " + got.length
                                    + ", first difference at " + same + "; " + p;
                        }
                    }
                }
                report.afterAttack(attack);
            }
            Figure figure = Figure.of("garbage-" + wire.flag()).with("peers", peers).with("bytes_each", noise)
                    .with("settings", settings(HEAP, "--max-frame", String.valueOf(maxFrame)))
                    .with("wrong_echoes", wrongEchoes).with("garbage_peer_lost_bytes", lostBytes);
            report.print(figure);
            assertEquals(0, wrongEchoes, "every garbage peer gets back exactly the echo of its good frames; " + firstWrong);
            report.assertServerHeld();
        }
    }

    // ------------------------------------------------------------------ descriptor exhaustion

    /**
     * Two client processes open more connections than the server has descriptors: it must
     * back off (not spin on a listener that stays readable), keep serving the connections
     * it has, and serve again once the clients have gone.
     */
    @Test
    void descriptorExhaustion() throws Exception {
        int fileLimit = pick(256, 1024);
        int perClient = pick(300, 2_000);
        Duration window = Duration.ofSeconds(3);
        try (DemoUnderAttack server = DemoUnderAttack.startWithFileLimit(fileLimit, Wire.LINE, HEAP);
             SteadyClient steady = SteadyClient.start(server.address, Wire.LINE, SWARM_LIFETIME)) {
            AttackReport report = new AttackReport(server, steady, 2 * perClient);
            List<Process> clients = new ArrayList<>();
            List<String> summaries = new ArrayList<>();
            boolean exhausted;
            double cpuSeconds;
            try {
                for (int i = 0; i < 2; i++) {
                    clients.add(holdConnections(server, perClient));
                }
                exhausted = awaitQuietly(() -> server.probe.openFileDescriptors() >= fileLimit, ATTACK_SETUP);
                cpuSeconds = server.probe.cpuSecondsOver(window);
                report.duringAttack(false);
                for (Process client : clients) {
                    client.getOutputStream().close(); // their cue to close everything and report
                    summaries.add(new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8))
                            .lines().filter(l -> l.startsWith("connected=")).findFirst().orElse("no-summary"));
                    assertTrue(client.waitFor(60, TimeUnit.SECONDS), "the client process exits once told to");
                }
            } finally {
                clients.forEach(Process::destroyForcibly);
            }
            report.afterAttack(null);
            long backOffWarnings = server.demo.countStderr("pausing accepts");
            Figure figure = Figure.of("descriptor-exhaustion").with("ulimit_n", fileLimit).with("clients", "2x" + perClient)
                    .with("settings", settings(HEAP)).with("out_of_descriptors", exhausted)
                    .with("cpu_s_in_" + window.toSeconds() + "s_at_emfile", String.format("%.2f", cpuSeconds))
                    .with("backoff_warnings", backOffWarnings).with("client_a", summaries.get(0).replace(' ', ','))
                    .with("client_b", summaries.get(1).replace(' ', ','));
            report.print(figure);
            assertTrue(exhausted, "the two clients ran the server out of descriptors");
            // A spinning accept loop burns a whole core; a backing-off one almost nothing.
            // Half a core cannot be reached by JIT or GC work on an idle server.
            assertTrue(cpuSeconds < window.toSeconds() / 2.0, "no spin at EMFILE: " + cpuSeconds + " s of CPU in " + window);
            report.assertServerHeld();
        }
    }

    private static Process holdConnections(DemoUnderAttack server, int count) throws Exception {
        Process client = new ProcessBuilder("python3", script("hold_connections.py").toString(),
                server.address.getHostString(), String.valueOf(server.address.getPort()), String.valueOf(count),
                String.valueOf(ATTACK_SETUP.plus(patience()).toSeconds()))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        return client;
    }

    private static Path script(String name) throws URISyntaxException {
        return Path.of(HostilePeersIT.class.getResource("/hostile/" + name).toURI());
    }

    // ------------------------------------------------------------------ graceful shutdown

    /**
     * Peers streaming as fast as the server echoes, then SIGTERM. The property, per peer:
     * what came back is an exact prefix of what it sent (nothing reordered or corrupted);
     * and if its connection then ended cleanly (EOF, no reset, no error), everything it
     * had sent before the signal came back first. A peer whose bytes the server did not
     * echo must learn it from the socket itself: a reset or an error, never a clean EOF
     * after a silent gap. And the server exits 0.
     */
    @Test
    void gracefulShutdownUnderLoad() throws Exception {
        int peers = pick(8, 64);
        int shutdownTimeout = 5;
        try (DemoUnderAttack server = DemoUnderAttack.start(Wire.RAW, HEAP, "--shutdown-timeout", String.valueOf(shutdownTimeout))) {
            Plan stream = Plan.send(Wire.RAW.wellBehavedStream(), Long.MAX_VALUE).unechoedAtMost(4 << 20).reading(Reading.VERIFY);
            int exitStatus;
            long exitMillis;
            long[] sentBeforeSigterm;
            List<Peer> streamed;
            try (PeerSwarm swarm = PeerSwarm.start(server.address, PeerSwarm.times(peers, stream), SWARM_LIFETIME)) {
                assertTrue(awaitQuietly(() -> swarm.peers().stream().allMatch(p -> p.received() >= 1 << 20), ATTACK_SETUP),
                        "every peer is streaming before the signal: " + swarm.summary());
                long[] signalledAt = new long[1];
                sentBeforeSigterm = swarm.sentWhile(() -> {
                    server.demo.sendSigterm();
                    signalledAt[0] = System.nanoTime();
                });
                exitStatus = server.demo.awaitExit(Duration.ofSeconds(shutdownTimeout).plus(patience()));
                exitMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalledAt[0]);
                awaitQuietly(() -> swarm.openCount() == 0, patience());
                streamed = swarm.peers();
            }
            long eof = streamed.stream().filter(p -> p.end() == End.EOF).count();
            long told = streamed.stream().filter(p -> p.end() != null && p.end().toldOfFailure()).count();
            long corrupted = streamed.stream().filter(p -> p.firstMismatch() >= 0).count();
            long silentLossPeers = 0;
            long silentlyLost = 0;
            for (Peer p : streamed) {
                long owed = sentBeforeSigterm[p.index] - p.received();
                if (p.end() == End.EOF && owed > 0) {
                    silentLossPeers++;
                    silentlyLost += owed;
                }
            }
            Figure figure = Figure.of("graceful-shutdown").with("peers", peers).with("settings", settings(HEAP, "--shutdown-timeout", "5"))
                    .with("sent_before_sigterm_mb", mebibytes(Arrays.stream(sentBeforeSigterm).sum()))
                    .with("echoed_mb", mebibytes(streamed.stream().mapToLong(Peer::received).sum()))
                    .with("ended_eof", eof).with("ended_reset_or_error", told).with("corrupted", corrupted)
                    .with("silent_loss_peers", silentLossPeers).with("lost_bytes", silentlyLost)
                    .with("exit_status", exitStatus).with("exit_ms", exitMillis);
            figure.print();
            assertEquals(0, exitStatus, "exit status after SIGTERM; stderr: " + DemoProcess.tail(server.demo.stderr, 20));
            assertEquals(0, corrupted, "every echo is an exact prefix of what its peer sent: " + streamed);
            assertEquals(0, silentLossPeers, "no peer sees a clean end of stream before everything it sent before SIGTERM came back: "
                    + streamed + ", sent before SIGTERM " + Arrays.toString(sentBeforeSigterm));
            assertEquals(peers, eof + told, "every peer saw its connection end: " + streamed);
        }
    }

    // ------------------------------------------------------------------ shared

    /**
     * What every scenario measures and asserts around its attack: fresh clients during and
     * after, the steady client throughout, peak memory against the limit, descriptors back
     * to the baseline. Collected rather than asserted at once, so that the figure is printed
     * whatever happened.
     */
    private static final class AttackReport {
        private final DemoUnderAttack server;
        private final SteadyClient steady;
        private final int peers;
        private boolean inPlace = true;
        private String attackState = "";
        private EchoProbe.Result during;
        private boolean servedThroughout;
        private long peakRss;
        private long lostBytes;
        private String fileDescriptorFailure;
        private int fileDescriptorsAtEnd;
        private EchoProbe.Result after;
        private boolean aliveAfter;

        AttackReport(DemoUnderAttack server, SteadyClient steady, int peers) {
            this.server = server;
            this.steady = steady;
            this.peers = peers;
        }

        /** Waits until the attackers have pushed everything the server takes. */
        void attackInPlace(PeerSwarm attack) {
            inPlace = awaitQuietly(() -> attack.inPlace(ATTACK_QUIET, ATTACK_STUCK), ATTACK_SETUP);
            attackState = attack.summary();
        }

        void duringAttack() {
            duringAttack(true);
        }

        /** @param freshClient false where no fresh client can be served by design (no descriptor to accept it with) */
        void duringAttack(boolean freshClient) {
            during = freshClient ? server.freshClient() : null;
            servedThroughout = steady.servedWithin(during == null || during.served() ? patience() : NOT_SERVING_ANYWAY);
            peakRss = server.probe.peakRssBytes();
        }

        /** Stops the steady client and the attackers (null when they are not a swarm), then checks the server let go of them. */
        void afterAttack(PeerSwarm attack) throws InterruptedException {
            lostBytes = steady.stopAndCountLost(servedThroughout ? patience() : NOT_SERVING_ANYWAY);
            steady.close();
            if (attack != null) {
                attackState = attack.summary();
                attack.close();
            }
            try {
                server.awaitFileDescriptorsBackToBaseline(0);
            } catch (AssertionError e) {
                fileDescriptorFailure = e.getMessage();
            }
            fileDescriptorsAtEnd = server.alive() ? server.probe.openFileDescriptors() : -1;
            after = server.freshClient();
            aliveAfter = server.alive();
        }

        int fileDescriptorsAtEnd() {
            return fileDescriptorsAtEnd;
        }

        void print(Figure figure) {
            long limit = server.memoryLimit(peers);
            figure.with("budget", server.budget()).with("budget_source", server.budgetSource())
                    .with("idle_rss_mb", mebibytes(server.idleRssBytes())).with("peak_rss_mb", mebibytes(peakRss))
                    .with("rss_limit_mb", limit < 0 ? "unknown" : mebibytes(limit))
                    .with("attack_in_place", inPlace)
                    .with("fresh_client_served_during", during == null ? "not-asked" : during.served())
                    .with("fresh_client_served_after", after.served())
                    .with("steady_client_served_throughout", servedThroughout).with("lost_bytes", lostBytes)
                    .with("fds_before", server.fileDescriptorBaseline()).with("fds_after", fileDescriptorsAtEnd)
                    .with("alive", aliveAfter)
                    .print();
            System.out.println(Figure.PREFIX + " (peers: " + attackState + "; fresh client during: " + during
                    + ", after: " + after + "; steady: " + steady.describe()
                    + (fileDescriptorFailure == null ? "" : "; " + fileDescriptorFailure) + ")");
        }

        void assertServerHeld() {
            String log = "; server stderr: " + DemoProcess.tail(server.demo.stderr, 30);
            assertTrue(aliveAfter, "the server process is still running" + log);
            assertTrue(during == null || during.served(), "a fresh client is served during the attack: " + during + log);
            assertTrue(servedThroughout, "the client connected before the attack is served during it: " + steady.describe() + log);
            assertEquals(0, lostBytes, "the client connected throughout loses nothing: " + steady.describe() + log);
            assertTrue(after.served(), "a fresh client is served after the attack: " + after + log);
            long limit = server.memoryLimit(peers);
            assertTrue(limit > 0, "the server's memory budget is known (it prints none, and no -Xmx was given to derive it)");
            assertTrue(peakRss <= limit, "peak RSS " + mebibytes(peakRss) + " MiB is within budget " + mebibytes(server.budget())
                    + " MiB + overhead: " + mebibytes(limit) + " MiB" + log);
            assertTrue(fileDescriptorFailure == null, fileDescriptorFailure);
        }
    }

    /** Awaitility's wait, as a boolean: a scenario reports a condition never met rather than dying on it. */
    private static boolean awaitQuietly(Callable<Boolean> condition, Duration atMost) {
        try {
            Awaitility.await().atMost(atMost).pollInterval(Duration.ofMillis(100)).until(condition);
            return true;
        } catch (ConditionTimeoutException e) {
            return false;
        }
    }

    /** The non-default settings of a run, for its figure: "defaults" when there are none. */
    private static String settings(List<String> jvmArgs, String... flags) {
        List<String> all = new ArrayList<>(jvmArgs);
        all.addAll(List.of(flags));
        return all.isEmpty() ? "defaults" : String.join(",", all);
    }

    private static byte[] kibLine() {
        byte[] line = new byte[1024];
        Arrays.fill(line, (byte) 'y');
        line[line.length - 1] = '\n';
        return line;
    }
}
