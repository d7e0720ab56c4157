package io.selectloop.echo;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several demo processes on one port (SO_REUSEPORT), behind a real HAProxy sending PROXY
 * v2 headers, and restarted under load: the "Done means", end to end.
 */
class ScaleOutIT {
    private static final Path MIGRATE_REQ = Path.of("/proc/sys/net/ipv4/tcp_migrate_req");
    private static final Pattern SERVED = Pattern.compile("served (\\d+) connections");

    private static boolean migrateReqSetHere;

    @TempDir
    Path dir;

    /**
     * Closing a SO_REUSEPORT listener resets the connections still in its accept queue
     * unless net.ipv4.tcp_migrate_req moves them to another listener on the port. It is
     * per network namespace and only concerns SO_REUSEPORT listeners; .ci/run sets it too.
     * A test that cannot have it fails here, saying why, rather than flaking later.
     */
    @BeforeAll
    static void acceptQueuesMoveToTheNewProcess() throws IOException {
        if (!Files.readString(MIGRATE_REQ).trim().equals("1")) {
            try {
                Files.writeString(MIGRATE_REQ, "1");
                migrateReqSetHere = true;
            } catch (IOException e) {
                throw new AssertionError("net.ipv4.tcp_migrate_req is 0 and cannot be set here (" + e
                        + "): run `sysctl -w net.ipv4.tcp_migrate_req=1` as root (.ci/run does)", e);
            }
        }
    }

    /** What this class changed, it puts back (the machine may be shared). */
    @AfterAll
    static void restoreMigrateReq() throws IOException {
        if (migrateReqSetHere) {
            Files.writeString(MIGRATE_REQ, "0");
        }
    }

    @Test
    void twoDemosWithReusePortServeOnePortAndAThirdWithoutItIsRefused() throws Exception {
        try (DemoProcess first = DemoProcess.start("--port", "0", "--reuse-port")) {
            int port = first.awaitListening().getPort();
            try (DemoProcess second = DemoProcess.start("--port", String.valueOf(port), "--reuse-port");
                 DemoProcess third = DemoProcess.start("--port", String.valueOf(port))) {
                assertEquals(port, second.awaitListening().getPort());
                assertEquals(1, third.awaitExit(Duration.ofSeconds(60)), "a demo without --reuse-port cannot join");
                third.awaitOutputDrained();
                assertTrue(third.countStderr("cannot listen") > 0, String.join("\n", third.stderr));

                Random random = new Random(12);
                for (int i = 0; i < 40; i++) {
                    byte[] message = new byte[1000 + random.nextInt(4000)];
                    random.nextBytes(message);
                    try (Socket s = new Socket("127.0.0.1", port)) {
                        s.getOutputStream().write(message);
                        s.shutdownOutput();
                        assertArrayEquals(message, s.getInputStream().readAllBytes());
                    }
                }
                assertEquals(0, first.terminate());
                assertEquals(0, second.terminate());
                first.awaitOutputDrained();
                second.awaitOutputDrained();
                long a = served(first);
                long b = served(second);
                assertEquals(40, a + b);
                // The kernel hashes each connection's ports: 40 all on one side has odds of 2^-39.
                assertTrue(a > 0 && b > 0, "both processes served: " + a + " and " + b);
            }
        }
    }

