package io.selectloop.echo;

import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * The echo demo as a hostile-peer scenario's target: started on a free loopback port,
 * shown to serve a first client, and measured idle (descriptors, resident memory) before
 * any attack, so the scenario can compare against those baselines afterwards.
 */
final class DemoUnderAttack implements AutoCloseable {
    /** The demo's --max-frame default. */
    static final int DEFAULT_MAX_FRAME = 1 << 20;

    /**
     * Allowance per connected peer on top of the budget: the socket's Java objects, its
     * selection key, the decoder and its smallest accumulation buffer (4 KiB). Measured at
     * 6.8 KiB (15,000 slowloris peers took the server from 55 to 155 MiB); about twice that.
     */
    static final long PER_PEER_BYTES = 16 * 1024;
    /**
     * Fixed slack over the idle process: code the JIT compiles once the server is busy,
     * the collector's own structures (remembered sets, marking bitmaps) that grow with a
     * fuller heap, and thread stacks touched deeper under load.
     */
    static final long SLACK_BYTES = 64L << 20;

    final Wire wire;
    final int maxFrame;
    final DemoProcess demo;
    final ProcessProbe probe;
    final InetSocketAddress address;
    private final List<String> jvmArgs;
    private final int fileDescriptorBaseline;
    private final long idleRssBytes;

    private DemoUnderAttack(Wire wire, int maxFrame, List<String> jvmArgs, DemoProcess demo) throws Exception {
        this.wire = wire;
        this.maxFrame = maxFrame;
        this.jvmArgs = jvmArgs;
        this.demo = demo;
        this.probe = demo.probe();
        URI uri = demo.awaitListening();
        this.address = new InetSocketAddress(uri.getHost(), uri.getPort());
        int afterStart = probe.openFileDescriptors();
        EchoProbe.Result first = EchoProbe.roundTrip(address, wire);
        if (!first.served()) {
            throw new AssertionError("the demo did not serve a first client before any attack: " + first
                    + "; stderr: " + DemoProcess.tail(demo.stderr, 40));
        }
        // The first client's socket must be gone too; anything the JVM opened for good on the
        // way (none so far) would show here as a failure rather than as a leak later.
        probe.awaitFileDescriptorsAtMost(afterStart, HostileScale.patience());
        this.fileDescriptorBaseline = probe.openFileDescriptors();
        this.idleRssBytes = probe.rssBytes();
    }

    /**
     * {@code java jvmArgs -jar echo-demo.jar server --port 0 --framing WIRE flags...}.
     * Only the port differs from what a user gets when {@code jvmArgs} and {@code flags} are empty.
     */
    static DemoUnderAttack start(Wire wire, List<String> jvmArgs, String... flags) throws Exception {
        return launch(0, wire, jvmArgs, flags);
    }

    /** The same under {@code ulimit -n maxOpenFiles}. */
    static DemoUnderAttack startWithFileLimit(int maxOpenFiles, Wire wire, List<String> jvmArgs, String... flags) throws Exception {
        return launch(maxOpenFiles, wire, jvmArgs, flags);
    }

    private static DemoUnderAttack launch(int maxOpenFiles, Wire wire, List<String> jvmArgs, String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("server", "--port", "0", "--framing", wire.flag()));
        args.addAll(List.of(flags));
        String[] argv = args.toArray(new String[0]);
        DemoProcess demo = maxOpenFiles > 0
                ? DemoProcess.startWithFileLimit(maxOpenFiles, jvmArgs, argv)
                : DemoProcess.start(jvmArgs, argv);
        try {
            return new DemoUnderAttack(wire, maxFrameOf(flags), jvmArgs, demo);
        } catch (Throwable t) {
            demo.close();
            throw t;
        }
    }

    private static int maxFrameOf(String[] flags) {
        for (int i = 0; i + 1 < flags.length; i++) {
            if (flags[i].equals("--max-frame")) {
                return Integer.parseInt(flags[i + 1]);
            }
        }
        return DEFAULT_MAX_FRAME;
    }

    int fileDescriptorBaseline() {
        return fileDescriptorBaseline;
    }

    long idleRssBytes() {
        return idleRssBytes;
    }

    EchoProbe.Result freshClient() {
        return EchoProbe.roundTrip(address, wire);
    }

    boolean alive() {
        return demo.process().isAlive();
    }

    /** Waits until the server holds no more descriptors than before the attack, plus {@code stillConnected}. */
    void awaitFileDescriptorsBackToBaseline(int stillConnected) {
        probe.awaitFileDescriptorsAtMost(fileDescriptorBaseline + stillConnected, HostileScale.patience());
    }

    /** The budget the server printed, if it printed one. */
    OptionalLong reportedBudget() {
        return demo.reportedMemoryBudget();
    }

    /**
     * The budget in force: the one the server printed; or, from a server that prints none,
     * the documented default for the -Xmx this test gave it (a quarter of it, direct
     * memory defaulting to the heap's size); or -1 when neither is known.
     */
    long budget() {
        OptionalLong reported = reportedBudget();
        if (reported.isPresent()) {
            return reported.getAsLong();
        }
        long maxHeap = maxHeapFromJvmArgs();
        return maxHeap < 0 ? -1 : maxHeap / 4;
    }

    String budgetSource() {
        return reportedBudget().isPresent() ? "reported" : budget() < 0 ? "unknown" : "derived-from-Xmx";
    }

    private long maxHeapFromJvmArgs() {
        long maxHeap = -1;
        for (String arg : jvmArgs) {
            if (arg.startsWith("-Xmx")) {
                maxHeap = parseSize(arg.substring(4));
            }
        }
        return maxHeap;
    }

    static long parseSize(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        char unit = t.charAt(t.length() - 1);
        long multiplier = unit == 'k' ? 1L << 10 : unit == 'm' ? 1L << 20 : unit == 'g' ? 1L << 30 : 1;
        return Long.parseLong(multiplier == 1 ? t : t.substring(0, t.length() - 1)) * multiplier;
    }

    /**
     * The most resident memory the scenario allows the server: the idle server (measured
     * before the attack), the budget counted three times, {@link #PER_PEER_BYTES} per peer
     * and {@link #SLACK_BYTES}. A bound in the budget, whatever the peers send, but not the
     * budget itself, because the budget counts buffer capacities, not what the JVM keeps
     * resident for them:
     * <ul>
     *   <li>garbage: a partial frame's buffer grows by doubling, and the buffers it
     *       outgrew, together as big as the last one, stay resident until collected;</li>
     *   <li>G1 stores an array larger than half a heap region in whole regions of its own,
     *       so a 1 MiB buffer takes a 2 MiB region on a heap with 2 MiB regions (the
     *       default for a 4-8 GiB heap, the demo's default heap on a 24 GiB machine).</li>
     * </ul>
     * Measured: 250 peers holding 1 MiB each, about the budget of a 1 GiB heap, took the
     * server from 55 to 377 MiB, 1.3 times what they held; 10,000 peers flooding the demo
     * on its defaults (1.5 GiB budget, 6 GiB heap) peaked at 3.4 GiB, 2.2 times. -1 when
     * the budget is unknown.
     */
    long memoryLimit(int peers) {
        long budget = budget();
        return budget < 0 ? -1 : idleRssBytes + 3 * budget + peers * PER_PEER_BYTES + SLACK_BYTES;
    }

    @Override
    public void close() {
        demo.close();
    }
}
