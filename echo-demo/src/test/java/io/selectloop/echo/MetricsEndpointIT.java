package io.selectloop.echo;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The demo's {@code --metrics-port}: scraped with curl, parsed with the Prometheus client's
 * own parser (Debian's python3-prometheus-client), and poked with malformed requests.
 */
class MetricsEndpointIT {
    /** Debian's interpreter, where python3-prometheus-client installs (not a pyenv one on PATH). */
    private static final String PYTHON = "/usr/bin/python3";
    private static final String PARSE = String.join("\n",
            "import sys",
            "from prometheus_client.parser import text_string_to_metric_families",
            "for family in text_string_to_metric_families(sys.stdin.read()):",
            "    for s in family.samples:",
            "        labels = ','.join(k + '=' + v for k, v in sorted(s.labels.items()))",
            "        print(family.type, s.name, labels, repr(float(s.value)))");

    private static URI awaitMetricsUri(DemoProcess demo) {
        // (callers read the listening line first, or ignore it: the metrics line comes after it either way)
        await().atMost(Duration.ofSeconds(60)).until(() -> demo.stdout.stream().anyMatch(l -> l.startsWith("metrics on ")));
        String line = demo.stdout.stream().filter(l -> l.startsWith("metrics on ")).findFirst().orElseThrow();
        return URI.create(line.substring("metrics on ".length()).trim());
    }

    private static String run(String input, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(input.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command) + " did not finish");
        assertEquals(0, p.exitValue(), String.join(" ", command) + " failed: " + out);
        return out;
    }

    private static String curl(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "--max-time", "60"));
        command.addAll(List.of(args));
        return run("", command.toArray(new String[0]));
    }

    /** Sample ("name{labels}") to value, as the Prometheus parser read them; fails on anything it rejects. */
    private static Map<String, Double> parse(String exposition) throws IOException, InterruptedException {
        Map<String, Double> samples = new HashMap<>();
        for (String line : run(exposition, PYTHON, "-c", PARSE).split("\n")) {
            String[] f = line.split(" ");
            assertEquals(4, f.length, line);
            assertTrue(f[1].startsWith("selectloop_"), "named selectloop_*: " + line);
            assertTrue(f[2].contains("loop=echo-loop-"), "every sample has its loop label: " + line);
            if (f[0].equals("counter")) {
                assertTrue(f[1].endsWith("_total"), "a counter ends in _total: " + line);
            }
            samples.put(f[1] + "{" + f[2] + "}", Double.parseDouble(f[3]));
        }
        return samples;
    }

    /** Echoes {@code bytes} bytes over a fresh connection and closes it. */
    private static void echo(URI server, int bytes) throws IOException {
        try (Socket s = new Socket(server.getHost(), server.getPort())) {
            s.getOutputStream().write(new byte[bytes]);
            s.getInputStream().readNBytes(bytes);
        }
    }

    @Test
    void curlScrapesCountersThatMoveAndThePrometheusParserAcceptsThem() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--loops", "2", "--metrics-port", "0")) {
            URI server = demo.awaitListening();
            URI metrics = awaitMetricsUri(demo);
            int listening = demo.stdout.indexOf("listening on " + server);
            assertTrue(demo.stdout.indexOf("metrics on " + metrics) > listening, "after the listening lines: " + demo.stdout);
            for (int i = 0; i < 4; i++) {
                echo(server, 100_000);
            }
            Map<String, Double> first = parse(curl(metrics.toString()));
            for (String loop : List.of("loop=echo-loop-0", "loop=echo-loop-1")) {
                for (String name : List.of("selectloop_connections_open", "selectloop_connections_accepted_total",
                        "selectloop_bytes_read_total", "selectloop_bytes_written_total", "selectloop_loop_busy_ratio",
                        "selectloop_memory_budget_used_bytes", "selectloop_loop_blocked_total")) {
                    assertTrue(first.containsKey(name + "{" + loop + "}"), name + " for " + loop + " in " + first.keySet());
                }
                double ratio = first.get("selectloop_loop_busy_ratio{" + loop + "}");
                assertTrue(ratio >= 0 && ratio <= 1, "busy ratio " + ratio);
            }
            assertTrue(first.containsKey("selectloop_connections_closed_total{cause=peer,loop=echo-loop-0}"), first.keySet().toString());
            double read = sum(first, "selectloop_bytes_read_total");
            assertTrue(read >= 400_000, "echoed bytes are counted: " + read);

            for (int i = 0; i < 4; i++) {
                echo(server, 50_000);
            }
            // The counters move between scrapes: by at least what was echoed in between.
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                Map<String, Double> second = parse(curl(metrics.toString()));
                assertTrue(sum(second, "selectloop_bytes_read_total") >= read + 200_000);
                assertTrue(sum(second, "selectloop_bytes_written_total") >= sum(first, "selectloop_bytes_written_total") + 200_000);
                assertTrue(sum(second, "selectloop_connections_accepted_total")
                        >= sum(first, "selectloop_connections_accepted_total") + 4);
            });
        }
    }

    private static double sum(Map<String, Double> samples, String name) {
        return samples.entrySet().stream().filter(e -> e.getKey().startsWith(name + "{"))
                .mapToDouble(Map.Entry::getValue).sum();
    }

    @Test
    void onlyGetAndHeadOfMetricsAreServed() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--metrics-port", "0")) {
            URI metrics = awaitMetricsUri(demo);
            String base = "http://" + metrics.getHost() + ":" + metrics.getPort();
            assertEquals("404", curl("-o", "/dev/null", "-w", "%{http_code}", base + "/"));
            assertEquals("404", curl("-o", "/dev/null", "-w", "%{http_code}", base + "/metrics/extra"));
            assertEquals("405", curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", metrics.toString()));
            String head = curl("-I", metrics.toString());
            assertTrue(head.startsWith("HTTP/1.1 200 OK"), head);
            assertTrue(head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"), head);
            // Two requests on one kept-alive connection (curl reuses it, and says so with -w).
            String twice = curl("-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} ", metrics.toString(),
                    metrics.toString());
            assertEquals("1 0 ", twice, "the second request reused the connection");
        }
    }

    @Test
    void malformedRequestsAreAnsweredAndTheirConnectionClosedWhileOthersAreServed() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--metrics-port", "0")) {
            URI metrics = awaitMetricsUri(demo);
            assertTrue(exchange(metrics, "NOT AN HTTP REQUEST\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n")
                    .startsWith("HTTP/1.1 400 Bad Request"));
            String bad = exchange(metrics, "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n");
            assertTrue(bad.startsWith("HTTP/1.1 400 Bad Request") && !bad.contains("200 OK"), bad);
            String tooLong = exchange(metrics, "GET /metrics HTTP/1.1\r\nX-Long: " + "a".repeat(20_000) + "\r\n\r\n");
            assertTrue(tooLong.startsWith("HTTP/1.1 431"), tooLong);
            String body = exchange(metrics, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
            assertTrue(body.startsWith("HTTP/1.1 400"), "a request with a body: " + body);
            assertTrue(curl(metrics.toString()).contains("selectloop_connections_open"), "others are still served");
        }
    }

    @Test
    void aScraperThatNeverFinishesItsRequestIsCutOffAtTheDeadline() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--metrics-port", "0")) {
            URI metrics = awaitMetricsUri(demo);
            try (Socket s = new Socket(metrics.getHost(), metrics.getPort())) {
                s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
                s.setSoTimeout(60_000);
                long start = System.nanoTime();
                assertEquals("", readAll(s.getInputStream()), "closed without an answer");
                assertTrue(System.nanoTime() - start >= MetricsEndpoint.REQUEST_DEADLINE.toNanos() / 2,
                        "not before its deadline");
            }
        }
    }

    @Test
    void scrapersPastTheConnectionLimitAreToldBusy() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--metrics-port", "0")) {
            URI metrics = awaitMetricsUri(demo);
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < MetricsEndpoint.MAX_CONNECTIONS; i++) {
                    idle.add(new Socket(metrics.getHost(), metrics.getPort()));
                }
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                    try (Socket extra = new Socket(metrics.getHost(), metrics.getPort())) {
                        extra.setSoTimeout(60_000);
                        assertTrue(readAll(extra.getInputStream()).startsWith("HTTP/1.1 503"));
                    }
                });
            } finally {
                for (Socket s : idle) {
                    s.close();
                }
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> {
                try {
                    return curl(metrics.toString()).contains("selectloop_connections_open");
                } catch (AssertionError stillFull) {
                    return false;
                }
            });
        }
    }

    /**
     * 64 KiB of pipelined requests, each answered with several KiB, from a peer that never
     * reads: an amplifier. The connection is reset once its unread answers pass the bound,
     * so it never gets near the megabytes it asked for.
     */
    @Test
    void aPeerPipeliningRequestsWithoutReadingIsResetNotAmplified() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--metrics-port", "0")) {
            URI metrics = awaitMetricsUri(demo);
            byte[] request = "GET /metrics HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
            int requests = 64 * 1024 / request.length;
            java.io.ByteArrayOutputStream pipelined = new java.io.ByteArrayOutputStream();
            for (int i = 0; i < requests; i++) {
                pipelined.write(request);
            }
            int answerSize = curl(metrics.toString()).length();
            long received = 0;
            try (Socket s = new Socket()) {
                s.setReceiveBufferSize(4096); // small, so answers back up on the server at once
                s.connect(new java.net.InetSocketAddress(metrics.getHost(), metrics.getPort()));
                s.setSoTimeout(60_000);
                s.getOutputStream().write(pipelined.toByteArray());
                // Only now read: what the server sent before it gave up, then the end.
                InputStream in = s.getInputStream();
                byte[] buffer = new byte[65536];
                try {
                    int n;
                    while ((n = in.read(buffer)) >= 0) {
                        received += n;
                    }
                } catch (java.net.SocketException reset) {
                    // the reset: expected
                }
            } catch (java.net.SocketException resetWhileSending) {
                // reset before all the requests were even sent: also the end
            }
            long askedFor = (long) requests * answerSize;
            assertTrue(received < askedFor / 4, "got " + received + " bytes of the " + askedFor + " asked for");
            assertTrue(curl(metrics.toString()).contains("selectloop_connections_open"), "others are still served");
        }
    }

    @Test
    void statsPrintsOneLineOfTheSameNumbersPeriodically() throws Exception {
        try (DemoProcess demo = DemoProcess.start("--port", "0", "--stats", "0.2")) {
            URI server = demo.awaitListening();
            echo(server, 1234);
            await().atMost(Duration.ofSeconds(60)).until(() -> demo.stderr.stream()
                    .anyMatch(l -> l.startsWith("stats: [echo-loop-0 open=0 accepted=1 closed=1 read=1234B written=1234B busy=")));
            await().atMost(Duration.ofSeconds(60)).until(() -> demo.countStderr("stats: [echo-loop-0 ") >= 3);
        }
    }

    private static String exchange(URI endpoint, String request) throws IOException {
        try (Socket s = new Socket(endpoint.getHost(), endpoint.getPort())) {
            s.setSoTimeout(60_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            return readAll(s.getInputStream());
        }
    }

    /** Everything until the server closes (a reset after the answer counts as the end). */
    private static String readAll(InputStream in) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
            }
        } catch (java.net.SocketException reset) {
            // closed with unread input on the server's side: what came before is the answer
        }
        return out.toString(StandardCharsets.ISO_8859_1);
    }
}