    @Test
    void behindHaproxyTheGreetingCarriesTheClientsAddressAndEchoesSpreadOverBothBackendsIntact() throws Exception {
        try (DemoProcess b1 = DemoProcess.start("--port", "0", "--proxy-protocol", "required", "--greet");
             DemoProcess b2 = DemoProcess.start("--port", "0", "--proxy-protocol", "required", "--greet")) {
            int p1 = b1.awaitListening().getPort();
            int p2 = b2.awaitListening().getPort();
            try (Haproxy haproxy = Haproxy.start(dir, List.of(p1, p2))) {
                // A client on its own loopback address: HAProxy's side of the backend
                // connection is 127.0.0.1, so only the header can tell the backend this one.
                try (Socket s = new Socket()) {
                    s.bind(new InetSocketAddress("127.0.0.3", 0));
                    s.connect(haproxy.address());
                    assertEquals("hello 127.0.0.3:" + s.getLocalPort(), readLine(s.getInputStream()),
                            "haproxy log: " + haproxy.log());
                }

                List<Socket> clients = new ArrayList<>();
                try {
                    Random random = new Random(7);
                    for (int i = 0; i < 20; i++) {
                        Socket s = new Socket();
                        clients.add(s);
                        s.bind(new InetSocketAddress("127.0.0." + (10 + i), 0));
                        s.connect(haproxy.address());
                        assertEquals("hello 127.0.0." + (10 + i) + ":" + s.getLocalPort(), readLine(s.getInputStream()));
                    }
                    for (Socket s : clients) {
                        byte[] message = new byte[20_000 + random.nextInt(50_000)];
                        random.nextBytes(message);
                        s.getOutputStream().write(message);
                        assertArrayEquals(message, s.getInputStream().readNBytes(message.length));
                    }
                    Map<String, Long> sessions = haproxy.sessionsPerServer();
                    // 21 sessions round-robin: 11 and 10.
                    assertTrue(sessions.getOrDefault("s1", 0L) >= 10 && sessions.getOrDefault("s2", 0L) >= 10,
                            "sessions per backend: " + sessions);
                } finally {
                    for (Socket s : clients) {
                        s.close();
                    }
                }

                // The backends take nothing but a header: straight to one, a client is refused.
                try (Socket direct = new Socket("127.0.0.1", p1)) {
                    direct.getOutputStream().write("hi\n".getBytes(StandardCharsets.US_ASCII));
                    assertEquals(-1, direct.getInputStream().read(), "no greeting, no echo without a PROXY header");
                }
            }
        }
    }

    @Test
    void behindHaproxyWithAV1HeaderTheGreetingCarriesTheClientsAddressToo() throws Exception {
        try (DemoProcess backend = DemoProcess.start("--port", "0", "--proxy-protocol", "optional", "--greet",
                "--proxy-header-timeout", "0.5")) {
            int port = backend.awaitListening().getPort();
            try (Haproxy haproxy = Haproxy.start(dir, List.of(port), "send-proxy")) {
                try (Socket s = new Socket()) {
                    s.bind(new InetSocketAddress("127.0.0.4", 0));
                    s.connect(haproxy.address());
                    assertEquals("hello 127.0.0.4:" + s.getLocalPort(), readLine(s.getInputStream()));
                    s.getOutputStream().write("PROXY TCP4 6.6.6.6 6.6.6.6 6 6\r\nafter\n".getBytes(StandardCharsets.US_ASCII));
                    assertEquals("PROXY TCP4 6.6.6.6 6.6.6.6 6 6\r", readLine(s.getInputStream()),
                            "a second header is the client's data, echoed, not obeyed");
                }
            }
            try (Socket direct = new Socket("127.0.0.1", port)) {
                // Optional: a client that sends nothing is opened without a header at the
                // header timeout, and greeted as itself.
                assertEquals("hello 127.0.0.1:" + direct.getLocalPort(), readLine(direct.getInputStream()));
            }
        }
    }

    @Test
    void aRollingRestartOfBothBackendsBehindHaproxyUnderBenchLoadEndsWithNoErrors() throws Exception {
        String[] backend = {"--reuse-port", "--proxy-protocol", "required", "--shutdown-timeout", "20"};
        List<DemoProcess> running = new ArrayList<>();
        try {
            DemoProcess b1 = startWith(running, "--port", "0", backend);
            DemoProcess b2 = startWith(running, "--port", "0", backend);
            int[] ports = {b1.awaitListening().getPort(), b2.awaitListening().getPort()};
            try (Haproxy haproxy = Haproxy.start(dir, List.of(ports[0], ports[1]));
                 BenchLoad load = BenchLoad.start(dir, haproxy.address(), "30s")) {
                load.awaitMeasuring();
                DemoProcess[] old = {b1, b2};
                for (int i = 0; i < 2; i++) {
                    DemoProcess replacement = startWith(running, "--port", String.valueOf(ports[i]), backend);
                    assertEquals(ports[i], replacement.awaitListening().getPort());
                    assertEquals(0, old[i].terminate(), "old backend " + (i + 1) + ": " + old[i].stderr);
                    old[i].awaitOutputDrained();
                    assertTrue(served(old[i]) > 0, "the old backend had connections to finish");
                }
                assertTrue(load.isRunning(), "the load must still run after both restarts; lengthen its duration");
                BenchLoad.Report report = load.awaitReport();
                System.out.println("RESTART scenario=haproxy-rolling " + report.json());
                assertEquals(0, report.errors(), report.toString());
                assertTrue(report.reconnects() > 0, "the restarts closed live connections: " + report);
                assertTrue(report.messages() > 0, report.toString());
            }
        } finally {
            running.forEach(DemoProcess::close);
        }
    }

