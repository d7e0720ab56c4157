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
 */
public record LoadResult(LoadSpec spec, long messages, double measuredSeconds, Histogram latency, long errors,
                         List<String> errorSamples, int connectionsUp, double generatorCpuSeconds) {

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

    public double maxMicros() {
        return latency.getTotalCount() == 0 ? 0 : latency.getMaxValue() / 1000.0;
    }
}
