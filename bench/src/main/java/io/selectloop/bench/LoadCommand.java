package io.selectloop.bench;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench load --port P --connections N --size B --pipeline D [--rate R]}: drives one
 * echo server and prints the result row as one JSON object on stdout.
 */
@Command(name = "load", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Drive an echo server, verify every echoed byte, print the result as JSON on stdout.",
                "Progress (one line a second) and a readable summary go to stderr."})
final class LoadCommand implements Callable<Integer> {

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Server address (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", required = true, description = "Server port.")
    int port;

    @Option(names = "--connections", defaultValue = "100", paramLabel = "N",
            description = "Connections to hold; with --churn, concurrent connect-echo-close cycles (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--size", defaultValue = "64", paramLabel = "BYTES", description = "Message size (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--pipeline", defaultValue = "1", paramLabel = "D",
            description = "Closed loop: messages in flight per connection (default: ${DEFAULT-VALUE}).")
    int pipeline;

    @Option(names = "--duration", defaultValue = "10s", description = "Measured interval (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--warmup", defaultValue = "3s", description = "Load before measuring (default: ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--rate", paramLabel = "MSGS_PER_S", defaultValue = "0",
            description = "Open loop: total messages per second, latency from each message's intended send time "
                    + "(coordinated omission corrected). 0: closed loop (default).")
    double rate;

    @Option(names = "--active", paramLabel = "N", defaultValue = "-1",
            description = "Only this many connections send; the rest are held idle (default: all).")
    int active;

    @Option(names = "--churn", description = "Each connection: connect, echo one message, close, again.")
    boolean churn;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "Generator selector threads (default: one per usable CPU, at most 2).")
    int threads;

    @Option(names = "--source-addresses", paramLabel = "N", defaultValue = "0",
            description = "Loopback source addresses to spread connections over: 127.0.0.1, 127.0.0.2, ... "
                    + "(default: one per 16000 connections; more are tried when connecting runs out of ports).")
    int sourceAddresses;

    @Option(names = "--max-in-flight", paramLabel = "N", defaultValue = "1024",
            description = "Open loop: messages in flight per connection before sending waits (default: ${DEFAULT-VALUE}).")
    int maxInFlight;

    @Option(names = "--reconnect",
            description = "When the server closes a connection cleanly (a restart), reconnect and resend what was not "
                    + "echoed; counted as reconnects, not errors.")
    boolean reconnect;

    @Option(names = "--label", defaultValue = "external", description = "The impl field of the result (default: ${DEFAULT-VALUE}).")
    String label;

    @Option(names = "--tls", description = "Speak TLS 1.3 (" + BenchTls.CIPHER_SUITE + ", a full handshake per connection, "
            + "the server's certificate not checked); connecting includes the handshake.")
    boolean tls;

    @Override
    public Integer call() throws Exception {
        InetSocketAddress target = new InetSocketAddress(host, port);
        LoadSpec spec = churn
                ? LoadSpec.churn(target, connections, size, warmup, duration)
                : LoadSpec.closedLoop(target, connections, size, pipeline, warmup, duration)
                        .withRate(rate)
                        .withActiveConnections(active < 0 ? connections : active)
                        .withMaxInFlight(maxInFlight);
        if (threads > 0) {
            spec = spec.withIoThreads(threads);
        }
        spec = spec.withSourceAddresses(sourceAddresses).withTls(tls);
        LoadGenerator generator = new LoadGenerator(spec).reconnectWhenClosed(reconnect);
        LoadResult result = generator.run(LoadGenerator.PhaseListener.NONE);
        String scenario = churn ? "churn" : rate > 0 ? "latency" : spec.activeConnections() < connections ? "connections" : "throughput";
        ResultRow row = ResultRow.of(label, scenario, result, null, null, null, null);
        System.err.println(summary(row) + (reconnect ? ", reconnects " + generator.reconnects() : ""));
        for (String e : result.errorSamples()) {
            System.err.println("  error: " + e);
        }
        java.util.Map<String, Object> json = new java.util.LinkedHashMap<>(row.toMap());
        if (reconnect) {
            json.put("reconnects", generator.reconnects());
        }
        System.out.println(Json.write(json));
        return result.errors() == 0 ? 0 : 1;
    }

    static String summary(ResultRow r) {
        return String.format(Locale.ROOT,
                "%s %s: %d connections, %d B, pipeline %d: %,.0f msgs/s (%.2f MB/s), p50 %.1fus p99 %.1fus p99.9 %.1fus max %.1fus, errors %d%s",
                r.impl(), r.scenario(), r.connections(), r.size(), r.pipeline(), r.msgsPerSec(), r.mbPerSec(),
                r.p50Us(), r.p99Us(), r.p999Us(), r.maxUs(), r.errors(),
                (r.serverCpuS() == null ? "" : String.format(Locale.ROOT, ", server CPU %.2fs", r.serverCpuS()))
                        + (r.generatorCpuS() == null ? "" : String.format(Locale.ROOT, ", generator CPU %.2fs in %.2fs",
                        r.generatorCpuS(), r.measuredSeconds()))
                        + (r.sendLagP99Us() == null ? "" : String.format(Locale.ROOT, ", send lag p99 %.1fus", r.sendLagP99Us())));
    }
}