    @Test
    void aRestartWithReusePortUnderBenchLoadLosesNothing() throws Exception {
        List<DemoProcess> running = new ArrayList<>();
        try {
            DemoProcess old = startWith(running, "--port", "0", "--reuse-port", "--loops", "2", "--shutdown-timeout", "20");
            int port = old.awaitListening().getPort();
            try (BenchLoad load = BenchLoad.start(dir, new InetSocketAddress("127.0.0.1", port), "20s")) {
                load.awaitMeasuring();
                DemoProcess replacement = startWith(running, "--port", String.valueOf(port), "--reuse-port", "--loops", "2");
                replacement.awaitListening();
                assertEquals(0, old.terminate(), String.join("\n", old.stderr));
                assertTrue(load.isRunning(), "the load must still run after the restart; lengthen its duration");
                BenchLoad.Report report = load.awaitReport();
                System.out.println("RESTART scenario=reuse-port-direct " + report.json());
                assertEquals(0, report.errors(), report.toString());
                assertTrue(report.reconnects() > 0, "the old process's connections were finished: " + report);
                assertEquals(0, replacement.terminate());
                replacement.awaitOutputDrained();
                assertTrue(served(replacement) >= report.reconnects(), "the reconnects went to the new process");
            }
        } finally {
            running.forEach(DemoProcess::close);
        }
    }

    /**
     * Connections that arrive while the old process closes its listener: without
     * net.ipv4.tcp_migrate_req the ones in its accept queue are reset (docs/RELIABILITY.md
     * measured 33 and 38 resets over 5 restarts); with it they move to the new process.
     */
    @Test
    void aRestartWithReusePortUnderConnectionChurnRefusesAndResetsNobody() throws Exception {
        List<DemoProcess> running = new ArrayList<>();
        try {
            DemoProcess old = startWith(running, "--port", "0", "--reuse-port", "--shutdown-timeout", "20");
            int port = old.awaitListening().getPort();
            try (BenchLoad load = BenchLoad.start(dir, new InetSocketAddress("127.0.0.1", port),
                    List.of("--churn", "--connections", "32", "--size", "64", "--warmup", "1s", "--duration", "15s"))) {
                load.awaitMeasuring();
                for (int i = 0; i < 2; i++) {
                    DemoProcess replacement = startWith(running, "--port", String.valueOf(port), "--reuse-port",
                            "--shutdown-timeout", "20");
                    replacement.awaitListening();
                    assertEquals(0, old.terminate(), String.join("\n", old.stderr));
                    old = replacement;
                }
                assertTrue(load.isRunning(), "the load must still run after the restarts; lengthen its duration");
                BenchLoad.Report report = load.awaitReport();
                System.out.println("RESTART scenario=reuse-port-churn " + report.json());
                assertEquals(0, report.errors(), report.toString());
                assertTrue(report.messages() > 0, report.toString());
            }
        } finally {
            running.forEach(DemoProcess::close);
        }
    }

