package io.selectloop.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/** Writes {@code results.json}, {@code results.csv} and {@code report.md} for a set of rows. */
final class Reports {
    private Reports() {
    }

    static void writeData(Path dir, Map<String, Object> environment, List<ResultRow> rows) throws IOException {
        Files.createDirectories(dir);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("environment", environment);
        json.put("results", rows.stream().map(ResultRow::toMap).toList());
        Files.writeString(dir.resolve("results.json"), Json.writePretty(json), StandardCharsets.UTF_8);

        StringBuilder csv = new StringBuilder(String.join(",", ResultRow.COLUMNS)).append('\n');
        for (ResultRow r : rows) {
            List<String> cells = new ArrayList<>();
            for (Object v : r.toMap().values()) {
                cells.add(v == null ? "" : v instanceof Double d ? formatNumber(d) : v.toString());
            }
            csv.append(String.join(",", cells)).append('\n');
        }
        Files.writeString(dir.resolve("results.csv"), csv, StandardCharsets.UTF_8);
    }

    private static String formatNumber(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    static void writeMarkdown(Path dir, Map<String, Object> environment, List<ResultRow> rows, List<Path> charts)
            throws IOException {
        StringBuilder md = new StringBuilder("# selectloop bench report\n\n");
        md.append("## Environment\n\n");
        for (Map.Entry<String, Object> e : environment.entrySet()) {
            Object v = e.getValue();
            md.append("- **").append(e.getKey()).append("**: ").append(v instanceof String ? v : Json.write(v)).append('\n');
        }
        Set<String> scenarios = new LinkedHashSet<>();
        rows.forEach(r -> scenarios.add(r.scenario()));
        for (String scenario : scenarios) {
            md.append("\n## ").append(scenario).append("\n\n").append(describe(scenario)).append("\n\n");
            table(md, scenario, rows.stream().filter(r -> r.scenario().equals(scenario)).toList());
        }
        if (!charts.isEmpty()) {
            md.append("\n## Charts\n\n");
            for (Path chart : charts) {
                md.append("![").append(chart.getFileName()).append("](").append(chart.getFileName()).append(")\n");
            }
        }
        md.append("\nColumns are explained in bench/README.md. \"× reactor\" is this row's figure divided by the "
                + "reactor's for the same setting (reactor-tls's for a -tls row): above 1 means more msgs/s, or more "
                + "latency, or more memory, than selectloop. \"× c-epoll\" divides by the C epoll server's figure, the "
                + "physical limit of this machine: how far each impl is from what the hardware and kernel can do.\n");
        Files.writeString(dir.resolve("report.md"), md, StandardCharsets.UTF_8);
    }

    /** An open-loop row that reached less than this share of its rate was saturated. */
    static final double BELOW_RATE = 0.95;

    private static String describe(String scenario) {
        return switch (scenario) {
            case "throughput" -> "Closed loop: every connection keeps `pipeline` messages in flight; latency is send → full echo.";
            case "latency" -> "Open loop at a fixed rate (`rate`: the same for every impl, or with --latency-fraction a "
                    + "fraction of each impl's own maximum); latency from each message's intended send time (coordinated "
                    + "omission corrected). \"below rate\" marks a row that did not reach 95 % of its rate: the server, "
                    + "or the load generator (see its CPU s), was saturated, and its latency measures a queue, not the server. "
                    + "`send lag p99` is how late the generator itself sent messages after their intended time, a part of "
                    + "every latency: where it comes near p99, the generator set the tail, not the server.";
            case "connections" -> "N connections held open, only `active_connections` of them sending (closed loop, "
                    + "pipeline 1). p99 is the active connections'; RSS/conn is (RSS holding them − RSS before connecting) / N.";
            case "churn" -> "`connections` concurrent cycles of connect, echo one message, close. msgs/s is completed "
                    + "cycles (connections) per second; latency is connect start → echo received. For a -tls impl each "
                    + "cycle is one full TLS handshake, so conn/s is handshakes/s.";
            default -> "";
        };
    }

    private static void table(StringBuilder md, String scenario, List<ResultRow> rows) {
        boolean held = scenario.equals("connections");
        boolean open = scenario.equals("latency");
        md.append("| impl | connections | pipeline |").append(open ? " rate |" : "")
                .append(scenario.equals("churn") ? " conn/s |" : " msgs/s |")
                .append(" × reactor | × c-epoll | p50 µs | p99 µs | × reactor | × c-epoll | p99.9 µs | max µs | errors | RSS MiB | × reactor |")
                .append(held ? " RSS/conn KiB | × reactor |" : "")
                .append(" threads | CPU s | generator CPU s |").append(open ? " send lag p99 µs |" : "").append('\n');
        int columns = 18 + (open ? 2 : 0) + (held ? 2 : 0);
        md.append("|").append(" --- |".repeat(columns)).append('\n');
        List<ResultRow> sorted = new ArrayList<>(rows);
        sorted.sort((a, b) -> a.connections() != b.connections() ? Integer.compare(a.connections(), b.connections())
                : a.pipeline() != b.pipeline() ? Integer.compare(a.pipeline(), b.pipeline()) : 0);
        for (ResultRow r : sorted) {
            // TLS rows are compared with reactor-tls, plain ones with reactor; every row with c-epoll.
            String baseline = r.impl().endsWith(ServerImpls.TLS_SUFFIX) ? "reactor" + ServerImpls.TLS_SUFFIX : "reactor";
            ResultRow reactor = sameSetting(rows, baseline, r);
            ResultRow limit = sameSetting(rows, CEpollEchoServer.NAME, r);
            md.append("| ").append(r.impl()).append(" | ").append(r.connections()).append(" | ").append(r.pipeline()).append(" | ");
            if (open) {
                md.append(String.format(Locale.ROOT, "%,.0f", r.rate())).append(" | ");
            }
            md.append(String.format(Locale.ROOT, "%,.0f", r.msgsPerSec()))
                    .append(open && r.msgsPerSec() < BELOW_RATE * r.rate() ? " (below rate)" : "").append(" | ")
                    .append(ratio(r.msgsPerSec(), reactor == null ? null : reactor.msgsPerSec())).append(" | ")
                    .append(ratio(r.msgsPerSec(), limit == null ? null : limit.msgsPerSec())).append(" | ")
                    .append(num(r.p50Us())).append(" | ").append(num(r.p99Us())).append(" | ")
                    .append(ratio(r.p99Us(), reactor == null ? null : reactor.p99Us())).append(" | ")
                    .append(ratio(r.p99Us(), limit == null ? null : limit.p99Us())).append(" | ")
                    .append(num(r.p999Us())).append(" | ").append(num(r.maxUs())).append(" | ")
                    .append(r.errors()).append(" | ")
                    .append(r.serverRssBytes() == null ? "" : num(r.serverRssBytes() / 1048576.0)).append(" | ")
                    .append(ratio(r.serverRssBytes(), reactor == null ? null : reactor.serverRssBytes())).append(" | ");
            if (held) {
                md.append(r.rssPerConnectionBytes() == null ? "" : num(r.rssPerConnectionBytes() / 1024.0)).append(" | ")
                        .append(ratio(r.rssPerConnectionBytes(), reactor == null ? null : reactor.rssPerConnectionBytes()))
                        .append(" | ");
            }
            md.append(Objects.toString(r.serverThreads(), "")).append(" | ")
                    .append(r.serverCpuS() == null ? "" : num(r.serverCpuS())).append(" | ")
                    .append(r.generatorCpuS() == null ? "" : num(r.generatorCpuS())).append(" |");
            if (open) {
                md.append(r.sendLagP99Us() == null ? "" : num(r.sendLagP99Us())).append(" |");
            }
            md.append('\n');
        }
    }

    /**
     * The row of {@code impl} for the same setting as {@code r}: same connections and
     * pipeline, and the same rate if {@code impl} has a row at that rate (with
     * --latency-fraction each impl has its own rate, and the nearest comparison is the row
     * at the same connection count).
     */
    private static ResultRow sameSetting(List<ResultRow> rows, String impl, ResultRow r) {
        List<ResultRow> candidates = rows.stream().filter(x -> x.impl().equals(impl) && x.connections() == r.connections()
                && x.pipeline() == r.pipeline()).toList();
        return candidates.stream().filter(x -> x.rate() == r.rate()).findFirst()
                .orElse(candidates.size() == 1 ? candidates.get(0) : null);
    }

    private static String ratio(Number value, Number reactor) {
        if (value == null || reactor == null || reactor.doubleValue() <= 0) {
            return "";
        }
        return String.format(Locale.ROOT, "%.2f", value.doubleValue() / reactor.doubleValue());
    }

    private static String num(double d) {
        return d >= 100 ? String.format(Locale.ROOT, "%,.0f", d) : String.format(Locale.ROOT, "%.1f", d);
    }
}
