package io.selectloop.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One line of the results: one implementation, one scenario, one setting. The first
 * fifteen fields are the ones fixed by the bench contract in DESIGN.md; the rest are
 * documented in {@code bench/README.md}. Server fields are null when the server was not
 * started by this process ({@code bench load} against a server of your own).
 *
 * @param rate                   open loop: the target total msgs/s; 0 for closed loop and churn
 * @param activeConnections      connections that sent (the rest were held idle)
 * @param connectionsUp          connections open at the end of the measured interval
 * @param rssPerConnectionBytes  connections scenario: (RSS at the end − RSS before connecting) / connections
 * @param measuredSeconds        the measured interval as it really was
 * @param generatorCpuS          CPU seconds the load generator's process used in the measured interval
 *                               (null if unknown); near {@code measuredSeconds} × its CPUs means the
 *                               generator, not the server, may have set the figures
 * @param sendLagP99Us           open loop: p99 of how late the generator sent each message after its
 *                               intended time (part of the latency); null for closed loop and churn
 */
public record ResultRow(String impl, String scenario, int connections, int size, int pipeline,
                        double msgsPerSec, double mbPerSec, double p50Us, double p99Us, double p999Us, double maxUs,
                        long errors, Long serverRssBytes, Integer serverThreads, Double serverCpuS,
                        double rate, int activeConnections, int connectionsUp, Long rssPerConnectionBytes,
                        double measuredSeconds, Double generatorCpuS, Double sendLagP99Us) {

    /** Column names, in order, as they appear in the JSON, the CSV and the report. */
    public static final List<String> COLUMNS = List.of(
            "impl", "scenario", "connections", "size", "pipeline",
            "msgs_per_sec", "mb_per_sec", "p50_us", "p99_us", "p999_us", "max_us", "errors",
            "server_rss_bytes", "server_threads", "server_cpu_s",
            "rate", "active_connections", "connections_up", "rss_per_connection_bytes", "measured_s", "generator_cpu_s",
            "send_lag_p99_us");

    /** A row from a load result; the server fields are filled in by whoever watched the server. */
    public static ResultRow of(String impl, String scenario, LoadResult r, Long rssBytes, Integer threads,
                               Double cpuSeconds, Long rssPerConnection) {
        LoadSpec s = r.spec();
        int pipeline = s.mode() == LoadSpec.Mode.STREAM && !s.openLoop() ? s.pipeline() : (s.openLoop() ? 0 : 1);
        return new ResultRow(impl, scenario, s.connections(), s.messageSize(), pipeline,
                r.messagesPerSecond(), r.megabytesPerSecond(),
                r.percentileMicros(50), r.percentileMicros(99), r.percentileMicros(99.9), r.maxMicros(),
                r.errors(), rssBytes, threads, cpuSeconds,
                s.rate(), s.activeConnections(), r.connectionsUp(), rssPerConnection, r.measuredSeconds(),
                r.generatorCpuSeconds() < 0 ? null : r.generatorCpuSeconds(),
                r.sendLag() == null ? null : r.sendLagPercentileMicros(99));
    }

    /** The row as column name → value, in {@link #COLUMNS} order. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("impl", impl);
        m.put("scenario", scenario);
        m.put("connections", connections);
        m.put("size", size);
        m.put("pipeline", pipeline);
        m.put("msgs_per_sec", round(msgsPerSec, 1));
        m.put("mb_per_sec", round(mbPerSec, 3));
        m.put("p50_us", round(p50Us, 1));
        m.put("p99_us", round(p99Us, 1));
        m.put("p999_us", round(p999Us, 1));
        m.put("max_us", round(maxUs, 1));
        m.put("errors", errors);
        m.put("server_rss_bytes", serverRssBytes);
        m.put("server_threads", serverThreads);
        m.put("server_cpu_s", serverCpuS == null ? null : round(serverCpuS, 2));
        m.put("rate", round(rate, 1));
        m.put("active_connections", activeConnections);
        m.put("connections_up", connectionsUp);
        m.put("rss_per_connection_bytes", rssPerConnectionBytes);
        m.put("measured_s", round(measuredSeconds, 3));
        m.put("generator_cpu_s", generatorCpuS == null ? null : round(generatorCpuS, 2));
        m.put("send_lag_p99_us", sendLagP99Us == null ? null : round(sendLagP99Us, 1));
        return m;
    }

    private static double round(double value, int decimals) {
        double scale = Math.pow(10, decimals);
        return Math.round(value * scale) / scale;
    }
}