    @Test
    void badScaleOutOptionsAreRefusedWithAClearMessage() throws Exception {
        String[][] bad = {{"--proxy-protocol", "maybe"}, {"--proxy-header-timeout", "0"}, {"--group-accept", "random"}};
        for (String[] args : bad) {
            try (DemoProcess demo = DemoProcess.start("--port", "0", args[0], args[1])) {
                assertEquals(2, demo.awaitExit(Duration.ofSeconds(60)));
                demo.awaitOutputDrained();
                assertTrue(demo.countStderr(args[0]) > 0, String.join("\n", demo.stderr));
            }
        }
    }

    private static DemoProcess startWith(List<DemoProcess> running, String first, String second, String... rest)
            throws IOException {
        List<String> args = new ArrayList<>(List.of(first, second));
        args.addAll(List.of(rest));
        DemoProcess p = DemoProcess.start(args.toArray(new String[0]));
        running.add(p);
        return p;
    }

    private static long served(DemoProcess demo) {
        for (String line : demo.stderr) {
            Matcher m = SERVED.matcher(line);
            if (m.find()) {
                return Long.parseLong(m.group(1));
            }
        }
        throw new AssertionError("no 'served N connections' line: " + demo.stderr);
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int b; (b = in.read()) >= 0 && b != '\n'; ) {
            sb.append((char) b);
        }
        return sb.toString();
    }

    /** {@code java -jar bench.jar load --reconnect ...} against an address, its report parsed. */
    static final class BenchLoad implements AutoCloseable {
        private static final Pattern NUMBER = Pattern.compile("\"(errors|reconnects|messages|msgs_per_sec)\":([0-9.eE+-]+)");
        private final Process process;
        private final Path out;
        private final Path err;

        record Report(long errors, long reconnects, double messages, String json, String stderrTail) {
        }

        private BenchLoad(Process process, Path out, Path err) {
            this.process = process;
            this.out = out;
            this.err = err;
        }

        static BenchLoad start(Path dir, InetSocketAddress target, String duration) throws IOException {
            return start(dir, target, List.of("--connections", "64", "--size", "256", "--pipeline", "4",
                    "--warmup", "1s", "--duration", duration));
        }

        static BenchLoad start(Path dir, InetSocketAddress target, List<String> loadArgs) throws IOException {
            String jar = System.getProperty("benchJar");
            if (jar == null || !Files.exists(Path.of(jar))) {
                throw new IllegalStateException("bench jar not found (system property benchJar=" + jar + "): run mvn verify");
            }
            Path out = Files.createTempFile(dir, "load", ".json");
            Path err = Files.createTempFile(dir, "load", ".log");
            List<String> command = new ArrayList<>(List.of(DemoProcess.java(), "-jar", jar, "load", "--host",
                    target.getHostString(), "--port", String.valueOf(target.getPort()), "--reconnect", "--threads", "1"));
            command.addAll(loadArgs);
            Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            return new BenchLoad(p, out, err);
        }

        void awaitMeasuring() {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> !process.isAlive() || Files.readString(err).contains("load: measure"));
            assertTrue(process.isAlive(), "bench load ended early: " + readQuietly(err));
        }

        boolean isRunning() {
            return process.isAlive();
        }

        Report awaitReport() throws InterruptedException, IOException {
            assertTrue(process.waitFor(120, TimeUnit.SECONDS), "bench load did not finish");
            String json = Files.readString(out).trim();
            String log = readQuietly(err);
            long errors = -1;
            long reconnects = -1;
            double messages = -1;
            Matcher m = NUMBER.matcher(json);
            while (m.find()) {
                switch (m.group(1)) {
                    case "errors" -> errors = (long) Double.parseDouble(m.group(2));
                    case "reconnects" -> reconnects = (long) Double.parseDouble(m.group(2));
                    case "msgs_per_sec" -> messages = Double.parseDouble(m.group(2));
                    default -> { }
                }
            }
            String tail = log.length() > 3000 ? log.substring(log.length() - 3000) : log;
            assertNotEquals(-1, errors, "no report from bench load: " + json + "\n" + tail);
            return new Report(errors, reconnects, messages, json, tail);
        }

        private static String readQuietly(Path p) {
            try {
                return Files.readString(p);
            } catch (IOException e) {
                return "(unreadable: " + e + ")";
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }
}
