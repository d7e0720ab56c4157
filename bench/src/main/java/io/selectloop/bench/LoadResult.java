package io.selectloop.bench;

import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * What a load run measured. Latencies are in the histogram in nanoseconds; the
 * {@code ...Micros} methods read it.
 *
 * @param spec             what was run
 * @param messages         messages whose echo completed during the measured interval
 *                         (for churn: connect-echo-close cycles)
 * @param measuredSeconds  the measured interval as it really was
 * @param latency          latency of every message completed in the measured interval
 * @param errors           mismatched messages, failed connects, unexpected closes, echoes
 *                         still owed at the end; over the whole run, warm-up included
 * @param errorSamples     the first few errors, described
 * @param connectionsUp    connections open at the end of the measured interval
 * @param generatorCpuSeconds CPU time the generator's process used in the measured interval
 *                         (all its threads), -1 if the JVM does not tell
 * @param sendLag          open loop: how late each message measured left the generator, after
 *                         its intended send time (nanoseconds); null for closed loop and churn.
 *                         The generator's own lag, included in {@code latency}: a p99 near the
 *                         latency's p99 means the generator, not the server, set the tail
 */
public record LoadResult(LoadSpec spec, long messages, double measuredSeconds, Histogram latency, long errors,
                         List<String> errorSamples, int connectionsUp, double generatorCpuSeconds, Histogram sendLag) {

    public double messagesPerSecond() {
        return measuredSeconds > 0 ? messages / measuredSeconds : 0;
    }

    /** Payload echoed per second, one direction, in MB (10^6 bytes). */
    public double megabytesPerSecond() {
        return messagesPerSecond() * spec.messageSize() / 1e6;
    }

    public double percentileMicros(double percentile) {
        return latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(percentile) / 1000.0;
    }

    /** Open loop: the send lag's percentile in µs; -1 for closed loop and churn. */
    public double sendLagPercentileMicros(double percentile) {
        return sendLag == null ? -1 : sendLag.getTotalCount() == 0 ? 0 : sendLag.getValueAtPercentile(percentile) / 1000.0;
    }

    public double maxMicros() {
        return latency.getTotalCount() == 0 ? 0 : latency.getMaxValue() / 1000.0;
    }
}
