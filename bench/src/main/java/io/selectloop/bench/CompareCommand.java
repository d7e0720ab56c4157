package io.selectloop.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench compare}: for each implementation, start it as a child JVM, run each
 * scenario against it with the in-process load generator, sample the child through
 * {@code /proc}, stop it, and finally write {@code results.json}, {@code results.csv},
 * {@code report.md} and charts.
 *
 * <p>Each scenario gets a fresh server (the {@code connections} scenario one per row, so
 * that its memory figures start from a server that never held more); rows within a
 * scenario run in increasing connection counts.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run every implementation through every scenario and write results.json, results.csv, report.md and charts.")
final class CompareCommand implements Callable<Integer> {
    static final List<String> SCENARIOS = List.of("throughput", "latency", "connections", "churn");

    @Option(names = "--impls", split = ",", paramLabel = "NAME[,NAME...]",
            description = "Implementations (default: reactor,threads,virtual,netty-nio,netty-epoll; "
                    + "with --tls: reactor-tls,threads-tls,netty-nio-tls).")
    List<String> impls;

    @Option(names = "--tls", description = "Run each impl's -tls variant (reactor → reactor-tls), with a key made "
            + "once by keytool for all of them; the load generator speaks TLS to every server that listens on tls://.")
    boolean tls;

    @Option(names = "--scenarios", split = ",", paramLabel = "NAME[,NAME...]",
            description = "throughput, latency, connections, churn (default: all four).")
    List<String> scenarios = new ArrayList<>(SCENARIOS);

    @Option(names = "--connections", split = ",", paramLabel = "N[,N...]",
            description = "Connection counts (default: 10,100,1000,10000). For churn: concurrent cycles.")
    List<Integer> connections = new ArrayList<>(List.of(10, 100, 1000, 10000));

    @Option(names = "--size", defaultValue = "64", paramLabel = "BYTES", description = "Message size (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--pipeline", split = ",", paramLabel = "D[,D...]",
            description = "Pipeline depths for the throughput scenario (default: 1,16).")
    List<Integer> pipelines = new ArrayList<>(List.of(1, 16));

    @Option(names = "--duration", defaultValue = "10s", description = "Measured interval per row (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--warmup", defaultValue = "3s", description = "Warm-up per row (default: ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--rates", split = ",", paramLabel = "R[,R...]",
            description = "Latency scenario: open-loop rates in msgs/s, the same for every impl, one row per rate "
                    + "and connection count (default: 20000,100000).")
    List<Double> rates = new ArrayList<>(List.of(20_000.0, 100_000.0));

    @Option(names = "--latency-fraction", paramLabel = "F",
            description = "Latency scenario, instead of --rates: one rate per impl and connection count, this fraction "
                    + "of that impl's own measured maximum (the impls then run at different rates).")
    Double latencyFraction;

