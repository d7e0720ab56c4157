package io.selectloop.bench;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * What one load run does. Build one with {@link #closedLoop} or {@link #churn}, then
 * adjust with the {@code with...} methods.
 *
 * @param target          the echo server
 * @param mode            {@link Mode#STREAM}: connect everything, then send; {@link Mode#CHURN}:
 *                        connect, echo one message, close, repeat
 * @param connections     connections to hold (STREAM), or concurrent connect-echo-close cycles (CHURN)
 * @param activeConnections how many of the connections send (the rest stay idle); equal to
 *                        {@code connections} unless the run holds idle connections
 * @param messageSize     bytes per message
 * @param pipeline        closed loop: messages in flight per active connection
 * @param rate            open loop: total messages per second over all active connections;
 *                        0 for a closed loop
 * @param warmup          sending before measuring starts
 * @param duration        the measured interval
 * @param ioThreads       selector threads of the generator
 * @param sourceAddresses loopback source addresses to spread connections over (127.0.0.1,
 *                        127.0.0.2, ...); 0 chooses from the number of connections
 * @param connectTimeout  how long one connect may take before it counts as an error
 * @param maxInFlight     open loop: messages in flight per connection before sending waits
 *                        (the waiting still counts against latency)
 * @param progress        print a progress line each second on stderr
 * @param seed            makes the byte streams of this run differ from other runs'
 * @param tls             speak TLS ({@link BenchTls}: TLS 1.3, a full handshake per connection);
 *                        connecting then includes the handshake
 */
public record LoadSpec(InetSocketAddress target, Mode mode, int connections, int activeConnections, int messageSize,
                       int pipeline, double rate, Duration warmup, Duration duration, int ioThreads,
                       int sourceAddresses, Duration connectTimeout, int maxInFlight, boolean progress, long seed,
                       boolean tls) {

    /** How the connections are used. */
    public enum Mode { STREAM, CHURN }

    public LoadSpec {
        if (connections < 1) {
            throw new IllegalArgumentException("connections must be at least 1, was " + connections);
        }
        if (activeConnections < 0 || activeConnections > connections) {
            throw new IllegalArgumentException("active connections must be between 0 and " + connections);
        }
        if (messageSize < 1) {
            throw new IllegalArgumentException("message size must be at least 1 byte, was " + messageSize);
        }
        if (pipeline < 1) {
            throw new IllegalArgumentException("pipeline depth must be at least 1, was " + pipeline);
        }
        if (rate < 0 || Double.isNaN(rate)) {
            throw new IllegalArgumentException("rate must not be negative, was " + rate);
        }
        if (ioThreads < 1) {
            throw new IllegalArgumentException("generator threads must be at least 1, was " + ioThreads);
        }
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("max in flight must be at least 1, was " + maxInFlight);
        }
        if (warmup.isNegative() || duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("warmup must not be negative and duration must be positive");
        }
    }

    /** A closed loop: every connection keeps {@code pipeline} messages in flight. */
    public static LoadSpec closedLoop(InetSocketAddress target, int connections, int messageSize, int pipeline,
                                      Duration warmup, Duration duration) {
        return new LoadSpec(target, Mode.STREAM, connections, connections, messageSize, pipeline, 0, warmup, duration,
                defaultThreads(), 0, Duration.ofSeconds(10), 1024, true, System.nanoTime(), false);
    }

    /** {@code concurrency} connections at a time, each: connect, echo one message, close. */
    public static LoadSpec churn(InetSocketAddress target, int concurrency, int messageSize,
                                 Duration warmup, Duration duration) {
        return new LoadSpec(target, Mode.CHURN, concurrency, concurrency, messageSize, 1, 0, warmup, duration,
                defaultThreads(), 0, Duration.ofSeconds(10), 1, true, System.nanoTime(), false);
    }

    /** One selector thread per CPU this process may use, at most two. */
    public static int defaultThreads() {
        return Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors()));
    }

    public boolean openLoop() {
        return rate > 0;
    }

    public LoadSpec withRate(double messagesPerSecond) {
        return new LoadSpec(target, mode, connections, activeConnections, messageSize, pipeline, messagesPerSecond,
                warmup, duration, ioThreads, sourceAddresses, connectTimeout, maxInFlight, progress, seed, tls);
    }

    public LoadSpec withActiveConnections(int active) {
        return new LoadSpec(target, mode, connections, active, messageSize, pipeline, rate,
                warmup, duration, ioThreads, sourceAddresses, connectTimeout, maxInFlight, progress, seed, tls);
    }

    public LoadSpec withIoThreads(int threads) {
        return new LoadSpec(target, mode, connections, activeConnections, messageSize, pipeline, rate,
                warmup, duration, threads, sourceAddresses, connectTimeout, maxInFlight, progress, seed, tls);
    }

    public LoadSpec withSourceAddresses(int addresses) {
        return new LoadSpec(target, mode, connections, activeConnections, messageSize, pipeline, rate,
                warmup, duration, ioThreads, addresses, connectTimeout, maxInFlight, progress, seed, tls);
    }

    public LoadSpec withMaxInFlight(int messages) {
        return new LoadSpec(target, mode, connections, activeConnections, messageSize, pipeline, rate,
                warmup, duration, ioThreads, sourceAddresses, connectTimeout, messages, progress, seed, tls);
    }

    public LoadSpec withProgress(boolean on) {
        return new LoadSpec(target, mode, connections, activeConnections, messageSize, pipeline, rate,
                warmup, duration, ioThreads, sourceAddresses, connectTimeout, maxInFlight, on, seed, tls);
    }

    public LoadSpec withTarget(InetSocketAddress address) {
        return new LoadSpec(address, mode, connections, activeConnections, messageSize, pipeline, rate,
                warmup, duration, ioThreads, sourceAddresses, connectTimeout, maxInFlight, progress, seed, tls);
    }

    public LoadSpec withTls(boolean on) {
        return new LoadSpec(target, mode, connections, activeConnections, messageSize, pipeline, rate,
                warmup, duration, ioThreads, sourceAddresses, connectTimeout, maxInFlight, progress, seed, on);
    }

    public LoadSpec withSeed(long newSeed) {
        return new LoadSpec(target, mode, connections, activeConnections, messageSize, pipeline, rate,
                warmup, duration, ioThreads, sourceAddresses, connectTimeout, maxInFlight, progress, newSeed, tls);
    }
}
