package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench compare} end to end with tiny settings: every built-in server and the
 * corrupting one run as child JVMs through every scenario.
 */
class CompareSmokeTest {
    private static final boolean VIRTUAL_THREADS = Runtime.version().feature() >= 21;

    @Test
    void comparesEveryAvailableImplAndCatchesTheCorruptingOne(@TempDir Path out) throws Exception {
        int status = Bench.run("compare",
                "--impls", "reactor,threads,virtual,netty-nio,netty-epoll,c-epoll,corrupting",
                "--scenarios", "throughput,latency,connections,churn",
                "--connections", "4,24", "--pipeline", "4", "--size", "64", "--active", "2", "--rates", "1000,3000",
                "--duration", "500ms", "--warmup", "200ms", "--out", out.toString());
        assertEquals(0, status);

        for (String file : List.of("results.json", "results.csv", "report.md",
                "throughput-vs-connections.png", "p99-vs-connections.png", "rss-vs-connections.png")) {
            assertTrue(Files.size(out.resolve(file)) > 0, file + " is missing or empty");
        }

        List<Map<String, String>> rows = readCsv(out.resolve("results.csv"));
        List<String> expectedImpls = new ArrayList<>(List.of("reactor", "threads", "netty-nio", "netty-epoll", "c-epoll", "corrupting"));
        if (VIRTUAL_THREADS) {
            expectedImpls.add("virtual");
        }
        for (String impl : expectedImpls) {
            // throughput 2, latency 2 × 2 rates, connections 2, churn 2
            assertEquals(10, rows.stream().filter(r -> r.get("impl").equals(impl)).count(), impl + " rows");
            // every impl runs the latency scenario at the same fixed rates (issue 14), not a share of its own max
            assertEquals(List.of(1000.0, 1000.0, 3000.0, 3000.0), rows.stream()
                    .filter(r -> r.get("impl").equals(impl) && r.get("scenario").equals("latency"))
                    .map(r -> Double.parseDouble(r.get("rate"))).sorted().toList(), impl + " latency rates");
        }
        for (Map<String, String> row : rows) {
            String what = row.get("impl") + " " + row.get("scenario") + " " + row.get("connections");
            assertTrue(Double.parseDouble(row.get("msgs_per_sec")) > 0, what + ": no messages");
            assertTrue(Long.parseLong(row.get("server_rss_bytes")) > 0, what + ": no RSS");
            assertTrue(Integer.parseInt(row.get("server_threads")) > 0, what + ": no thread count");
            long errors = Long.parseLong(row.get("errors"));
            if (row.get("impl").equals("corrupting")) {
                assertTrue(errors > 0, what + ": the corrupting server was not caught");
            } else {
                assertEquals(0, errors, what + ": errors");
            }
        }
        // the generator's own send lag is reported for every open-loop row, and only there
        assertTrue(rows.stream().allMatch(r -> r.get("scenario").equals("latency") != r.get("send_lag_p99_us").isEmpty()),
                "send_lag_p99_us exactly on latency rows");
        assertTrue(rows.stream().filter(r -> r.get("scenario").equals("connections"))
                .allMatch(r -> !r.get("rss_per_connection_bytes").isEmpty()), "RSS per connection");

        String json = Files.readString(out.resolve("results.json"));
        boolean virtualReportedUnavailable = Pattern.compile("\"unavailable\": \\{[^}]*\"virtual\"", Pattern.DOTALL)
                .matcher(json).find();
        assertEquals(!VIRTUAL_THREADS, virtualReportedUnavailable, "virtual availability on JDK " + Runtime.version());
        assertTrue(json.contains("\"kernel\"") && json.contains("\"server_jdk\"") && json.contains("\"pinned\": false"));

        String report = Files.readString(out.resolve("report.md"));
        for (String section : List.of("## throughput", "## latency", "## connections", "## churn", "× reactor", "× c-epoll", "| c-epoll |")) {
            assertTrue(report.contains(section), "report lacks " + section);
        }
        assertFalse(report.contains("| virtual |") && !VIRTUAL_THREADS);
    }

    /** {@code compare --tls}: the -tls variants, one key for all, the generator speaking TLS to each. */
    @Test
    void comparesTheTlsImpls(@TempDir Path out) throws Exception {
        int status = Bench.run("compare", "--tls", "--impls", "reactor,threads,netty-nio",
                "--scenarios", "throughput,churn", "--connections", "4,24", "--pipeline", "4", "--size", "64",
                // longer than the plain run's: a fresh server JVM's first handshakes are slow (see TlsLoadTest)
                "--duration", "1s", "--warmup", "1s", "--out", out.toString());
        assertEquals(0, status);

        List<Map<String, String>> rows = readCsv(out.resolve("results.csv"));
        for (String impl : List.of("reactor-tls", "threads-tls", "netty-nio-tls")) {
            // throughput 2, churn 2
            assertEquals(4, rows.stream().filter(r -> r.get("impl").equals(impl)).count(), impl + " rows");
        }
        assertEquals(12, rows.size());
        for (Map<String, String> row : rows) {
            String what = row.get("impl") + " " + row.get("scenario") + " " + row.get("connections");
            assertTrue(Double.parseDouble(row.get("msgs_per_sec")) > 0, what + ": no messages");
            assertEquals(0, Long.parseLong(row.get("errors")), what + ": errors");
            assertTrue(Double.parseDouble(row.get("generator_cpu_s")) > 0, what + ": no generator CPU");
        }
        String json = Files.readString(out.resolve("results.json"));
        assertTrue(json.contains("\"tls\": \"TLSv1.3 TLS_AES_128_GCM_SHA256"), "environment lacks the TLS settings");
        // the key made for the run is gone with it
        assertFalse(Files.readString(out.resolve("logs").resolve("reactor-tls.log")).isEmpty());
        String keyStoreArg = Files.readAllLines(out.resolve("logs").resolve("reactor-tls.log")).get(0)
                .replaceFirst(".*--tls-keystore (\\S+).*", "$1");
        assertTrue(keyStoreArg.endsWith("bench-server.p12"), keyStoreArg);
        assertFalse(Files.exists(Path.of(keyStoreArg)), "the run's key was left behind: " + keyStoreArg);
    }

    private static List<Map<String, String>> readCsv(Path csv) throws Exception {
        List<String> lines = Files.readAllLines(csv);
        String[] header = lines.get(0).split(",", -1);
        List<Map<String, String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",", -1);
            Map<String, String> row = new HashMap<>();
            for (int i = 0; i < header.length; i++) {
                row.put(header[i], cells[i]);
            }
            rows.add(row);
        }
        return rows;
    }
}
