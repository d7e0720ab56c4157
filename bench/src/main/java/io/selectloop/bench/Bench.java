package io.selectloop.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java -jar bench.jar server|load|compare|jmh [options]}: echo servers to measure, a
 * load generator that verifies every echoed byte, a driver that runs them all and writes
 * the report, and the JMH microbenchmarks. See {@code bench/README.md}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Load benchmarks: selectloop against thread-per-connection, virtual threads and Netty.",
        subcommands = {ServerCommand.class, LoadCommand.class, CompareCommand.class, JmhCommand.class})
public final class Bench {
    /** Exit status of {@code server} when the implementation cannot run on this JVM. */
    public static final int EXIT_UNAVAILABLE = 3;

    private Bench() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs one command line in this JVM and returns its exit status (tests call this). */
    public static int run(String... args) {
        CommandLine commandLine = new CommandLine(new Bench());
        commandLine.registerConverter(java.time.Duration.class, Durations::parse);
        return commandLine.execute(args);
    }
}