    @Option(names = "--active", defaultValue = "10", paramLabel = "N",
            description = "Connections scenario: how many of the held connections send (default: ${DEFAULT-VALUE}).")
    int active;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "Load generator selector threads (default: one per CPU it may use, at most 2).")
    int threads;

    @Option(names = "--pin", description = "Server on CPU 0, load generator on CPU 1 (taskset).")
    boolean pin;

    @Option(names = "--java", paramLabel = "PATH",
            description = "java executable for the server JVMs (default: the one running this).")
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Option(names = "--out", defaultValue = "bench-results", paramLabel = "DIR", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    private final List<ResultRow> rows = new ArrayList<>();
    private final Map<String, Object> environment = new LinkedHashMap<>();
    private final Map<String, String> unavailable = new LinkedHashMap<>();
    private final Map<String, String> failed = new LinkedHashMap<>();
    private List<String> serverCpuPrefix = List.of();
    /** {@code --tls-keystore FILE} for the TLS servers: one key for all, so all do the same crypto. */
    private List<String> tlsServerArgs = List.of();
    private int step;
    private int totalSteps;

    @Override
    public Integer call() throws Exception {
        System.setProperty("java.awt.headless", "true");
        if (impls == null) {
            impls = new ArrayList<>(tls ? ServerImpls.BUILT_IN_TLS : ServerImpls.BUILT_IN);
        } else if (tls) {
            impls = impls.stream().map(ServerImpls::tlsVariant).toList();
        }
        validate();
        Files.createDirectories(out);
        describeEnvironment();
        totalSteps = impls.size() * rowsPerImpl();
        Path keyDir = null;
        try {
            if (impls.stream().anyMatch(CompareCommand::speaksTls)) {
                keyDir = Files.createTempDirectory("bench-tls");
                Path keyStore = BenchTls.generateKeyStore(keyDir);
                tlsServerArgs = List.of("--tls-keystore", keyStore.toString());
                environment.put("tls", BenchTls.PROTOCOL + " " + BenchTls.CIPHER_SUITE
                        + ", full handshakes (no resumption), server key RSA 2048 self-signed (keytool), made for this run");
            }
            for (String impl : impls) {
                runImpl(impl);
            }
        } finally {
            if (keyDir != null) {
                BenchTls.deleteTree(keyDir);
            }
        }
        List<Path> charts = Charts.drawAll(out, rows);
        Reports.writeData(out, environment, rows);
        Reports.writeMarkdown(out, environment, rows, charts);
        progress("wrote " + out.resolve("results.json") + ", results.csv, report.md and " + charts.size() + " charts");
        return failed.isEmpty() ? 0 : 1;
    }

    private static boolean speaksTls(String impl) {
        return ServerImpls.find(impl).map(EchoServerImpl::tls).orElse(impl.endsWith(ServerImpls.TLS_SUFFIX));
    }

    private void validate() {
        for (String s : scenarios) {
            if (!SCENARIOS.contains(s)) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                        "unknown scenario '" + s + "'; known: " + String.join(", ", SCENARIOS));
            }
        }
        if (latencyFraction != null && !(latencyFraction > 0)) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--latency-fraction must be positive");
        }
        if (latencyFraction == null && (rates.isEmpty() || rates.stream().anyMatch(r -> !(r > 0)))) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--rates must be positive");
        }
    }

    private int rowsPerImpl() {
        int n = 0;
        for (String s : scenarios) {
            n += s.equals("throughput") ? connections.size() * pipelines.size()
                    : s.equals("latency") && latencyFraction == null ? connections.size() * rates.size()
                    : connections.size();
        }
        return n;
    }

    private void describeEnvironment() throws IOException, InterruptedException {
        Environment.describeMachine(environment);
        environment.put("server_jdk", Environment.jdkOf(java));
        environment.put("server_java", java);
        environment.put("pinned", false);
        String pinning = "not requested: server and load generator share every CPU";
        if (pin) {
            pinning = pinCpus();
        }
        environment.put("pinning", pinning);
        environment.put("generator_threads", threads > 0 ? threads : LoadSpec.defaultThreads());
        Map<String, Object> options = new LinkedHashMap<>();
        options.put("impls", impls);
        options.put("scenarios", scenarios);
        options.put("connections", connections);
        options.put("size", size);
        options.put("pipeline", pipelines);
        options.put("duration", Durations.format(duration));
        options.put("warmup", Durations.format(warmup));
        if (latencyFraction != null) {
            options.put("latency_fraction", latencyFraction);
        } else {
            options.put("rates", rates);
        }
        options.put("active", active);
        environment.put("options", options);
        environment.put("unavailable", unavailable);
        environment.put("failed", failed);
    }

    /** Server children on CPU 0, this process (every thread) on CPU 1. */
    private String pinCpus() throws IOException, InterruptedException {
        if (Runtime.getRuntime().availableProcessors() < 2) {
            return "requested but not done: fewer than 2 CPUs";
        }
        Path taskset = whichTaskset();
        if (taskset == null) {
            return "requested but not done: taskset not found";
        }
        Process p = new ProcessBuilder(taskset.toString(), "-a", "-cp", "1", Long.toString(ProcessHandle.current().pid()))
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() != 0) {
            return "requested but not done: taskset failed: " + output;
        }
        serverCpuPrefix = List.of(taskset.toString(), "-c", "0");
        environment.put("pinned", true);
        return "server JVMs on CPU 0 (taskset -c 0), load generator on CPU 1 (taskset -a -cp 1)";
    }

    private static Path whichTaskset() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(dir, "taskset");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    private void runImpl(String impl) throws Exception {
        for (String scenario : scenarios) {
            if (scenario.equals("connections")) {
                for (int n : connections) {
                    if (!withServer(impl, scenario, server -> heldConnections(impl, server, n))) {
                        return;
                    }
                }
            } else if (!withServer(impl, scenario, server -> runScenario(impl, scenario, server))) {
                return;
            }
        }
    }

    private interface ServerWork {
        void run(ServerProcess server) throws Exception;
    }

    /** Runs {@code work} against a fresh server; false if the impl cannot run, so the rest of it is skipped. */
    private boolean withServer(String impl, String scenario, ServerWork work) throws Exception {
        Path log = out.resolve("logs").resolve(impl + ".log");
        ServerProcess server;
        try {
            server = ServerProcess.start(java, System.getProperty("java.class.path"), impl, serverCpuPrefix,
                    speaksTls(impl) ? tlsServerArgs : List.of(), log);
        } catch (ServerProcess.UnavailableException e) {
            unavailable.put(impl, e.getMessage());
            skipRest(impl, "unavailable: " + e.getMessage());
            return false;
        } catch (IOException e) {
            failed.put(impl, e.getMessage());
            skipRest(impl, "failed to start: " + e.getMessage());
            return false;
        }
        try (server) {
            work.run(server);
        }
        return true;
    }

    private void skipRest(String impl, String why) {
        int remaining = (impls.indexOf(impl) + 1) * rowsPerImpl() - step;
        step += remaining;
        progress(impl + " " + why + "; skipping its " + remaining + " steps (" + (totalSteps - step) + " remain)");
    }

    private void runScenario(String impl, String scenario, ServerProcess server) throws Exception {
        for (int n : connections) {
            switch (scenario) {
                case "throughput" -> {
                    for (int depth : pipelines) {
                        LoadSpec spec = closedLoop(server, n, depth);
                        announce(impl, scenario, "connections=" + n + " pipeline=" + depth);
                        measure(impl, scenario, server, spec, null);
                    }
                }
                case "latency" -> {
                    List<Double> rowRates = latencyFraction == null ? rates
                            : List.of(Math.max(1, maxThroughput(impl, server, n) * latencyFraction));
                    for (double rate : rowRates) {
                        announce(impl, scenario, String.format(Locale.ROOT, "connections=%d rate=%,.0f msgs/s", n, rate));
                        measure(impl, scenario, server, closedLoop(server, n, 1).withRate(rate), null);
                    }
                }
                case "churn" -> {
                    announce(impl, scenario, "concurrency=" + n);
                    LoadSpec spec = LoadSpec.churn(server.address(), n, size, warmup, duration).withTls(server.tls());
                    measure(impl, scenario, server, threads > 0 ? spec.withIoThreads(threads) : spec, null);
                }
                default -> throw new IllegalStateException(scenario);
            }
        }
    }

    private void heldConnections(String impl, ServerProcess server, int n) throws Exception {
        announce(impl, "connections", "connections=" + n + " active=" + Math.min(active, n));
        ProcStats before = server.stats();
        LoadSpec spec = closedLoop(server, n, 1).withActiveConnections(Math.min(active, n));
        measure(impl, "connections", server, spec, before);
    }

    private LoadSpec closedLoop(ServerProcess server, int n, int depth) {
        LoadSpec spec = LoadSpec.closedLoop(server.address(), n, size, depth, warmup, duration).withTls(server.tls());
        return threads > 0 ? spec.withIoThreads(threads) : spec;
    }

    /**
     * The most msgs/s this impl reached at {@code n} connections in the throughput scenario
     * of this run, or, without one, in a short closed-loop probe at the deepest pipeline.
     */
    private double maxThroughput(String impl, ServerProcess server, int n) throws InterruptedException {
        double best = rows.stream()
                .filter(r -> r.impl().equals(impl) && r.scenario().equals("throughput") && r.connections() == n)
                .mapToDouble(ResultRow::msgsPerSec).max().orElse(0);
        if (best > 0) {
            return best;
        }
        int depth = pipelines.stream().mapToInt(Integer::intValue).max().orElse(1);
        Duration probeWarmup = warmup.compareTo(Duration.ofSeconds(1)) < 0 ? warmup : Duration.ofSeconds(1);
        Duration probeTime = duration.compareTo(Duration.ofSeconds(2)) < 0 ? duration : Duration.ofSeconds(2);
        progress(impl + ": probing max throughput at " + n + " connections, pipeline " + depth);
        LoadSpec probe = LoadSpec.closedLoop(server.address(), n, size, depth, probeWarmup, probeTime)
                .withProgress(false).withTls(server.tls());
        if (threads > 0) {
            probe = probe.withIoThreads(threads);
        }
        return new LoadGenerator(probe).run(LoadGenerator.PhaseListener.NONE).messagesPerSecond();
    }

    /** Runs one row, samples the server at the edges of the measured interval, records the row. */
    private void measure(String impl, String scenario, ServerProcess server, LoadSpec spec, ProcStats baseline)
            throws Exception {
        ProcStats[] samples = new ProcStats[2];
        LoadResult result = new LoadGenerator(spec).run(new LoadGenerator.PhaseListener() {
            @Override
            public void measurementStarted() {
                samples[0] = sampleQuietly(server);
            }

            @Override
            public void measurementEnded() {
                samples[1] = sampleQuietly(server);
            }
        });
        Long rss = samples[1] == null ? null : samples[1].rssBytes();
        Integer serverThreads = samples[1] == null ? null : samples[1].threads();
        Double cpu = samples[0] == null || samples[1] == null ? null : samples[1].cpuSecondsSince(samples[0]);
        Long perConnection = baseline == null || rss == null ? null : (rss - baseline.rssBytes()) / spec.connections();
        ResultRow row = ResultRow.of(impl, scenario, result, rss, serverThreads, cpu, perConnection);
        rows.add(row);
        System.err.println("compare: " + LoadCommand.summary(row));
        for (String e : result.errorSamples()) {
            System.err.println("compare:   error: " + e);
        }
        // Written after every row, so a run stopped half-way keeps what it measured.
        Reports.writeData(out, environment, rows);
    }

    private static ProcStats sampleQuietly(ServerProcess server) {
        try {
            return server.stats();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private void announce(String impl, String scenario, String setting) {
        step++;
        progress(String.format(Locale.ROOT, "step %d/%d (%d remain after this): %s %s %s",
                step, totalSteps, totalSteps - step, impl, scenario, setting));
    }

    private static void progress(String line) {
        System.err.println("compare: " + line);
    }
}
